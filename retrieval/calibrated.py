"""Calibrated fusion: every candidate's probability of holding the answer.

Rank fusion (RRF) treats every retriever alike whatever it scored: a BM25 list of weak partial
matches outvotes a dense hit it should defer to, and a list of images or of another language
counts as much as the right one. Here each candidate gets a few features that mean the same
on any corpus — its BM25 score relative to the query's best, its rank there, its cosine to the
query and the gap to the best cosine (overall and within its own language), whether it is in
the query's language, and how much of the query's rarer words it holds — and a logistic model
turns them into a probability. The model is fitted on the tuning half of ``benchmarks/dev_eval``
(``python -m benchmarks.dev_eval.fit_fusion``) for one text model; the probability also marks
results as low-relevance. A picture found in the shared image-text space is as likely as its
CLIP similarity is above that model's floor (``retrieval.min_scores.clip``), whichever is higher.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.types import SearchResult

Ranked = Sequence[tuple[int, float]]
FEATURES = (
    "bm25",  # BM25 score / the query's best BM25 score (0 when not a BM25 candidate)
    "bm25_rank",  # 1 / (1 + rank) in the BM25 list
    "cos",  # cosine to the query in the text space
    "cos_gap",  # cosine minus the best candidate cosine
    "cos_gap_lang",  # cosine minus the best cosine among candidates in the same language
    "same_lang",  # the item is in the query's language
    "coverage",  # share of the query's idf mass found in the item
    "bm25_xl",  # BM25 score of the translated query / its best (items in the other language)
    "bm25_xl_rank",  # 1 / (1 + rank) in that list
)
PICTURE_SLOPE = 20.0  # a CLIP similarity 0.1 above the floor: p = 0.88; at the floor: 0.5


@dataclass(frozen=True, slots=True)
class Signals:
    """What the retrievers said about one query's candidates."""

    query_language: str | None
    bm25: Ranked  # best first
    cosines: Mapping[int, float]  # text-space cosine of every candidate that has text
    coverage: Mapping[int, float]
    bm25_xl: Ranked = ()  # the translated query's BM25 list, best first


def feature_matrix(results: Sequence[SearchResult], s: Signals) -> np.ndarray:
    """One row of :data:`FEATURES` per result."""
    best_bm25 = max((score for _, score in s.bm25), default=0.0) or 1.0
    bm25 = dict(s.bm25)
    bm25_rank = {i: r for r, (i, _) in enumerate(s.bm25, 1)}
    best_xl = max((score for _, score in s.bm25_xl), default=0.0) or 1.0
    xl = dict(s.bm25_xl)
    xl_rank = {i: r for r, (i, _) in enumerate(s.bm25_xl, 1)}
    cos = [s.cosines.get(r.id) for r in results]
    known = [c for c in cos if c is not None]
    best = max(known, default=0.0)
    best_in: dict[str | None, float] = {}
    for r, c in zip(results, cos, strict=True):
        if c is not None:
            best_in[r.language] = max(best_in.get(r.language, -1.0), c)
    rows = []
    for r, c in zip(results, cos, strict=True):
        rows.append(
            [
                bm25.get(r.id, 0.0) / best_bm25,
                1.0 / (1 + bm25_rank[r.id]) if r.id in bm25_rank else 0.0,
                c if c is not None else 0.0,
                (c - best) if c is not None else -1.0,
                (c - best_in[r.language]) if c is not None else -1.0,
                float(r.language == (s.query_language or "en")),
                s.coverage.get(r.id, 0.0),
                xl.get(r.id, 0.0) / best_xl,
                1.0 / (1 + xl_rank[r.id]) if r.id in xl_rank else 0.0,
            ]
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(results), len(FEATURES))


def probabilities(features: np.ndarray, bias: float, weights: Mapping[str, float]) -> np.ndarray:
    """The logistic model's probability for each row."""
    w = np.array([weights.get(name, 0.0) for name in FEATURES])
    z = features @ w + bias
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def picture_probability(similarity: float, floor: float) -> float:
    """How likely a picture is what a text query describes, from its CLIP similarity."""
    return 1.0 / (1.0 + math.exp(-PICTURE_SLOPE * (similarity - floor)))
