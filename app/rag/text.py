"""Answer-side text helpers: sentences with their citation markers, numbers, injections.

Terms, sentences and stop words come from ``ingest.analysis`` (the same analysis BM25 and the
highlighter use), so a citation's support agrees with what was retrieved and highlighted.
"""

from __future__ import annotations

import re
import unicodedata

from ingest.analysis import STOP_WORDS, analyzer, has_japanese
from ingest.analysis import split_sentences as _sentences

__all__ = ["STOP_WORDS", "coverage", "is_cjk", "looks_like_injection", "normalize", "numbers"]
__all__ += ["split_sentences", "terms"]

_CITES_AT_START = re.compile(r"^((?:\s*\[[^\]\n]{1,24}\])+)\s*")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")

# Text addressed to an AI assistant inside a document: a prompt-injection attempt. Such text is
# never quoted as an answer and the source is labelled when it is shown to a model.
_INJECTION = re.compile(
    r"(ignore|disregard|forget|override)\s+(all\s+|any\s+|the\s+|your\s+)*"
    r"(previous|prior|above|earlier|preceding|other|system)\s+"
    r"(instructions?|prompts?|rules|directions|messages?)"
    r"|you\s+are\s+now\b|new\s+instructions?\s*:|system\s+prompt|developer\s+mode"
    r"|(as|you\s+are)\s+an?\s+(ai|language\s+model|assistant)\b"
    r"|(instead|only)\s+(answer|reply|respond|say|output)\b"
    r"|^\s*(system|assistant)\s*:"
    r"|(以前|前|上記|これまで)の(指示|命令)を(無視|忘れ)",
    re.IGNORECASE | re.MULTILINE,
)


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def split_sentences(text: str) -> list[str]:
    """Sentences (and table rows, list items) of ``text``; citation markers stay with theirs."""
    out: list[str] = []
    for part in _sentences(text):
        m = _CITES_AT_START.match(part)
        if m and out:  # "... euros. [1]" -> the marker belongs to the sentence before
            out[-1] = f"{out[-1]} {m.group(1).strip()}"
            part = part[m.end() :].strip()
        if part:
            out.append(part)
    return out


def terms(text: str) -> set[str]:
    """Content terms, exactly as BM25 indexes them ("moved" and "move" are one term)."""
    return analyzer().terms(text)


def numbers(text: str) -> set[str]:
    """Numbers as written, without thousands separators: '86,000' and '86000' are one."""
    return {n.replace(",", "") for n in _NUMBER.findall(normalize(text))}


def without_numbers(text: str, known: set[str]) -> str:
    """``text`` (normalized) with the numbers in ``known`` (as ``numbers`` gives them) removed."""
    return _NUMBER.sub(
        lambda m: "" if m.group().replace(",", "") in known else m.group(), normalize(text)
    )


def coverage(needle: set[str], haystack: set[str]) -> float:
    """Share of ``needle`` found in ``haystack`` (1.0 for an empty needle)."""
    return len(needle & haystack) / len(needle) if needle else 1.0


def looks_like_injection(text: str) -> bool:
    return bool(_INJECTION.search(normalize(text)))


def is_cjk(text: str) -> bool:
    return has_japanese(text)
