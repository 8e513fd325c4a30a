"""Structure-aware, token-bounded chunking with exact provenance.

Every chunk's text is an exact slice ``doc_text[char_start:char_end]`` of the document's
extracted text (elements joined by blank lines), so offsets can always be checked. A title
starts a new chunk (unless the current one is too short to stand alone), so does a new page or
slide; tables and lists stay whole when they fit; prose is packed by whole sentences (Japanese
。！？ included) and only cut inside a sentence that alone exceeds the budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ingest.analysis import detect_language, sentence_spans
from ingest.tokens import TokenCounter
from ingest.types import SECTION_SEPARATOR, Element, Item, Modality

SEPARATOR = "\n\n"
TITLE_TYPES = frozenset({"Title"})
WHOLE_TYPES = frozenset({"Table", "ListItem", "List", "CodeSnippet", "Formula"})


@dataclass(slots=True)
class _Piece:
    start: int
    end: int
    tokens: int
    page: int | None
    type: str
    section: str | None
    prose: bool  # a sentence of running text: may be carried over as overlap


def join_elements(elements: list[Element]) -> tuple[str, list[tuple[int, int]]]:
    """The document text and each element's (start, end) in it."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for el in elements:
        spans.append((pos, pos + len(el.text)))
        pos += len(el.text) + len(SEPARATOR)
    return SEPARATOR.join(el.text for el in elements), spans


def _group_lists(elements: list[Element]) -> list[Element]:
    """Merge runs of list items into one element so a list stays together."""
    out: list[Element] = []
    for el in elements:
        prev = out[-1] if out else None
        if (
            el.type == "ListItem"
            and prev is not None
            and prev.type == "ListItem"
            and (prev.page == el.page)
        ):
            out[-1] = Element(prev.text + "\n" + el.text, "ListItem", prev.page, prev.depth)
        else:
            out.append(el)
    return out


def chunk_elements(
    elements: list[Element], counter: TokenCounter, max_tokens: int = 256, overlap: int = 32
) -> tuple[str, list[Item]]:
    """Chunk a document's elements; returns its text and the chunks as TEXT items."""
    elements = _group_lists([e for e in elements if e.text.strip()])
    doc_text, spans = join_elements(elements)
    pieces = _pieces(elements, spans, doc_text, counter, max_tokens)
    groups = _pack(pieces, max_tokens, overlap)
    items = [_to_item(g, doc_text) for g in groups]
    for item, n in zip(items, counter.count([i.text for i in items]), strict=True):
        item.token_count = n
    return doc_text, items


def _pieces(
    elements: list[Element],
    spans: list[tuple[int, int]],
    text: str,
    counter: TokenCounter,
    max_tokens: int,
) -> list[list[_Piece]]:
    """One list of pieces per element: the whole element, or its sentences when it is prose."""
    titles: list[tuple[int, str]] = []  # (depth, title) stack
    plans: list[tuple[Element, tuple[int, int], list[tuple[int, int]], str | None]] = []
    for el, (s, e) in zip(elements, spans, strict=True):
        if el.type in TITLE_TYPES:
            while titles and titles[-1][0] >= el.depth:
                titles.pop()
            titles.append((el.depth, el.text.strip()))
        section = SECTION_SEPARATOR.join(t for _, t in titles) or None
        if el.type in TITLE_TYPES or el.type in WHOLE_TYPES:
            parts = [(s, e)]
        else:
            parts = [(s + a, s + b) for a, b in sentence_spans(el.text)]
        plans.append((el, (s, e), parts, section))
    counts = iter(counter.count([text[a:b] for _, _, parts, _ in plans for a, b in parts]))
    out: list[list[_Piece]] = []
    for el, _, parts, section in plans:
        prose = el.type not in TITLE_TYPES and el.type not in WHOLE_TYPES
        pieces: list[_Piece] = []
        for a, b in parts:
            n = next(counts)
            for a2, b2, n2 in _split_oversized(text, a, b, n, max_tokens, el.type in WHOLE_TYPES):
                pieces.append(_Piece(a2, b2, n2, el.page, el.type, section, prose))
        out.append(pieces)
    return out


