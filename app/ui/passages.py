"""Passages as people read them: paragraphs and Markdown tables as escaped HTML, highlighted,
shortened at word boundaries.

Chunk text keeps document tables as Markdown (``| a | b |`` rows); shown as it is, a table is a
wall of pipes. Here it becomes an HTML table. Highlights are character spans of the original
text (from :mod:`app.ui.highlight`), so the same spans mark paragraphs and table cells alike.
"""

from __future__ import annotations

import html
import itertools
import re
from dataclasses import dataclass, field
from typing import Literal

from app.ui.highlight import Span, match_spans

ELLIPSIS = "…"
_ROW = re.compile(r"^[ \t]*\|.*\|[ \t]*$")
_RULE = re.compile(r"^[ \t]*\|?(?:[ \t]*:?-{3,}:?[ \t]*\|)+(?:[ \t]*:?-{3,}:?[ \t]*)?[ \t]*$")
_CELL_BAR = re.compile(r"(?<!\\)\|")
_WORDISH = re.compile(r"[^\W_]", re.UNICODE)
_SPACE = re.compile(r"\s+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]")
_SLACK = 30  # how far a cut may move to reach a word boundary


@dataclass(slots=True)
class Block:
    """A paragraph run or a table of the text, by character offsets into it."""

    kind: Literal["text", "table"]
    start: int
    end: int
    rows: list[list[Span]] = field(default_factory=list)  # table: header row first


def blocks(text: str) -> list[Block]:
    """The text split into runs of prose and Markdown tables (a header row, a ``|---|`` rule
    and body rows); anything else that looks like a table stays prose."""
    lines: list[tuple[int, int]] = []
    at = 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        lines.append((at, at + len(body)))
        at += len(line)
    out: list[Block] = []
    prose_from: int | None = None
    i = 0
    while i < len(lines):
        a, b = lines[i]
        is_table = (
            i + 1 < len(lines)
            and _ROW.match(text[a:b])
            and _RULE.match(text[lines[i + 1][0] : lines[i + 1][1]])
        )
        if not is_table:
            prose_from = a if prose_from is None else prose_from
            i += 1
            continue
        if prose_from is not None:
            _add_text(out, text, prose_from, a)
            prose_from = None
        rows = [_cells(text, a, b)]
        j = i + 2
        while j < len(lines) and _ROW.match(text[lines[j][0] : lines[j][1]]):
            rows.append(_cells(text, *lines[j]))
            j += 1
        out.append(Block("table", a, lines[j - 1][1], rows))
        i = j
    if prose_from is not None:
        _add_text(out, text, prose_from, len(text))
    return out


