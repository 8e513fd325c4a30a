"""The embedder interface: every backend returns L2-normalised float32 rows."""

from __future__ import annotations

from collections.abc import Sequence
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


def pick_device(device: str = "auto") -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