def _split_oversized(
    text: str, a: int, b: int, tokens: int, max_tokens: int, by_lines: bool
) -> list[tuple[int, int, int]]:
    """Cut a piece that alone exceeds the budget: at line ends (tables, lists) or whitespace."""
    if tokens <= max_tokens:
        return [(a, b, tokens)]
    n_parts = math.ceil(tokens / max_tokens)
    target = (b - a) / n_parts
    cuts, start = [], a
    for i in range(1, n_parts):
        ideal = int(a + i * target)
        sep = "\n" if by_lines else " "
        cut = text.rfind(sep, start + 1, ideal + 1)
        if cut <= start or ideal - cut > target / 2:
            cut = ideal  # no separator nearby (e.g. Japanese without spaces): cut by position
        cuts.append((start, cut))
        start = cut
    cuts.append((start, b))
    share = tokens / max(1, b - a)
    return [(s, e, max(1, round((e - s) * share))) for s, e in cuts if e > s]


def _pack(elements: list[list[_Piece]], max_tokens: int, overlap: int) -> list[list[_Piece]]:
    groups: list[list[_Piece]] = []
    cur: list[_Piece] = []
    used = 0

    def flush(carry: bool) -> None:
        nonlocal cur, used
        if not cur:
            return
        groups.append(cur)
        tail: list[_Piece] = []
        if carry and overlap:
            budget = overlap
            for p in reversed(cur):
                if not p.prose or p.tokens > budget:
                    break
                tail.insert(0, p)
                budget -= p.tokens
        cur, used = tail, sum(p.tokens for p in tail)

    for pieces in elements:
        if not pieces:
            continue
        first = pieces[0]
        if cur and first.page is not None and cur[-1].page not in (None, first.page):
            flush(carry=False)  # chunks never span pages or slides: citations stay exact
        body = sum(p.tokens for p in cur if p.type not in TITLE_TYPES)
        if first.type in TITLE_TYPES and body >= max_tokens // 8:
            # a new section never starts with the old one's tail; a section too short to
            # stand alone (a heading and one line, a code-line mistaken for a heading) is
            # kept with what follows rather than left as a fragment nobody can find
            flush(carry=False)
        total = sum(p.tokens for p in pieces)
        if cur and used + total > max_tokens and total <= max_tokens:
            flush(carry=True)  # keep the element whole in a fresh chunk
            if used + total > max_tokens:
                cur, used = [], 0
        for p in pieces:
            if cur and used + p.tokens > max_tokens:
                flush(carry=True)
                if used + p.tokens > max_tokens:
                    cur, used = [], 0
            cur.append(p)
            used += p.tokens
    if (cur and not all(p.type in TITLE_TYPES for p in cur)) or (cur and not groups):
        groups.append(cur)
    elif cur and groups:  # trailing titles alone: attach to the last chunk's section end
        groups[-1].extend(cur)
    return groups


def _to_item(group: list[_Piece], text: str) -> Item:
    start, end = group[0].start, group[-1].end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    pages = [p.page for p in group if p.page is not None]
    types = list(dict.fromkeys(p.type for p in group))
    chunk_text = text[start:end]
    return Item(
        modality=Modality.TEXT,
        text=chunk_text,
        page=min(pages) if pages else None,
        page_end=max(pages) if pages else None,
        section=_main_section(group),
        element_types=types,
        char_start=start,
        char_end=end,
        language=detect_language(chunk_text),
    )


def _main_section(group: list[_Piece]) -> str | None:
    """The section most of a chunk's text is in: a section too short to stand alone is
    chunked with the next one ("Main Interface" and its one line, then ``requests.request``
    and its whole description) and the chunk is cited by the one it is mostly about."""
    weight: dict[str | None, int] = {}
    for p in group:
        if p.type not in TITLE_TYPES:
            weight[p.section] = weight.get(p.section, 0) + p.tokens
    return max(weight, key=weight.__getitem__) if weight else group[0].section
