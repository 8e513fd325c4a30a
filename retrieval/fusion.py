"""Rank fusion: reciprocal rank fusion and a weighted combination of normalised scores."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

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
    return _sorted(fused)


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
    return _sorted(fused)


def by_modality(
    fused: Ranked, modality_of: Callable[[int], str | None], weights: Mapping[str, float]
) -> list[tuple[int, float]]:
    """Multiply each fused score by its item's modality weight and re-sort."""
    if all(w == 1.0 for w in weights.values()):
        return list(fused)
    out = {i: s * weights.get(modality_of(i) or "", 1.0) for i, s in fused}
    return _sorted(out)


def _sorted(scores: Mapping[int, float]) -> list[tuple[int, float]]:
    # stable: ties keep the order in which the items were met (the better list first)
    return sorted(scores.items(), key=lambda kv: -kv[1])
