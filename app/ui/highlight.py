"""Query-term highlighting and snippets, as escaped HTML (document text is never trusted)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from ingest.analysis import analyzer

Span = tuple[int, int]


def match_spans(text: str, query: str) -> list[Span]:
    """Character spans of ``text`` whose terms are the query's terms, as BM25 matched them
    (the same analysis: Snowball stems for English, Sudachi dictionary forms for Japanese)."""
    return _merge(analyzer().match_spans(text, query))


_CITE_MARK = re.compile(r"\s*\[\d{1,3}\]")


def exact_spans(text: str, sentences: Iterable[str]) -> list[Span]:
    """Where ``sentences`` (e.g. those citing a passage) occur in ``text``, whitespace aside."""
    spans: list[Span] = []
    for sentence in sentences:
        words = _CITE_MARK.sub("", sentence).strip().rstrip(".。!?！？").split()
        if not words:
            continue
        pattern = re.compile(r"\s+".join(re.escape(w) for w in words), re.IGNORECASE)
        spans += [m.span() for m in pattern.finditer(text)]
    return _merge(spans)


def _merge(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def highlight_html(text: str, query: str | None, spans: list[Span] | None = None) -> str:
    """``text`` HTML-escaped, with matches of ``query`` wrapped in ``<mark>``."""
    if spans is None:
        spans = match_spans(text, query) if query else []
    parts: list[str] = []
    at = 0
    for start, end in spans:
        parts.append(html.escape(text[at:start]))
        parts.append(f"<mark>{html.escape(text[start:end])}</mark>")
        at = end
    parts.append(html.escape(text[at:]))
    return "".join(parts)


def snippet(text: str, query: str | None, width: int = 320) -> tuple[str, list[Span]]:
    """A window of about ``width`` characters around the densest matches, and its spans."""
    text = " ".join(text.split())
    spans = match_spans(text, query) if query else []
    if len(text) <= width:
        return text, spans
    start = 0
    if spans:
        # the window that covers the most matches, starting a little before its first one
        best, best_n = spans[0][0], 0
        for s, _ in spans:
            n = sum(1 for a, b in spans if a >= s and b <= s + width)
            if n > best_n:
                best, best_n = s, n
        start = max(0, best - width // 5)
        space = text.rfind(" ", 0, start)
        start = space + 1 if space >= 0 and start - space < 20 else start
    end = min(len(text), start + width)
    if end < len(text):
        cut = text.rfind(" ", start, end)
        end = cut if cut > start + width // 2 else end
    window = text[start:end]
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(text) else ""
    shift = len(prefix) - start
    inside = [(a + shift, b + shift) for a, b in spans if a >= start and b <= end]
    return prefix + window + suffix, inside


def snippet_html(text: str, query: str | None, width: int = 320) -> str:
    window, spans = snippet(text, query, width)
    return highlight_html(window, None, spans)
