"""Dense retrieval in the text space and the shared CLIP space."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from index.embedders import ImageEmbedder
from index.indexer import Indexer, Space

Ranked = list[tuple[int, float]]


class DenseRetriever:
    """Nearest neighbours of a text or image query in one embedding space."""

    def __init__(self, indexer: Indexer) -> None:
        self.indexer = indexer
        self._stores: dict[Space, object] = {}
        self._last: dict[Space, tuple[str, np.ndarray]] = {}  # a search embeds once per space

    def _store(self, space: Space):  # type: ignore[no-untyped-def]
        if space not in self._stores:
            self._stores[space] = self.indexer.open(space)
        return self._stores[space]

    def refresh(self) -> None:
        """Forget opened indexes (after an ingest or reindex)."""
        self._stores.clear()
        self._last.clear()

    def available(self, space: Space) -> bool:
        return self._store(space) is not None

    def query_vector(self, query: str, space: Space) -> np.ndarray:
        """The query's (1, dim) vector in ``space`` (the last one per space is kept: a search
        asks for it several times)."""
        last = self._last.get(space)
        if last is not None and last[0] == query:
            return last[1]
        vec = self.indexer.embedder(space).embed_texts([query], kind="query")
        self._last[space] = (query, vec)
        return vec

    def search_text(
        self, query: str, space: Space, k: int, allowed_ids: np.ndarray | None = None
    ) -> Ranked:
        store = self._store(space)
        if store is None:
            return []
        return _ranked(store.search(self.query_vector(query, space), k, allowed_ids=allowed_ids))

    def cosines(self, query: str, ids: Sequence[int], space: Space = "text") -> dict[int, float]:
        """The query's similarity to each of ``ids`` that the space holds (exact)."""
        store = self._store(space)
        if store is None or not ids:
            return {}
        allowed = np.unique(np.asarray(ids, dtype=np.int64))
        vec = self.query_vector(query, space)
        return dict(_ranked(store.search(vec, len(allowed), allowed_ids=allowed)))

    def search_image(
        self, image: Path | Image.Image, k: int, allowed_ids: np.ndarray | None = None
    ) -> Ranked:
        store = self._store("clip")
        if store is None:
            return []
        embedder = self.indexer.embedder("clip")
        assert isinstance(embedder, ImageEmbedder)
        vec = embedder.embed_images([image])
        return _ranked(store.search(vec, k, allowed_ids=allowed_ids))


def _ranked(result: tuple[np.ndarray, np.ndarray]) -> Ranked:
    scores, ids = result
    return [(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]


def as_ids(values: Sequence[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)
