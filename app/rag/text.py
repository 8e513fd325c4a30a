"""Text helpers shared by the answerers and the checker: sentences, content terms, injections."""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata

# A sentence ends at . ! ? (followed by space) or at CJK full stops, or at a line break.
_SENT_END = re.compile(r"(?<=[.!?])\s+(?=\S)|(?<=[。！？])|\n+")
_CITES_AT_START = re.compile(r"^((?:\s*\[[^\]\n]{1,24}\])+)\s*")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")

STOPWORDS = frozenset(
    """a an the and or but if of in on at to for from by with about as into over under than then
    is are was were be been being do does did done has have had having will would shall should can
    could may might must it its this that these those there here what which who whom whose when
    where why how i you he she we they me him her us them my your his our their mine yours not no
    yes so such very also just only more most much many some any each every all both few other
    same own too s t up down out off again further once per via vs etc please tell give show find
    according say says said know""".split()
)

# Text addressed to an AI assistant inside a document: a prompt-injection attempt. Such text is
# never quoted as an answer and the source is labelled when it is shown to a model.
_INJECTION = re.compile(
    r"(ignore|disregard|forget|override)\s+(all\s+|any\s+|the\s+|your\s+)*"
    r"(previous|prior|above|earlier|preceding|other|system)\s+"
    r"(instructions?|prompts?|rules|directions|messages?)"
    r"|you\s+are\s+now\b|new\s+instructions?\s*:|system\s+prompt|developer\s+mode"
    r"|(as|you\s+are)\s+an?\s+(ai|language\s+model|assistant)\b"
    r"|(instead|only)\s+(answer|reply|respond|say|output)\b"
    r"|(以前|前|上記|これまで)の(指示|命令)を(無視|忘れ)",
    re.IGNORECASE,
)


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def split_sentences(text: str) -> list[str]:
    """Sentences (and table rows, list items) of ``text``; citation markers stay with theirs."""
    parts = [p.strip() for p in _SENT_END.split(text) if p and p.strip()]
    out: list[str] = []
    for part in parts:
        m = _CITES_AT_START.match(part)
        if m and out:  # "... euros. [1]" -> the marker belongs to the sentence before
            out[-1] = f"{out[-1]} {m.group(1).strip()}"
            part = part[m.end() :]
        if part:
            out.append(part)
    return out


@functools.cache
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


def terms(text: str) -> set[str]:
    """Content terms: stemmed lower-cased words without stop words ("moved" and "move" are
    one term); CJK text as character bigrams."""
    text = normalize(text).lower()
    found: set[str] = set()
    words: list[str] = []
    for word in _WORD.findall(text):
        if _CJK.search(word):
            chars = [c for c in word if not c.isspace()]
            found.update(a + b for a, b in itertools.pairwise(chars))
            if len(chars) == 1:
                found.add(chars[0])
        elif word not in STOPWORDS and (len(word) > 1 or word.isdigit()):
            words.append(word)
    found.update(_stemmer().stemWords(words))
    return found


def numbers(text: str) -> set[str]:
    """Numbers as written, without thousands separators: '86,000' and '86000' are one."""
    return {n.replace(",", "") for n in _NUMBER.findall(normalize(text))}


def coverage(needle: set[str], haystack: set[str]) -> float:
    """Share of ``needle`` found in ``haystack`` (1.0 for an empty needle)."""
    return len(needle & haystack) / len(needle) if needle else 1.0


def looks_like_injection(text: str) -> bool:
    return bool(_INJECTION.search(normalize(text)))


def is_cjk(text: str) -> bool:
    return bool(_CJK.search(text))
