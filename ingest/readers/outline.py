"""Sections of plain text laid out by indentation: manual pages, RFCs, ``--help`` dumps.

Such text marks its headings by position alone: ``OPTIONS`` (or オプション) at the left margin,
its body indented beneath. A generic text partitioner sees short lines and guesses titles from
the wrong ones (an option's description becomes the "section" of the chunk it opens), so a
chunk about ``ls --sort`` is filed under an unrelated line instead of "ls > OPTIONS". Text that
is not laid out this way is left to the generic partitioner (``None``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise

MAX_HEADING_CHARS = 60
MIN_INDENTED_SHARE = 0.6  # of the non-blank lines: an outline's body is indented
_SENTENCE_END = re.compile(r"[。！？.!?:;：；,、]\s*$")
_ITEM_MARKS = "-+[(•*·"  # "-a, --all", "• files", "( expr )": an item, not a heading
_GAP = re.compile(r"\S {2,}\S")  # "-c      -lt と..." holds a term and its description
_HYPHENATED = re.compile(r"[a-z]-$")


@dataclass(slots=True, frozen=True)
class Block:
    """A heading (``depth`` 0 is the document's title, 1 a section, 2 a subsection) or a
    paragraph (``depth`` None)."""

    text: str
    depth: int | None = None


def outline(text: str) -> list[Block] | None:
    """The headings and paragraphs of indentation-structured ``text``, or None if it is not."""
    lines = [line.rstrip().expandtabs(8) for line in text.splitlines()]
    body = [_indent(line) for line in lines if line.strip() and _indent(line) > 0]
    if not body or len(body) < MIN_INDENTED_SHARE * sum(1 for line in lines if line.strip()):
        return None
    margin = Counter(body).most_common(1)[0][0]  # where running text sits
    below = _next_indents(lines)
    levels = {i: d for i, line in enumerate(lines) if (d := _heading_level(line, below[i], margin))}
    if sum(1 for d in levels.values() if d == 1) < 2:
        return None
    blocks: list[Block] = []
    paragraph: list[str] = []

    def close() -> None:
        if paragraph:
            blocks.append(Block(_join(paragraph)))
            paragraph.clear()

    for i, line in enumerate(lines):
        if i in levels:
            close()
            blocks.append(Block(" ".join(line.split()), levels[i]))
        elif not line.strip():
            close()
        else:
            paragraph.append(line)
    close()
    return _title_from_name(_without_running_heads(blocks))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _next_indents(lines: list[str]) -> list[int | None]:
    """For each line, the indentation of the next non-blank line after it (None: none)."""
    out: list[int | None] = [None] * len(lines)
    nxt: int | None = None
    for i in range(len(lines) - 1, -1, -1):
        out[i] = nxt
        if lines[i].strip():
            nxt = _indent(lines[i])
    return out


def _heading_level(line: str, below: int | None, margin: int) -> int | None:
    """1 for a heading at the left margin, 2 for one indented less than the running text
    (``below``: the indentation of the next non-blank line)."""
    words = line.strip()
    if not words or len(words) > MAX_HEADING_CHARS or _SENTENCE_END.search(words) or "。" in words:
        return None
    at = _indent(line)
    if below is None or below <= at:
        return None  # a heading has its body indented beneath it
    if at == 0:
        return 1
    return 2 if at < margin and words[0] not in _ITEM_MARKS else None  # "-a, --all" is an item


def _join(lines: list[str]) -> str:
    """A paragraph's lines rejoined: wrapped lines into one, but a term alone on its line and
    its indented description ("-a, --all" / "do not ignore entries starting with .") on lines
    of their own; a word hyphenated at a line end is made whole again."""
    out = " ".join(lines[0].split())
    for prev, line in pairwise(lines):
        words = " ".join(line.split())
        if _indent(line) > _indent(prev) and not _GAP.search(prev.strip()):
            out += "\n" + words
        elif _HYPHENATED.search(out) and words[:1].islower():
            out = out[:-1] + words
        else:
            out += " " + words
    return out


def _without_running_heads(blocks: list[Block]) -> list[Block]:
    """Without the running header and footer ``man`` prints around a page: "LS(1)  User
    Commands  LS(1)" names the page at both ends, and the footer ends with that name too
    (page furniture, like a PDF's running heads; quoted as an answer it says nothing)."""
    if len(blocks) < 3 or blocks[0].depth is not None:
        return blocks
    words = blocks[0].text.split()
    if len(words) < 2 or words[0] != words[-1] or "\n" in blocks[0].text:
        return blocks
    last = blocks[-1]
    footer = last.depth is None and "\n" not in last.text and last.text.split()[-1] == words[0]
    return blocks[1:-1] if footer else blocks[1:]


def _title_from_name(blocks: list[Block]) -> list[Block]:
    """A first section of one short line ("ls - list directory contents") names the document:
    it becomes the title (depth 0) that the other sections sit under."""
    first = next((i for i, b in enumerate(blocks) if b.depth == 1), None)
    if first is None or first + 2 >= len(blocks):
        return blocks
    name, after = blocks[first + 1], blocks[first + 2]
    if name.depth is None and "\n" not in name.text and len(name.text) <= 120 and after.depth:
        return [*blocks[:first], Block(name.text, 0), *blocks[first + 2 :]]
    return blocks
