"""BM25 retrieval over the lexical index (built by ``index.lexical`` during sync)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from index.indexer import Indexer
from index.lexical import LexicalIndex, LexicalIndexError

log = logging.getLogger(__name__)
Ranked = list[tuple[int, float]]


class LexicalRetriever:
    """Tokenises queries exactly as the index tokenised items, and ranks by BM25."""

    def __init__(self, indexer: Indexer) -> None:
        self.indexer = indexer
        s = indexer.settings.lexical
        self.analyzer = s.analyzer
        self._index: LexicalIndex | None = None
        self._opened = False
        self.problem: str | None = None  # why BM25 is unavailable, if it is

    def refresh(self) -> None:
        self._index, self._opened, self.problem = None, False, None

    def index(self) -> LexicalIndex | None:
        if not self._opened:
            self._opened = True
            try:
                self._index = self.indexer.open_lexical()
                if self._index is None:
                    self.problem = "no lexical index (run `mmrag ingest` or `mmrag doctor`)"
            except LexicalIndexError as exc:
                self.problem = str(exc)
                log.warning("BM25 unavailable: %s", exc)
        elif self._index is not None:
            self._index.refresh()  # pick up commits of another process (an ingest)
        return self._index

    def tokens(self, text: str) -> list[str]:
        return self.analyzer.tokens(text)

    def search(
        self,
        text: str,
        k: int,
        allowed: np.ndarray | None = None,
        context_boost: float = 0.3,
    ) -> Ranked:
        index = self.index()
        if index is None:
            return []
        return index.search(self.tokens(text), k, allowed=allowed, context_boost=context_boost)

    def coverage(self, query: str, ids: Sequence[int]) -> dict[int, float] | None:
        """Share of the query's idf mass that each item's text holds (1: every query word),
        read from the index; None without a lexical index or query words. Words no item holds
        do not count (weighing them as the rarest words was tried: on a small collection every
        paraphrase then looked uncovered, and answerable questions went unanswered)."""
        index = self.index()
        q = set(self.tokens(query))
        if index is None or not q:
            return None
        idf = index.idf(list(q))
        total = sum(idf.values())
        if total <= 0:
            return dict.fromkeys(ids, 0.0)
        held = [t for t in q if idf[t] > 0]  # a word no item holds is not looked up
        holding = index.holding(held, ids)
        return {i: sum(idf[t] for t in held if i in holding[t]) / total for i in ids}
