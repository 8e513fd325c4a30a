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
