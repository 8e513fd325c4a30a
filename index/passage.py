"""What the index reads of an item: its text, headed by where it sits in its document.

A chunk taken out of a long page often does not name its subject ("Returns the number of
bytes…"): the document title and the section path say what it is about. The same context is
given to BM25 (as a separate, lightly boosted field), to the passage embedder and to a
reranker.
"""

from __future__ import annotations

from ingest.types import SECTION_SEPARATOR

# Names the text-space recipe in index identities: vectors made another way are refused.
CONTEXT_RECIPE = "title+section-v1"
PLAIN_RECIPE = "text"


def context_parts(title: str | None, section: str | None) -> list[str]:
    """Title and section path, without repeating a title that opens the section path."""
    parts = [title.strip()] if title and title.strip() else []
    if section and section != title:
        rest = section.removeprefix(title + SECTION_SEPARATOR) if title else section
        parts += [p for p in rest.split(SECTION_SEPARATOR) if p.strip() and p.strip() not in parts]
    return parts


def with_context(text: str, title: str | None, section: str | None) -> str:
    """``text`` headed by its context line (``title > section``), unless it already opens it."""
    parts = [p for p in context_parts(title, section) if p not in text[: 4 * len(p) + 80]]
    return f"{SECTION_SEPARATOR.join(parts)}\n{text}" if parts else text
