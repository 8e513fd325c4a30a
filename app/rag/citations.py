"""Citation integrity: markers must name given sources, and cited sentences must be supported.

Support of a sentence by a source combines lexical coverage (the sentence's content terms found
in the source), semantic similarity (the configured text embedder: sentence against the source's
best sentence) and number consistency (a number the source does not contain is not supported).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from app.rag.text import coverage, numbers, split_sentences, terms
from app.rag.types import Citation, SentenceCheck, Source

# [1]  [1, 2]  [1; 3]  [Source 2]  [source 1, 2]
CITE = re.compile(
    r"\[\s*(?:sources?\s*)?(\d{1,3}(?:\s*[,;]\s*(?:sources?\s*)?\d{1,3})*)\s*\]", re.I
)
_MAYBE_CITE = re.compile(r"\[\s*(?:s(?:o(?:u(?:r(?:c(?:es?)?)?)?)?)?)?\s*[\d\s,;]*", re.I)
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+([.,;:!?。、])")

Embed = Callable[[Sequence[str]], np.ndarray]  # unit rows


def cited_numbers(text: str) -> list[int]:
    return [int(n) for m in CITE.finditer(text) for n in re.findall(r"\d+", m.group(1))]


def strip_citations(text: str) -> str:
    return _SPACE_BEFORE_PUNCT.sub(r"\1", CITE.sub("", text)).strip()


def _rewrite_marker(match: re.Match[str], valid: set[int], invalid: list[int]) -> str:
    keep: list[int] = []
    for n in (int(x) for x in re.findall(r"\d+", match.group(1))):
        if n in valid:
            if n not in keep:
                keep.append(n)
        elif n not in invalid:
            invalid.append(n)
    return "".join(f"[{n}]" for n in keep)


def remove_invalid(text: str, valid: set[int]) -> tuple[str, list[int]]:
    """``text`` with markers normalised to ``[n]`` and those naming no source removed."""
    invalid: list[int] = []
    cleaned = CITE.sub(lambda m: _rewrite_marker(m, valid, invalid), text)
    cleaned = _SPACE_BEFORE_PUNCT.sub(r"\1", re.sub(r"[ \t]{2,}", " ", cleaned))
    return cleaned.strip(), invalid


class StreamFilter:
    """Removes invalid citation markers from a token stream as it flows.

    Text that might be the start of a marker (``[``, ``[1``, ``[Source 2,``) is held back until
    it is complete, so what is shown while streaming is what the final answer says.
    """

    def __init__(self, valid: Iterable[int]) -> None:
        self.valid = set(valid)
        self.invalid: list[int] = []
        self._held = ""

    def feed(self, token: str) -> str:
        text = self._held + token
        start = text.rfind("[")
        if start != -1 and "]" not in text[start:] and _MAYBE_CITE.fullmatch(text[start:]):
            self._held, text = text[start:], text[:start]
        else:
            self._held = ""
        return CITE.sub(lambda m: _rewrite_marker(m, self.valid, self.invalid), text)

    def flush(self) -> str:
        """What is still held at the end: a marker cut off by the length limit is dropped."""
        text, self._held = self._held, ""
        return "" if _MAYBE_CITE.fullmatch(text) else text


@dataclass(slots=True)
class CheckResult:
    sentences: list[SentenceCheck]
    citations: list[Citation]
    precision: float | None
    unsupported: list[dict[str, object]]


def is_claim(sentence: str) -> bool:
    """Sentences that state something checkable (not headings, questions or filler)."""
    bare = strip_citations(sentence)
    if not bare or bare.endswith(("?", "？", ":")):
        return False
    return len(terms(bare)) >= 3 or bool(numbers(bare))


def support_scores(
    pairs: Sequence[tuple[str, Source]], embed: Embed | None
) -> list[tuple[float, float, float]]:
    """(support, lexical, semantic) for each (sentence, source) pair, all in 0..1."""
    if not pairs:
        return []
    sents = [strip_citations(s) for s, _ in pairs]
    semantic = [0.0] * len(pairs)
    if embed is not None:
        src_sents: dict[int, list[str]] = {}
        for _, src in pairs:
            if src.n not in src_sents:
                parts = split_sentences(src.text)
                # adjacent pairs too: a claim may join two short source sentences
                joined = [f"{a} {b}" for a, b in itertools.pairwise(parts)]
                src_sents[src.n] = (parts + joined)[:200] or [src.text]
        flat = [t for v in src_sents.values() for t in v]
        vecs = embed([*sents, *flat])
        q, rest = vecs[: len(sents)], vecs[len(sents) :]
        offsets: dict[int, tuple[int, int]] = {}
        pos = 0
        for n, v in src_sents.items():
            offsets[n] = (pos, pos + len(v))
            pos += len(v)
        for i, (_, src) in enumerate(pairs):
            a, b = offsets[src.n]
            semantic[i] = max(0.0, float((rest[a:b] @ q[i]).max()))
    out: list[tuple[float, float, float]] = []
    for i, (sent, (_, src)) in enumerate(zip(sents, pairs, strict=True)):
        lexical = coverage(terms(sent), terms(src.text))
        nums = numbers(sent)
        num_factor = coverage(nums, numbers(src.text)) if nums else 1.0
        base = 0.5 * lexical + 0.5 * semantic[i] if embed is not None else lexical
        out.append((base * num_factor, lexical, semantic[i]))
    return out


def check(
    text: str, sources: Sequence[Source], embed: Embed | None, threshold: float
) -> CheckResult:
    """Check every sentence of an answer (markers already validated) against its sources."""
    by_n = {s.n: s for s in sources}
    checks = [
        SentenceCheck(text=s, cites=[n for n in dict.fromkeys(cited_numbers(s)) if n in by_n])
        for s in split_sentences(text)
    ]
    for c in checks:
        c.claim = is_claim(c.text)
    pairs = [(c.text, by_n[n]) for c in checks for n in c.cites]
    scores = iter(support_scores(pairs, embed))
    for c in checks:
        for n in c.cites:
            support, lexical, semantic = next(scores)
            c.support[n], c.lexical[n], c.semantic[n] = support, lexical, semantic

    citations: dict[int, Citation] = {}
    for c in checks:
        for n in c.cites:
            cit = citations.setdefault(n, Citation(source=by_n[n]))
            cit.sentences.append(strip_citations(c.text))
            cit.support = max(cit.support, c.support[n])
    for cit in citations.values():
        cit.supported = cit.support >= threshold
    total = sum(len(c.cites) for c in checks)
    good = sum(1 for c in checks for n in c.cites if c.support[n] >= threshold)
    unsupported: list[dict[str, object]] = []
    for c in checks:
        reason = c.reason
        if reason is None and c.claim and max(c.support.values()) < threshold:
            reason = "weak support"
        if reason:
            best = max(c.support.values()) if c.support else None
            unsupported.append({"sentence": c.text, "reason": reason, "support": best})
    return CheckResult(
        sentences=checks,
        citations=sorted(citations.values(), key=lambda x: x.n),
        precision=good / total if total else None,
        unsupported=unsupported,
    )
