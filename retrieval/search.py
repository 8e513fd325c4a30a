"""The searcher: one entry point for text and image queries over every modality.

A search runs in stages:

1. candidates: BM25 over every text-bearing item (``bm25``), nearest neighbours in the text
   space (``text``) and in the shared CLIP space (``clip``: images for text queries, images and
   text items for image queries); for a hybrid text query also the text space among items in
   the other languages (``text_xl``) and BM25 there with the query's words translated
   (``bm25_xl``, see translation.py); filters restrict every retriever (none of them starves);
2. fusion: the calibrated model's probability per candidate (calibrated.py), or reciprocal
   rank fusion or a weighted sum of normalised scores, weights per retriever, then per
   modality;
3. diversity: near-duplicates folded into the best of their group;
4. reranking: a cross-encoder over ``factor * k`` candidates (text queries), when available;
5. optional MMR, then low-relevance marking from calibrated signals.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import func, select

from index.indexer import Indexer
from index.passage import with_context
from ingest.analysis import detect_language
from ingest.catalog import Catalog, Chunk
from retrieval.calibrated import Signals, feature_matrix, picture_probability, probabilities
from retrieval.config import Mode, RetrievalSettings
from retrieval.dense import DenseRetriever, Ranked
from retrieval.diversity import mmr, suppress_duplicates
from retrieval.filters import Filters, allowed_ids
from retrieval.fusion import by_modality, rrf, weighted
from retrieval.hydrate import hydrate
from retrieval.lexical import LexicalRetriever
from retrieval.rerank import Reranker, load_reranker
from retrieval.translation import Translator, load_translator
from retrieval.types import SearchInfo, SearchResult, SearchResults

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Query:
    text: str | None = None
    image: Path | Image.Image | None = None
    k: int = 10
    mode: Mode | None = None  # None: the configured default
    filters: Filters = field(default_factory=Filters)
    rerank: bool | None = None  # None: as configured (rerank.enabled)


class Searcher:
    def __init__(self, settings: RetrievalSettings, catalog: Catalog, indexer: Indexer) -> None:
        self.settings = settings
        self.catalog = catalog
        self.indexer = indexer
        self.dense = DenseRetriever(indexer)
        self.lexical = LexicalRetriever(indexer)
        self._id_cache: dict[str, tuple[int, np.ndarray]] = {}
        self._catalog_key: int | None = None  # the newest item's id now

    def refresh(self) -> None:
        """Forget opened indexes (after an ingest or reindex)."""
        self.dense.refresh()
        self.lexical.refresh()
        self._id_cache.clear()

    # -- the pipeline --------------------------------------------------------------------
    def search(self, query: Query) -> SearchResults:
        text = (query.text or "").strip()
        if not text and query.image is None:
            raise ValueError("a query needs text or an image")
        mode: Mode = query.mode or self.settings.mode
        if mode == "bm25" and not text:
            raise ValueError("bm25 mode needs a text query")
        info = SearchInfo(mode=mode)
        rs = self.settings.rerank
        info.rerank_requested = rs.enabled if query.rerank is None else query.rerank
        reranker = self._reranker(info, text, query.image is not None)
        k = query.k
        depth = max(rs.candidates, rs.factor * k) if reranker else 2 * k
        pool = max(self.settings.candidates, depth)  # per retriever

        allowed = allowed_ids(self.catalog, query.filters)
        found = self.candidates(query, text, mode, pool, allowed, info)
        lists = {name: self.floor(name, ranked) for name, ranked in found.items()}
        info.candidates = {name: len(ranked) for name, ranked in lists.items()}
        # below its floor a picture is as likely as any other: it fills only a list of pictures
        images_asked = query.image is not None or query.filters.modalities == ("image",)
        if self._calibrated(query, mode, lists):
            results = self._calibrated_results(text, found, lists, images_asked)
        else:
            results = self._fused_results(found, lists, images_asked, 2 * depth)
        results = results[: 2 * depth]  # what diversity and reranking may need
        self._attach_scores(results, found)

        div = self.settings.diversity
        if div.dedup:
            results, info.duplicates = suppress_duplicates(results, div, limit=max(depth, k))
        results = results[: max(depth, k)]
        if reranker is not None:
            results = self._rerank(reranker, text, results, info)
        if div.mmr and text:
            embed = self.indexer.embedder("text").embed_texts
            results = mmr(results, [r.score for r in results], embed, k, div.mmr_lambda)
        results = results[:k]
        self._mark_low_relevance(results, text, reranked=info.reranked)
        return SearchResults(results, info)

    # -- fusion ---------------------------------------------------------------------------
    def _calibrated(self, query: Query, mode: Mode, lists: dict[str, Ranked]) -> bool:
        """Whether this search uses calibrated fusion (text queries in hybrid mode, with
        weights fitted for the configured text model)."""
        fusion = self.settings.fusion
        if query.image is not None or mode != "hybrid" or len(lists) < 2:
            return False
        if fusion == "auto":
            model = self.indexer.embed.text_model.partition("@")[0]
            return model in self.settings.calibration.text_models
        return fusion == "calibrated"

    def _calibrated_results(
        self,
        text: str,
        found: dict[str, Ranked],
        lists: dict[str, Ranked],
        images_asked: bool,
    ) -> list[SearchResult]:
        """Every candidate scored by its probability of holding the answer (calibrated.py)."""
        results, features = self.candidate_features(text, found, lists, images_asked)
        cal = self.settings.calibration
        probs = probabilities(features, cal.bias, cal.weights)
        clip, floor = dict(found.get("clip", [])), self.settings.min_scores.get("clip", 0.0)
        weights = self.settings.modality_weights
        for r, p in zip(results, probs, strict=True):
            if r.id in clip:
                p = max(p, picture_probability(clip[r.id], floor))
            r.score = float(p) * weights.get(r.modality, 1.0)
            r.scores["calibrated"] = float(p)
        return sorted(results, key=lambda r: -r.score)

    def candidate_features(
        self,
        text: str,
        found: dict[str, Ranked],
        lists: dict[str, Ranked],
        images_asked: bool = False,
    ) -> tuple[list[SearchResult], np.ndarray]:
        """The candidates of a text query and their features (``calibrated.FEATURES``); also
        what ``benchmarks/dev_eval/fit_fusion.py`` fits the calibration on."""
        pool = {**lists, "clip": found.get("clip", [])} if images_asked else lists
        ids = list(dict.fromkeys(i for ranked in pool.values() for i, _ in ranked))
        results = hydrate(self.catalog, [(i, 0.0) for i in ids])
        cover = self.lexical.coverage(text, [r.id for r in results]) or {}
        for r in results:
            r.scores["match"] = cover.get(r.id, 0.0)
        signals = Signals(
            query_language=detect_language(text),
            bm25=found.get("bm25", []),
            bm25_xl=found.get("bm25_xl", []),
            cosines=self.dense.cosines(text, [r.id for r in results if r.text.strip()]),
            coverage=cover,
        )
        return results, feature_matrix(results, signals)

    def _fused_results(
        self,
        found: dict[str, Ranked],
        lists: dict[str, Ranked],
        images_asked: bool,
        room: int,
    ) -> list[SearchResult]:
        """Rank fusion (rrf or weighted), then the hits below the floors to fill the list."""
        fused = self._fuse(lists)
        fill = {name: r for name, r in found.items() if name != "clip" or images_asked}
        fused += self._tail(fill, {i for i, _ in fused}, room - len(fused))
        results = hydrate(self.catalog, fused[:room])
        modality = {r.id: r.modality for r in results}
        order = by_modality(
            [(r.id, r.score) for r in results], modality.get, self.settings.modality_weights
        )
        by_id = {r.id: r for r in results}
        results = [by_id[i] for i, _ in order]
        for r, (_, s) in zip(results, order, strict=True):
            r.score = s
            if len(lists) > 1:
                r.scores["fused"] = s
        return results

    # -- stages --------------------------------------------------------------------------
    def _reranker(self, info: SearchInfo, text: str, has_image: bool) -> Reranker | None:
        if not info.rerank_requested:
            return None
        if has_image or not text:
            info.notes.append("image queries are not reranked (a cross-encoder reads text)")
            return None
        reranker = load_reranker(self.settings.rerank)
        if reranker is None:
            info.notes.append(
                f"reranker {self.settings.rerank.model!r} is unavailable: results are not reranked"
            )
        return reranker

    def candidates(
        self,
        query: Query,
        text: str,
        mode: Mode,
        n: int,
        allowed: np.ndarray | None,
        info: SearchInfo,
    ) -> dict[str, Ranked]:
        lists: dict[str, Ranked] = {}
        self._catalog_key = None  # the catalog may have changed since the last search
        if query.image is not None:  # the shared space finds images and text items alike
            lists["clip"] = self.dense.search_image(query.image, n, allowed)
            if text and mode != "dense":
                lists["bm25"] = self._bm25(text, n, allowed, info)
            if text and mode != "bm25" and self._text_model_reads(text, mode, info):
                lists["text"] = self.dense.search_text(text, "text", n, allowed)
            return lists
        if mode in ("bm25", "hybrid"):
            lists["bm25"] = self._bm25(text, n, allowed, info)
        if mode in ("dense", "hybrid"):
            if self._text_model_reads(text, mode, info):
                lists["text"] = self.dense.search_text(text, "text", n, allowed)
                others = (
                    self._other_languages(text, allowed) if self.settings.cross_lingual else None
                )
                if others is not None and len(others):
                    lists["text_xl"] = self.dense.search_text(text, "text", n, others)
                    translated = self.translate(text) if mode == "hybrid" else None
                    if translated:
                        boost = self.settings.context_boost
                        lists["bm25_xl"] = self.lexical.search(translated, n, others, boost)
            clip_ids = allowed if self.settings.text_query_clip == "all" else self._images(allowed)
            if clip_ids is None or len(clip_ids):
                lists["clip"] = self.dense.search_text(text, "clip", n, clip_ids)
        return lists

    def _text_model_reads(self, text: str, mode: Mode, info: SearchInfo) -> bool:
        """Whether the text retriever takes part: not, in hybrid mode, for a query in a language
        the text model does not read (its neighbours would be noise outvoting the keywords)."""
        known = self.settings.text_languages
        language = detect_language(text) if known is not None else None
        if language is None or known is None or language in known:
            return True
        if mode == "dense":  # asked for explicitly: run it, but say so
            info.notes.append(f"the text model is not made for {language} queries")
            return True
        info.notes.append(
            f"the text model is not made for {language} queries: keywords and image similarity only"
        )
        return False

    def _bm25(self, text: str, n: int, allowed: np.ndarray | None, info: SearchInfo) -> Ranked:
        ranked = self.lexical.search(text, n, allowed, self.settings.context_boost)
        if self.lexical.problem and self.lexical.problem not in info.notes:
            info.notes.append(f"BM25 unavailable: {self.lexical.problem}")
        return ranked

    def translate(self, text: str) -> str | None:
        """An English query's words in Japanese and the other way round (None: no translator,
        another language, or no word it knows)."""
        translator = self.translator
        source = detect_language(text)
        target = {"en": "ja", "ja": "en"}.get(source or "")
        if translator is None or source is None or target is None:
            return None
        return translator.translate(text, source, target)

    @functools.cached_property
    def translator(self) -> Translator | None:
        """The configured query translator, loaded on first use."""
        return load_translator(self.settings.translation)

    def floor(self, name: str, ranked: Ranked) -> Ranked:
        """Only hits a retriever finds relevant enough vote in the fusion."""
        floor = self.settings.min_scores.get(name)
        return ranked if floor is None else [(i, s) for i, s in ranked if s >= floor]

    @staticmethod
    def _tail(found: dict[str, Ranked], seen: set[int], room: int) -> list[tuple[int, float]]:
        """Hits below their retriever's floor, best first and alternating between retrievers,
        to fill a list the floors left short (a narrow filter, a vague query); score 0."""
        out: list[tuple[int, float]] = []
        for row in zip_longest(*found.values()):
            for hit in row:
                if len(out) >= room:
                    return out
                if hit is not None and hit[0] not in seen:
                    seen.add(hit[0])
                    out.append((hit[0], 0.0))
        return out

    def _images(self, allowed: np.ndarray | None) -> np.ndarray:
        """Ids of image items."""
        return self._ids_where("images", Chunk.modality == "image", allowed)

    def _other_languages(self, text: str, allowed: np.ndarray | None) -> np.ndarray | None:
        """Ids of text-bearing items in another language than the query's (None: no such
        items, or the query's language is unknown)."""
        language = detect_language(text)
        if language is None:
            return None
        other = (Chunk.language != language) & (Chunk.language.is_not(None))
        return self._ids_where(f"not-{language}", other & (Chunk.text != ""), allowed)

    def _ids_where(self, name: str, condition: Any, allowed: np.ndarray | None) -> np.ndarray:
        """Ids of items meeting ``condition``, cached until items are added (checked once per
        search: ``_catalog_key``). Ids are never reused, so the newest id tells (an index
        lookup, where counting rows reads them all); ids of removed items may linger in the
        cache, and match nothing in the indexes."""
        with self.catalog.session() as s:
            if self._catalog_key is None:
                self._catalog_key = s.scalar(select(func.coalesce(func.max(Chunk.id), 0)))
            key = self._catalog_key
            cached = self._id_cache.get(name)
            if cached is None or cached[0] != key:
                ids = s.scalars(select(Chunk.id).where(condition).order_by(Chunk.id))
                cached = (key, np.fromiter(ids, dtype=np.int64))
                self._id_cache[name] = cached
        if allowed is None:
            return cached[1]
        return np.intersect1d(cached[1], allowed, assume_unique=True)

    def _fuse(self, lists: dict[str, Ranked]) -> list[tuple[int, float]]:
        for xl, main in (("text_xl", "text"), ("bm25_xl", "bm25")):
            if xl in lists and main in lists:  # a second chance, not a second vote
                seen = {i for i, _ in lists[main]}
                lists = {**lists, xl: [(i, s) for i, s in lists[xl] if i not in seen]}
        lists = {k: v for k, v in lists.items() if v}
        if not lists:
            return []
        if len(lists) == 1:
            return list(next(iter(lists.values())))
        weights = {k: self.settings.weights.get(k, 1.0) for k in lists}
        if self.settings.fusion == "weighted":
            return weighted(lists, weights)
        return rrf(lists, self.settings.rrf_k, weights)

    def _attach_scores(self, results: list[SearchResult], lists: dict[str, Ranked]) -> None:
        for name, ranked in lists.items():
            by_id = dict(ranked)
            for r in results:
                if r.id in by_id:
                    r.scores[name] = by_id[r.id]

    def _rerank(
        self, reranker: Reranker, text: str, results: list[SearchResult], info: SearchInfo
    ) -> list[SearchResult]:
        """Order text-bearing candidates by the cross-encoder; items without text (pictures)
        keep their fused positions."""
        textual = [i for i, r in enumerate(results) if r.text.strip()]
        if not textual:
            return results
        probs = reranker.score(text, [_passage(results[i]) for i in textual])
        ranked = sorted(zip(textual, probs, strict=True), key=lambda t: (-t[1], t[0]))
        out = list(results)
        for slot, (i, p) in zip(textual, ranked, strict=True):
            r = results[i]
            r.scores["rerank"] = float(p)
            r.score = float(p)
            r.reranked = True
            out[slot] = r
        info.reranked, info.reranker = True, self.settings.rerank.model
        return out

    def _mark_low_relevance(self, results: list[SearchResult], text: str, reranked: bool) -> None:
        thresholds = self.settings.low_relevance
        todo = [r for r in results if "match" not in r.scores]
        cover = self.lexical.coverage(text, [r.id for r in todo]) if text and todo else None
        if cover is not None:
            for r in todo:
                r.scores["match"] = cover.get(r.id, 0.0)
        for r in results:
            if reranked and "rerank" in r.scores and "rerank" in thresholds:
                r.low_relevance = r.scores["rerank"] < thresholds["rerank"]
                continue
            # text_xl is the same query vector's cosine, met among the other languages' items
            cosines = [r.scores[n] for n in ("text", "text_xl") if n in r.scores]
            signals = {
                "text": max(cosines, default=None),
                "clip": r.scores.get("clip"),
                "bm25": r.scores.get("match"),
                "calibrated": r.scores.get("calibrated"),
            }
            r.low_relevance = not any(
                value is not None and name in thresholds and value >= thresholds[name]
                for name, value in signals.items()
            )


def _passage(r: SearchResult) -> str:
    """What the cross-encoder reads: the title/section context, then the text."""
    return with_context(r.text, r.title, r.section)