def _add_text(out: list[Block], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    trail = len(piece) - len(piece.rstrip())
    if start + lead < end - trail:
        out.append(Block("text", start + lead, end - trail))


def _cells(text: str, start: int, end: int) -> list[Span]:
    """Offsets of a row's cells (outer bars dropped, each cell stripped of spaces)."""
    line = text[start:end]
    bars = [m.start() for m in _CELL_BAR.finditer(line)]
    cells = []
    for a, b in itertools.pairwise(bars):
        inner = line[a + 1 : b]
        lead = len(inner) - len(inner.lstrip())
        cells.append((start + a + 1 + lead, start + a + 1 + len(inner.rstrip())))
    return cells


# -- rendering -----------------------------------------------------------------------------
def marked(text: str, start: int, end: int, spans: list[Span], collapse: bool = False) -> str:
    """``text[start:end]`` escaped, the parts inside ``spans`` in ``<mark>``; ``collapse``
    turns each whitespace run into one space (for one-line snippets)."""

    def plain(s: str) -> str:
        return html.escape(_SPACE.sub(" ", s) if collapse else s)

    parts: list[str] = []
    at = start
    for a, b in spans:
        a, b = max(a, start), min(b, end)
        if a >= b:
            continue
        parts.append(plain(text[at:a]))
        parts.append(f"<mark>{plain(text[a:b])}</mark>")
        at = b
    parts.append(plain(text[at:end]))
    return "".join(parts)


def table_html(text: str, block: Block, spans: list[Span], rows: list[int] | None = None) -> str:
    """A table block as ``<table>``; ``rows``: which body rows to show (others become one
    "⋯" row)."""
    header, body = block.rows[0], block.rows[1:]
    width = max(len(r) for r in block.rows)
    shown = range(len(body)) if rows is None else sorted(rows)
    cells = "".join(f"<th>{marked(text, a, b, spans)}</th>" for a, b in header)
    out = [f'<table class="mm-table"><thead><tr>{cells}</tr></thead><tbody>']
    last = -1
    for r in shown:
        if r > last + 1:
            out.append(f'<tr class="mm-more"><td colspan="{width}">⋯</td></tr>')
        row = "".join(f"<td>{marked(text, a, b, spans)}</td>" for a, b in body[r])
        out.append(f"<tr>{row}</tr>")
        last = r
    if last < len(body) - 1:
        out.append(f'<tr class="mm-more"><td colspan="{width}">⋯</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)


def passage_html(text: str, spans: list[Span]) -> str:
    """The whole text: prose with its line breaks (the container keeps them), tables as
    tables."""
    parts = []
    for block in blocks(text):
        if block.kind == "table":
            parts.append(table_html(text, block, spans))
        else:
            parts.append(f"<div>{marked(text, block.start, block.end, spans)}</div>")
    return "".join(parts)


def snippet_html(text: str, query: str | None, width: int = 320, table_rows: int = 4) -> str:
    """A short view of ``text`` for a result card: the prose around the query's best matches
    on one line (cut at word boundaries) and, for a table, its header with the matching rows
    (else the first ones)."""
    spans = match_spans(text, query) if query else []
    parts = []
    found = blocks(text)
    prose = [b for b in found if b.kind == "text"]
    budget = width if len(prose) <= 1 else max(80, width // len(prose))
    tables = 0
    for block in found:
        if block.kind == "text":
            a, b = window(text, block.start, block.end, spans, budget)
            pre = ELLIPSIS + " " if a > block.start else ""
            post = " " + ELLIPSIS if b < block.end else ""
            body = marked(text, a, b, spans, collapse=True)
            parts.append(f'<div class="mm-line">{html.escape(pre)}{body}{html.escape(post)}</div>')
        elif tables == 0:  # one table is enough to recognise the passage
            tables += 1
            body_rows = block.rows[1:]
            hits = [i for i, row in enumerate(body_rows) if _touches(row, spans)]
            rows = (hits or list(range(len(body_rows))))[:table_rows]
            parts.append(table_html(text, block, spans, rows))
    return "".join(parts)


def _touches(row: list[Span], spans: list[Span]) -> bool:
    start, end = row[0][0], row[-1][1]
    return any(a < end and b > start for a, b in spans)


def window(text: str, start: int, end: int, spans: list[Span], width: int) -> Span:
    """The part of ``text[start:end]`` (about ``width`` characters) that covers the most
    matches, starting a little before the first of them; both ends at word boundaries."""
    if end - start <= width:
        return start, end
    inside = [(a, b) for a, b in spans if a >= start and b <= end]
    lo = start
    if inside:
        best, best_n = inside[0][0], 0
        for s, _ in inside:
            n = sum(1 for a, b in inside if a >= s and b <= s + width)
            if n > best_n:
                best, best_n = s, n
        lo = max(start, best - width // 5)
        lo = word_start(text, lo, start)
    hi = word_end(text, min(end, lo + width), lo + width // 2)
    while lo < hi and text[lo].isspace():
        lo += 1
    while hi > lo and text[hi - 1].isspace():
        hi -= 1
    return lo, hi


def word_start(text: str, at: int, floor: int = 0) -> int:
    """``at`` moved forward to the start of a word when it falls inside one (for text with
    spaces; Japanese may be cut anywhere)."""
    if at <= floor or not _inside_word(text, at):
        return at
    space = _SPACE.search(text, at, min(len(text), at + _SLACK))
    return space.end() if space else at


def word_end(text: str, at: int, floor: int = 0) -> int:
    """``at`` moved back to the end of a word when it falls inside one."""
    if at >= len(text) or not _inside_word(text, at):
        return at
    for i in range(at - 1, max(floor, at - _SLACK) - 1, -1):
        if text[i].isspace():
            return i
    return at


def _inside_word(text: str, at: int) -> bool:
    if not 0 < at < len(text):
        return False
    left, right = text[at - 1], text[at]
    if _CJK.match(left) or _CJK.match(right):
        return False
    return bool(_WORDISH.match(left) and _WORDISH.match(right))


def neighbour_html(text: str, keep: Literal["head", "tail"], width: int = 400) -> str:
    """The part of a neighbouring passage next to the one shown (its ``head`` or ``tail``),
    about ``width`` characters of whole blocks: prose clipped at a word, tables by rows."""
    found = blocks(text)
    if keep == "tail":
        found.reverse()
    parts: list[str] = []
    room = width
    for block in found:
        if room <= 0:
            break
        if block.kind == "table":
            body = len(block.rows) - 1
            rows = max(1, min(body, room // 60))
            shown = list(range(body - rows, body)) if keep == "tail" else list(range(rows))
            parts.append(table_html(text, block, [], shown))
            room -= 60 * rows
        else:
            piece = clip(text[block.start : block.end], room, keep)
            parts.append(f"<div>{html.escape(piece)}</div>")
            room -= len(piece)
    if keep == "tail":
        parts.reverse()
    return "".join(parts)


def clip(text: str, width: int, keep: Literal["head", "tail"] = "head") -> str:
    """``text`` shortened to about ``width`` characters at a word boundary, with an ellipsis
    where it was cut (its end for ``head``, its start for ``tail``)."""
    text = text.strip()
    if len(text) <= width:
        return text
    if keep == "head":
        return text[: word_end(text, width, width // 2)].rstrip() + " " + ELLIPSIS
    start = word_start(text, len(text) - width)
    return ELLIPSIS + " " + text[start:].lstrip()
