"""CLIP-style image-text embeddings through open_clip (pretrained names, local files, builtins)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from index.embedders.base import ModelIdentity, TextKind, pick_device, torch_threads_for

_LOCAL_DIR = "local-dir:"
_CONFIG_FILE = "open_clip_config.json"


@dataclass(frozen=True, slots=True)
class _Loaded:
    model: Any  # open_clip.model.CLIP (or a subclass)
    preprocess: Callable[[Image.Image], Any]
    tokenizer: Callable[[list[str]], Any]
    input_dtype: Any  # torch dtype the image tower expects
    image_size: int
    dim: int


_cache: dict[tuple[str, str | None, str, str], _Loaded] = {}
_cache_lock = threading.Lock()


def resolve_spec(model: str, pretrained: str | None = None) -> tuple[str, str | None]:
    """Map a configured model/pretrained pair to what ``open_clip.create_model`` accepts.

    ``builtin:NAME`` goes through :func:`ingest.models.resolve_model`; a bare folder holding an
    ``open_clip_config.json`` becomes ``local-dir:FOLDER``; ``~`` is expanded in paths.
    """
    import index.tiny_clip  # noqa: F401  (registers builtin:tiny-clip)
    from ingest.models import is_builtin, resolve_model

    if is_builtin(model):
        model = resolve_model(model)
    if model.startswith(_LOCAL_DIR):
        model = _LOCAL_DIR + os.path.expanduser(model[len(_LOCAL_DIR) :])
    elif model.startswith(("~", ".", "/")) and (Path(model).expanduser() / _CONFIG_FILE).is_file():
        model = _LOCAL_DIR + str(Path(model).expanduser())
    if pretrained and pretrained.startswith(("~", ".", "/")):
        pretrained = os.path.expanduser(pretrained)
    return model, pretrained


def _load(model: str, pretrained: str | None, device: str, precision: str) -> _Loaded:
    key = (model, pretrained, device, precision)
    with _cache_lock:  # one load per process and spec, also under concurrent first use
        if key not in _cache:
            import open_clip
            import torch

            net, _, preprocess = open_clip.create_model_and_transforms(
                model, pretrained=pretrained, device=device, precision=precision
            )
            net.eval()
            size = open_clip.get_model_preprocess_cfg(net)["size"]
            with torch.inference_mode():
                probe = net.encode_text(open_clip.get_tokenizer(model)([""]).to(device))
            _cache[key] = _Loaded(
                model=net,
                preprocess=preprocess,
                tokenizer=open_clip.get_tokenizer(model),
                input_dtype=open_clip.get_input_dtype(precision) or torch.float32,
                image_size=int(size[0] if isinstance(size, (tuple, list)) else size),
                dim=int(probe.shape[-1]),
            )
        return _cache[key]


def load_image(image: Path | str | Image.Image, draft_size: int | None = None) -> Image.Image:
    """Open an image as RGB (first frame of animations; alpha flattened onto white).

    Raises ``ValueError`` naming the file when it cannot be decoded.
    """
    if isinstance(image, Image.Image):
        return _to_rgb(image)
    path = Path(image)
    try:
        with Image.open(path) as img:
            if draft_size:  # JPEG: decode at reduced scale, far faster for big photos
                img.draft("RGB", (draft_size, draft_size))
            img.seek(0)
            img.load()
            return _to_rgb(ImageOps.exif_transpose(img) or img)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError(f"cannot read image {path}: {exc}") from exc


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")


class OpenClipEmbedder:
    """Texts and images in one space via an open_clip model.

    ``model`` is an open_clip name (``ViT-B-32`` with ``pretrained="laion2b_s34b_b79k"``;
    ``xlm-roberta-base-ViT-B-32`` / ``laion5b_s13b_b90k`` for Japanese queries),
    ``hf-hub:org/repo``,
    ``local-dir:/folder`` (config + weights), or ``builtin:tiny-clip``; ``pretrained`` may also be a
    local checkpoint file. Runs on CUDA in fp16 when available, else on the CPU in fp32 with
    torch's configured thread count.
    """

    def __init__(
        self,
        model: str,
        pretrained: str | None = None,
        device: str = "auto",
        batch_size: int = 64,
        precision: str = "auto",
    ) -> None:
        self.device = pick_device(device)
        if precision == "auto":
            precision = "fp16" if self.device.startswith("cuda") else "fp32"
        self.precision = precision
        self.batch_size = max(1, batch_size)
        self.spec, self.pretrained = resolve_spec(model, pretrained)
        self._m = _load(self.spec, self.pretrained, self.device, precision)
        name = f"{model}:{pretrained}" if pretrained else model
        if model.startswith("builtin:"):  # a builtin's recipe can change: name the build too
            name = f"{model.partition('@')[0]}@{Path(self.spec.removeprefix(_LOCAL_DIR)).name}"
        self.identity = ModelIdentity(backend="open-clip", name=name, dim=self._m.dim)

    @property
    def dim(self) -> int:
        return self._m.dim

    def embed_texts(self, texts: Sequence[str], kind: TextKind = "passage") -> np.ndarray:
        """Embed texts (``kind`` is irrelevant for CLIP: queries and captions share one tower)."""
        import torch

        out = [np.zeros((0, self.dim), np.float32)]
        threads = torch_threads_for(len(texts), self.device)
        with threads, torch.inference_mode(), self._autocast():
            for batch in _batches(list(texts), self.batch_size):
                tokens = self._m.tokenizer(batch).to(self.device)
                out.append(self._finish(self._m.model.encode_text(tokens, normalize=True)))
        return np.concatenate(out)

    def embed_images(self, images: Sequence[Path | Image.Image]) -> np.ndarray:
        """Embed image files or PIL images; broken files raise ``ValueError`` naming the file.

        On a GPU, CPU threads decode the next batch while the GPU encodes this one (JPEG
        decoding and resizing release the GIL); on a CPU, decoding would only take cores
        from the model, so batches are decoded in turn.
        """
        import torch

        out = [np.zeros((0, self.dim), np.float32)]
        batches = list(_batches(list(images), self.batch_size))
        if not batches:
            return out[0]
        workers = _decode_workers(self.device)
        # decode per batch so memory stays bounded for large folders
        pool = ThreadPoolExecutor(workers, thread_name_prefix="clip-decode") if workers else None
        # one more thread gathers a batch from the decoders, so only a GPU ahead of them waits
        gather = ThreadPoolExecutor(1, thread_name_prefix="clip-batch") if workers else None
        try:
            ahead = self._decode(batches[0], pool, gather)
            for i, batch in enumerate(batches):
                pixels = ahead.result() if gather else ahead
                if i + 1 < len(batches):
                    ahead = self._decode(batches[i + 1], pool, gather)
                pixels = pixels.to(self.device, dtype=self._m.input_dtype, non_blocking=True)
                threads = torch_threads_for(len(batch), self.device)
                with threads, torch.inference_mode(), self._autocast():
                    out.append(self._finish(self._m.model.encode_image(pixels, normalize=True)))
        finally:
            for executor in (gather, pool):
                if executor is not None:
                    executor.shutdown(cancel_futures=True)
        return np.concatenate(out)

    def _decode(
        self, batch: list[Any], pool: ThreadPoolExecutor | None, gather: ThreadPoolExecutor | None
    ) -> Any:
        """Pixels of a batch: a tensor, or with threads a future of one (pinned for the copy)."""
        import torch

        draft = 2 * self._m.image_size

        def one(im: Any) -> Any:
            return self._m.preprocess(load_image(im, draft))

        if pool is None or gather is None:
            return torch.stack([one(im) for im in batch])

        def stack() -> Any:
            pixels = torch.stack(list(pool.map(one, batch)))
            return pixels.pin_memory() if torch.cuda.is_available() else pixels

        return gather.submit(stack)

    def _autocast(self) -> Any:
        import contextlib

        import torch

        if self.device.startswith("cuda") and self.precision in ("fp16", "bf16"):
            dtype = torch.float16 if self.precision == "fp16" else torch.bfloat16
            return torch.autocast("cuda", dtype=dtype)
        return contextlib.nullcontext()

    @staticmethod
    def _finish(x: Any) -> np.ndarray:
        v = x.float().cpu().numpy()
        # re-normalise in fp32: rows normalised in fp16 are only unit to ~1e-3
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def _decode_workers(device: str) -> int:
    """Image decoding threads: none on a CPU (the model needs the cores), else up to 8."""
    if not device.startswith("cuda"):
        return 0
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def _batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
