"""Cross-encoder reranking (sentence-transformers ``CrossEncoder``).

When the configured model cannot be loaded (no model hub, wrong path), search goes on without
reranking: a warning is logged once per process and model, and the results say so.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Protocol

import numpy as np

import retrieval.tiny_reranker  # noqa: F401 - registers builtin:tiny-reranker
from ingest.models import check_hub_model, resolve_model
from retrieval.config import RerankSettings

log = logging.getLogger(__name__)


class Reranker(Protocol):
    name: str

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        """Relevance of each passage to the query, in [0, 1], higher is better."""
        ...


class CrossEncoderReranker:
    def __init__(self, model: str, *, device: str, max_length: int, batch_size: int) -> None:
        from sentence_transformers import CrossEncoder

        from index.embedders.base import pick_device

        self.name = model
        self.batch_size = batch_size
        check_hub_model(model)
        self.model = CrossEncoder(
            resolve_model(model), device=pick_device(device), max_length=max_length
        )

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0, dtype=np.float32)
        import torch

        scores = self.model.predict(
            [(query, p) for p in passages],
            batch_size=self.batch_size,
            activation_fn=torch.nn.Sigmoid(),
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(scores, dtype=np.float32).reshape(-1)


@functools.cache
def _load(model: str, device: str, max_length: int, batch_size: int) -> Reranker | None:
    try:
        return CrossEncoderReranker(
            model, device=device, max_length=max_length, batch_size=batch_size
        )
    except Exception as exc:  # noqa: BLE001 - any load failure: search without reranking
        log.warning(
            "reranker %r is unavailable (%s: %s); results are not reranked",
            model,
            type(exc).__name__,
            str(exc).splitlines()[0][:200] if str(exc) else "",
        )
        return None


def load_reranker(settings: RerankSettings) -> Reranker | None:
    """The configured reranker, loaded once per process; None when it cannot be loaded."""
    return _load(settings.model, settings.device, settings.max_length, settings.batch_size)
