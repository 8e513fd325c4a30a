"""Result diversity: near-duplicate suppression and maximal marginal relevance (MMR).

Near-duplicates are found on normalised text (NFKC, case-folded, whitespace removed) through
MinHash signatures of character 5-grams, which works the same for English and Japanese:
two items are the same passage when their estimated Jaccard similarity, or the share of the
shorter one contained in the other, reaches a threshold (the same paragraph in two copies of a
file, an e-mail quoted in another). Two chunks of one document whose character spans overlap
mostly are duplicates too (overlapping windows of one passage). The signatures are
one-permutation MinHash (each 5-gram's hash falls into one of 128 bins, the smallest per bin
kept): one hash per 5-gram instead of 128, which keeps the check within a millisecond or two of a
search.

Copies in another format are not folded: a web page saved as PDF, a printed notice
photographed — each is a place of its own to cite (a page, a picture), and the user may be
looking for exactly that one.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Sequence

import numpy as np

from retrieval.config import DiversitySettings
from retrieval.types import SearchResult

SHINGLE = 5
BINS = 128  # signature length
MIN_CHARS = 24  # shorter texts (a table cell, a caption) are too short to call duplicates
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd: a bijection on 64 bits that spreads the bits
_BIN_SHIFT = np.uint64(64 - (BINS.bit_length() - 1))  # the top bits choose the bin
_EMPTY = np.full(BINS, np.iinfo(np.uint64).max, dtype=np.uint64)
_POW = np.array([pow(1000003, i, 2**64) for i in range(SHINGLE)], dtype=np.uint64)


def normalise(text: str) -> str:
    """NFKC, case-folded, without whitespace (OCR and layout insert spaces freely)."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def shingles(text: str) -> np.ndarray:
    """Distinct 64-bit hashes of the character 5-grams of normalised ``text``."""
    codes = np.frombuffer(normalise(text).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(codes) < SHINGLE:
        return np.unique(codes)
    windows = np.lib.stride_tricks.sliding_window_view(codes, SHINGLE)
    with np.errstate(over="ignore"):
        return np.unique(windows @ _POW)


def signature(hashes: np.ndarray) -> np.ndarray:
    """One-permutation MinHash signature (BINS values) of a hash set; empty bins hold the
    maximum."""
    sig = _EMPTY.copy()
    if len(hashes):
        with np.errstate(over="ignore"):
            mixed = hashes * _MIX
        np.minimum.at(sig, (mixed >> _BIN_SHIFT).astype(np.intp), mixed)
    return sig


def _jaccard(sigs: np.ndarray, sig: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of ``sig`` with each row of ``sigs``: the share of equal
    minima among the bins either side filled (bins both left empty say nothing: a short text
    leaves most of them empty)."""
    empty = _EMPTY[0]
    filled = (sigs != empty) | (sig != empty)
    equal = (sigs == sig) & filled
    return equal.sum(axis=1) / np.maximum(filled.sum(axis=1), 1)


def _span_overlap(a: SearchResult, b: SearchResult) -> float:
    if a.document_id != b.document_id or None in (
        a.char_start,
        a.char_end,
        b.char_start,
        b.char_end,
    ):
        return 0.0
    inter = min(a.char_end, b.char_end) - max(a.char_start, b.char_start)  # type: ignore[type-var,operator]
    shorter = min(a.char_end - a.char_start, b.char_end - b.char_start)  # type: ignore[operator]
    return max(0, inter) / shorter if shorter > 0 else 0.0


@functools.lru_cache(maxsize=8192)
def _fingerprint(text: str) -> tuple[int, np.ndarray]:
    """(number of shingles, MinHash signature) of a text: the same passages come back search
    after search, so they are computed once."""
    h = shingles(text)
    return len(h), signature(h)


def _same_format(a: SearchResult, b: SearchResult) -> bool:
    return a.modality == b.modality and (a.file_type or "") == (b.file_type or "")


def suppress_duplicates(
    results: Sequence[SearchResult], settings: DiversitySettings, limit: int | None = None
) -> tuple[list[SearchResult], int]:
    """Keep the first of each group of near-duplicates (in the given order), up to ``limit``
    kept; the sources of dropped ones are added to the keeper's ``also_in``.
    Returns (kept, number dropped)."""
    kept: list[SearchResult] = []
    sigs = np.empty((0, BINS), dtype=np.uint64)
    sizes: list[int] = []
    dropped = 0
    for r in results:
        if limit is not None and len(kept) >= limit:
            break
        text_ok = len(r.text.strip()) >= MIN_CHARS
        size, sig = _fingerprint(r.text) if text_ok else (0, _EMPTY)
        jaccard = _jaccard(sigs, sig) if text_ok and kept else np.zeros(len(kept))
        dup_of = None
        for j, other in enumerate(kept):
            if _span_overlap(r, other) >= settings.span_overlap:
                dup_of = j
                break
            if not text_ok or sizes[j] == 0 or not _same_format(r, other):
                continue
            jac = float(jaccard[j])
            shared = jac / (1 + jac) * (size + sizes[j])  # |A ∩ B| from J, |A| and |B|
            if jac >= settings.jaccard or shared / min(size, sizes[j]) >= settings.containment:
                dup_of = j
                break
        if dup_of is None:
            kept.append(r)
            sigs = np.vstack([sigs, sig])
            sizes.append(size)
            continue
        dropped += 1
        keeper = kept[dup_of]
        if r.source and r.source != keeper.source and r.source not in keeper.also_in:
            keeper.also_in.append(r.source)
    return kept, dropped


def mmr(
    results: Sequence[SearchResult],
    relevance: Sequence[float],
    embed: Callable[[list[str]], np.ndarray],
    k: int,
    lam: float,
) -> list[SearchResult]:
    """Greedy maximal marginal relevance over ``results`` (texts embedded by ``embed``, unit
    rows; items without text count as dissimilar to everything)."""
    if len(results) <= 1:
        return list(results)
    rel = np.asarray(relevance, dtype=np.float64)
    span = rel.max() - rel.min()
    rel = (rel - rel.min()) / span if span > 1e-12 else np.ones_like(rel)
    has_text = [bool(r.text.strip()) for r in results]
    vecs = np.zeros((len(results), 1), dtype=np.float32)
    texts = [r.text for r, ok in zip(results, has_text, strict=True) if ok]
    if texts:
        emb = embed(texts)
        vecs = np.zeros((len(results), emb.shape[1]), dtype=np.float32)
        vecs[np.flatnonzero(has_text)] = emb
    sim = vecs @ vecs.T
    chosen: list[int] = []
    left = list(range(len(results)))
    while left and len(chosen) < k:
        penalty = sim[np.ix_(left, chosen)].max(axis=1) if chosen else np.zeros(len(left))
        value = lam * rel[left] - (1 - lam) * penalty
        best = left[int(np.argmax(value))]
        chosen.append(best)
        left.remove(best)
    return [results[i] for i in chosen] + [results[i] for i in left]
