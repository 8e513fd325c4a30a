"""The embedder interface: every backend returns L2-normalised float32 rows."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from PIL import Image

TextKind = Literal["query", "passage"]


@dataclass(frozen=True, slots=True)
class ModelIdentity:
    """What an index was built with; stored beside it so a mismatch can be refused."""

    backend: str  # sentence-transformers | open-clip
    name: str  # the configured name (hub name, local path or builtin:...)
    dim: int
    normalized: bool = True
    passages: str = "text"  # how item text was composed before embedding (index.passage)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@runtime_checkable
class TextEmbedder(Protocol):
    identity: ModelIdentity

    def embed_texts(self, texts: Sequence[str], kind: TextKind = "passage") -> np.ndarray:
        """Embed texts as an (n, dim) float32 array of unit rows."""
        ...


@runtime_checkable
class ImageEmbedder(TextEmbedder, Protocol):
    """A shared image-text space (CLIP style): texts and images are comparable."""

    def embed_images(self, images: Sequence[Path | Image.Image]) -> np.ndarray:
        """Embed images (paths or PIL images) as an (n, dim) float32 array of unit rows."""
        ...


def l2_normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


_threads_lock = threading.Lock()
SMALL_BATCH = 4  # inputs up to this many are a query, not bulk work


@contextlib.contextmanager
def torch_threads_for(n_inputs: int, device: str = "cpu") -> Iterator[None]:
    """One torch intra-op thread while embedding a query on the CPU.

    Two threads gain nothing on a query's tiny matrices, but when another process computes
    (an ingest beside the UI) torch's spinning threads fight it for the cores: a MiniLM
    query took 500 ms with two threads and 10 ms with one (GUIDE.md). Bulk batches keep
    every thread.
    """
    if n_inputs > SMALL_BATCH or not device.startswith("cpu"):
        yield
        return
    import torch

    with _threads_lock:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def pick_device(device: str = "auto") -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
