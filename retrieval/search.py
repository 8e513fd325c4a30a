"""The searcher: one entry point for text and image queries over every modality."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from index.indexer import Indexer
from ingest.catalog import Catalog
from retrieval.config import Mode, RetrievalSettings
from retrieval.dense import DenseRetriever, Ranked
from retrieval.filters import Filters, allowed_ids
from retrieval.fusion import rrf, weighted
from retrieval.hydrate import hydrate
from retrieval.types import SearchResult


@dataclass(slots=True)
class Query:
    text: str | None = None
    image: Path | Image.Image | None = None
    k: int = 10
    mode: Mode | None = None  # None: the configured default
    filters: Filters = field(default_factory=Filters)


class Searcher:
    def __init__(self, settings: RetrievalSettings, catalog: Catalog, indexer: Indexer) -> None:
        self.settings = settings
        self.catalog = catalog
        self.dense = DenseRetriever(indexer)

    def refresh(self) -> None:
        self.dense.refresh()

    def search(self, query: Query) -> list[SearchResult]:
        if not (query.text and query.text.strip()) and query.image is None:
            raise ValueError("a query needs text or an image")
        n = max(self.settings.candidates, query.k * 5)
        allowed = allowed_ids(self.catalog, query.filters)
        lists = self._candidates(query, n, allowed)
        fused = self._fuse(lists)[: query.k * 3]
        results = hydrate(self.catalog, fused)[: query.k]
        self._annotate(results, lists)
        return results

    def _candidates(self, query: Query, n: int, allowed) -> dict[str, Ranked]:  # type: ignore[no-untyped-def]
        lists: dict[str, Ranked] = {}
        if query.image is not None:
            lists["clip"] = self.dense.search_image(query.image, n, allowed)
            return lists
        assert query.text is not None
        lists["text"] = self.dense.search_text(query.text, "text", n, allowed)
        images = self._image_ids(allowed)
        if images is None or len(images):
            lists["clip"] = self.dense.search_text(query.text, "clip", n, images)
        return lists

    def _image_ids(self, allowed):  # type: ignore[no-untyped-def]
        """Text queries use the CLIP space for images only: the text space ranks passages."""
        mods = ("image",)
        image_filter = Filters(modalities=mods)
        ids = allowed_ids(self.catalog, image_filter)
        if allowed is not None:
            import numpy as np

            ids = np.intersect1d(ids, allowed, assume_unique=True)
        return ids

    def _fuse(self, lists: dict[str, Ranked]) -> list[tuple[int, float]]:
        weights = {k: self.settings.weights.get(k, 1.0) for k in lists}
        if len(lists) == 1:
            return list(next(iter(lists.values())))
        if self.settings.fusion == "weighted":
            return weighted(lists, weights)
        return rrf(lists, self.settings.rrf_k, weights)

    def _annotate(self, results: list[SearchResult], lists: dict[str, Ranked]) -> None:
        for name, ranked in lists.items():
            by_id = dict(ranked)
            for r in results:
                if r.id in by_id:
                    r.scores[name] = by_id[r.id]
        for r in results:
            r.low_relevance = not any(
                r.scores.get(space, -1.0) >= threshold
                for space, threshold in self.settings.low_relevance.items()
            )
