"""Build the configured embedders, once per process."""

from __future__ import annotations

import functools
import logging

from index.config import EmbedSettings
from index.embedders.base import ImageEmbedder, TextEmbedder, pick_device

log = logging.getLogger(__name__)


@functools.cache
def _text(
    model: str,
    backend: str,
    device: str,
    batch: int,
    qp: str | None,
    pp: str | None,
    threads: int | None,
) -> TextEmbedder:
    from index.embedders.sentence import SentenceEmbedder

    if backend == "onnx" or (backend == "auto" and pick_device(device) == "cpu"):
        try:
            from index.embedders.onnx import OnnxEmbedder

            return OnnxEmbedder(model, threads=threads, query_prefix=qp, passage_prefix=pp)
        except Exception as exc:
            if backend == "onnx":
                raise
            log.warning("ONNX backend unavailable for %s (%s); using torch", model, exc)
    return SentenceEmbedder(
        model, device=device, batch_size=batch, query_prefix=qp, passage_prefix=pp
    )


@functools.cache
def _clip(model: str, pretrained: str | None, device: str, batch: int) -> ImageEmbedder:
    from index.embedders.clip import OpenClipEmbedder

    return OpenClipEmbedder(model, pretrained or None, device=device, batch_size=batch)


def text_embedder(s: EmbedSettings) -> TextEmbedder:
    """The passage-retrieval model (sentence-transformers, run by torch or ONNX Runtime)."""
    _threads(s.threads)
    return _text(
        s.text_model,
        s.text_backend,
        s.device,
        s.batch_size,
        s.query_prefix,
        s.passage_prefix,
        s.threads,
    )


def clip_embedder(s: EmbedSettings) -> ImageEmbedder:
    """The shared image-text model (open_clip)."""
    _threads(s.threads)
    return _clip(s.clip_model, s.clip_pretrained, s.device, s.batch_size)


def _threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)
