"""Rank fusion: reciprocal rank fusion and a weighted combination of normalised scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Ranked = Sequence[tuple[int, float]]  # (id, score), best first


def rrf(
    lists: Mapping[str, Ranked], k: int = 60, weights: Mapping[str, float] | None = None
) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: sum over lists of weight / (k + rank)."""
    fused: dict[int, float] = {}
    for name, ranked in lists.items():
        w = (weights or {}).get(name, 1.0)
        for rank, (item, _) in enumerate(ranked, start=1):
            fused[item] = fused.get(item, 0.0) + w / (k + rank)
    return sorted(fused.items(), key=lambda kv: kv[1], reverse=True)


def weighted(
    lists: Mapping[str, Ranked], weights: Mapping[str, float] | None = None
) -> list[tuple[int, float]]:
    """Convex combination of min-max normalised scores (missing from a list counts as 0)."""
    weights = weights or {}
    total = sum(weights.get(n, 1.0) for n in lists) or 1.0
    fused: dict[int, float] = {}
    for name, ranked in lists.items():
        if not ranked:
            continue
        scores = [s for _, s in ranked]
        lo, hi = min(scores), max(scores)
        span = hi - lo
        w = weights.get(name, 1.0) / total
        for item, score in ranked:
            norm = (score - lo) / span if span > 1e-12 else 1.0
            fused[item] = fused.get(item, 0.0) + w * norm
    return sorted(fused.items(), key=lambda kv: kv[1], reverse=True)
