"""Tokens for lexical search, the same for indexing and for queries.

English (and other Latin-script text): NFKC, case folding, accents removed, digit-group
commas dropped ("12,480" -> "12480"), the Lucene English stop words removed, Snowball stemming
(PyStemmer). Japanese: morphological analysis with Sudachi (core dictionary, short units),
each word reduced to its normalized dictionary form so that other inflections and spellings
match ("延期しました" and "延期する" share "延期" and "為る"); particles, auxiliary verbs and
punctuation are dropped. Mixed text is analysed by Sudachi and its non-Japanese words go through
the English path, so "USBメモリ" yields "usb" and "メモリ".
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

VERSION = 1  # bump when the output of tokens() changes: stored indexes are rebuilt

# Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET (also bm25s' STOPWORDS_EN): short and safe
ENGLISH_STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their "
    "then there these they this to was will with".split()
)
# Sudachi part-of-speech classes that carry no searchable meaning
_JA_DROP = frozenset({"助詞", "助動詞", "補助記号", "空白"})
# light verbs (する, ある, いる) in their normalized forms: in nearly every sentence
_JA_STOP = frozenset({"為る", "有る", "居る"})
_JA_CHARS = "\u3005\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAS_JA = re.compile(f"[{_JA_CHARS}]")
# a number with decimal/time/group separators stays whole; otherwise runs of letters/digits
_WORD = re.compile(r"\d+(?:[.,:]\d+)+|[^\W_]+")
_SUDACHI_MAX = 8000  # characters per Sudachi call (its input limit is ~49 KB of UTF-8)
_SPLIT_AT = re.compile(r"(?<=[\n。．！？!?])")


@dataclass(frozen=True, slots=True)
class Tokenizer:
    """Language-aware tokens; ``identity`` names the exact behaviour an index was built with."""

    stem: bool = True
    stop_words: bool = True
    ja_split: Literal["A", "B", "C"] = "A"

    @property
    def identity(self) -> str:
        return (
            f"mmrag-lex-v{VERSION};stem={'snowball-en' if self.stem else 'none'};"
            f"stop={'lucene-en' if self.stop_words else 'none'};ja=sudachi-core-{self.ja_split}"
        )

    def tokens(self, text: str) -> list[str]:
        """The tokens of ``text`` in order (repeats kept: term frequency matters)."""
        text = unicodedata.normalize("NFKC", text or "")
        if not text.strip():
            return []
        if _HAS_JA.search(text):
            return list(self._mixed(text))
        return self._latin(text)

    def __call__(self, text: str) -> list[str]:
        return self.tokens(text)

    def many(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.tokens(t) for t in texts]

    # -- Latin script --------------------------------------------------------------------
    def _latin(self, text: str) -> list[str]:
        words = [_fold(w) for w in _WORD.findall(text.casefold())]
        if self.stop_words:
            words = [w for w in words if w not in ENGLISH_STOP_WORDS]
        if self.stem and words:
            return _stemmer().stemWords(words)
        return words

    # -- Japanese (and whatever is mixed in) --------------------------------------------
    def _mixed(self, text: str) -> Iterator[str]:
        sudachi = _sudachi(self.ja_split)
        for piece in _pieces(text):
            for m in sudachi.tokenize(piece):
                surface = m.surface()
                if not _HAS_JA.search(surface):
                    yield from self._latin(surface)
                elif m.part_of_speech()[0] not in _JA_DROP:
                    word = m.normalized_form().casefold()
                    if not (self.stop_words and word in _JA_STOP):
                        yield word


def _fold(word: str) -> str:
    """Drop accents ("rikyū" -> "rikyu") and digit-group commas ("12,480" -> "12480")."""
    if not word.isascii():
        decomposed = unicodedata.normalize("NFKD", word)
        word = unicodedata.normalize(
            "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
        )
    if "," in word:
        word = word.replace(",", "")
    return word


def _pieces(text: str) -> Iterator[str]:
    """Cut long text at sentence or line ends into pieces Sudachi accepts."""
    if len(text) <= _SUDACHI_MAX:
        yield text
        return
    buf = ""
    for part in _SPLIT_AT.split(text):
        while len(part) > _SUDACHI_MAX:  # no sentence end for a long stretch: cut anyway
            yield part[:_SUDACHI_MAX]
            part = part[_SUDACHI_MAX:]
        if len(buf) + len(part) > _SUDACHI_MAX:
            yield buf
            buf = ""
        buf += part
    if buf:
        yield buf


@functools.cache
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


@functools.cache
def _sudachi(split: str):  # type: ignore[no-untyped-def]
    from sudachipy import Dictionary, SplitMode

    mode = {"A": SplitMode.A, "B": SplitMode.B, "C": SplitMode.C}[split]
    return Dictionary(dict="core").create(mode=mode)


@functools.cache
def tokenizer(stem: bool = True, stop_words: bool = True, ja_split: str = "A") -> Tokenizer:
    """One tokenizer per configuration and process."""
    return Tokenizer(stem, stop_words, ja_split)  # type: ignore[arg-type]
