"""Text analysis shared by every stage: language, sentences, and search terms with offsets.

One module so that what is indexed, what is searched, what is highlighted and what supports a
citation agree: BM25 (``index.lexical``), term coverage (``retrieval``), citation checks and
extractive answers (``app.rag``) and highlighting (``app.ui``) all call :func:`analyzer`.

Terms: English (and other Latin-script text) is NFKC-folded, case-folded, stripped of accents
and digit-group commas ("12,480" -> "12480"), Snowball's English stop words are dropped and the
rest is Snowball-stemmed (PyStemmer). Japanese goes through Sudachi (core dictionary): each word
becomes its normalized dictionary form, so other inflections and spellings match ("延期しました"
and "延期する" share "延期"); particles, auxiliary verbs, punctuation and light verbs are dropped.
Latin words inside Japanese text take the English path ("USBメモリ" -> "usb", "メモリ").
Every term keeps the character span it came from in the original text.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

VERSION = 3  # bump when terms() output changes: stored lexical indexes are rebuilt

# Snowball's English stop-word list (snowballstem.org), plus modal verbs and the pieces that
# contractions split into ("don't" -> "don", "t")
STOP_WORDS = frozenset(
    """i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom this
    that these those am is are was were be been being have has had having do does did doing
    would should could ought a an the and but if or because as until while of at by for with
    about against between into through during before after above below to from up down in out on
    off over under again further then once here there when where why how all any both each few
    more most other some such no nor not only own same so than too very can will may might must
    shall s t d ll m re ve don doesn didn isn aren wasn weren hasn haven hadn won wouldn shouldn
    couldn mustn cannot""".split()
)
# Words that frame a question rather than name what it is about ("please explain how to ...").
QUESTION_WORDS = frozenset(
    "please tell explain describe show know want need like way possible example mean".split()
)

# Sudachi part-of-speech classes that carry no searchable meaning
_JA_DROP = frozenset({"助詞", "助動詞", "補助記号", "空白"})
# light verbs (する, ある, いる, なる) in their normalized forms: in nearly every sentence
_JA_STOP = frozenset({"為る", "有る", "居る", "成る"})
_JA_CHARS = "\u3005\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
_HAS_JA = re.compile(f"[{_JA_CHARS}]")
_KANA = re.compile(r"[\u3040-\u30ff\uff66-\uff9f]")
_LATIN = re.compile(r"[A-Za-z]")
# a number with decimal/time/group separators stays whole; otherwise runs of letters/digits
_WORD = re.compile(r"\d+(?:[.,:]\d+)+|[^\W_]+")
# a period after these does not end a sentence ("e.g. --force")
_ABBREVIATION = re.compile(
    r"(?:\b(?:e\.g|i\.e|etc|vs|cf|approx|Dr|Mr|Mrs|Ms|Prof|No|Fig|Sec|Ch)\.)\s*$"
)
_SUDACHI_MAX = 8000  # characters per Sudachi call (its input limit is ~49 KB of UTF-8)
# A sentence ends after . ! ? followed by space, after 。！？ (and closing quotes or brackets),
# and at a line break (list items, table rows and headings are units of their own).
_SENTENCE_END = re.compile(
    r"(?<=[。！？])[」』）)\"'”’]*[ \t\u3000]*|(?<=[.!?])[\"'”’)\]]*[ \t]+(?=\S)|[ \t]*\n\s*"
)


@dataclass(frozen=True, slots=True)
class Term:
    """A search term and the span of the original text it was read from."""

    term: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Analyzer:
    """Language-aware search terms; ``identity`` names the exact behaviour an index was built
    with (a different one means rebuilding the index)."""

    stem: bool = True
    stop_words: bool = True
    ja_split: Literal["A", "B", "C"] = "A"

    @property
    def identity(self) -> str:
        return (
            f"mmrag-lex-v{VERSION};stem={'snowball-en' if self.stem else 'none'};"
            f"stop={'snowball-en' if self.stop_words else 'none'};ja=sudachi-core-{self.ja_split}"
        )

    def tokens(self, text: str) -> list[str]:
        """The terms of ``text`` in order (repeats kept: term frequency matters to BM25)."""
        return [t.term for t in self.spans(text)]

    __call__ = tokens

    def terms(self, text: str) -> set[str]:
        """The distinct terms of ``text``."""
        return {t.term for t in self.spans(text)}

    def content_terms(self, question: str) -> set[str]:
        """The terms a question is about: its terms without question-framing words."""
        framing = set(self.tokens(" ".join(QUESTION_WORDS)))
        return {t for t in self.terms(question) if t not in framing}

    def key_terms(self, question: str) -> list[Term]:
        """The terms naming what a question is specifically about, which a passage answering
        it must mention: identifiers (``allowHTTP1``, ``tty.WriteStream``, ``--trace-children``,
        ``RAID5``), proper nouns written mid-sentence (``WireGuard``), and words rare in the
        language at large (``netplan``, ``baud``), as measured by wordfreq. Common words are
        left out: a paraphrase may use other ones than the passage."""
        key: list[Term] = []
        framing = set(self.tokens(" ".join(QUESTION_WORDS)))
        for t in self.spans(question):
            surface = question[t.start : t.end]
            before = question[max(0, t.start - 1) : t.start]
            # a version joined to its name is part of it: "HTTP/2" is not "HTTP/1.1"
            version = surface.isdigit() and before in ("/", "-") and _joined(question, t.start - 1)
            if t.term in framing or not surface.isascii() or (len(surface) < 2 and not version):
                continue
            after = question[t.end : t.end + 2]
            compound = (
                before in (".", "_", "-", "/")
                or after[:1] in ("_", "/")
                or (after[:1] in (".", "-") and after[1:2].isalnum())
            )
            identifier = any(c.isdigit() for c in surface) or any(c.isupper() for c in surface[1:])
            proper = surface[:1].isupper() and _mid_sentence(question, t.start)
            if identifier or compound or proper or rare_word(surface):
                key.append(t)
        return key

    def many(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.tokens(t) for t in texts]

    def spans(self, text: str) -> list[Term]:
        """Terms with their character spans in ``text`` (what highlighting marks)."""
        if not text or not text.strip():
            return []
        if _HAS_JA.search(text):
            return list(self._mixed(text))
        return self._latin(text, 0)

    def match_spans(self, text: str, query: str) -> list[tuple[int, int]]:
        """Spans of ``text`` whose terms are terms of ``query`` (as BM25 matched them)."""
        wanted = self.terms(query)
        return [(t.start, t.end) for t in self.spans(text) if t.term in wanted]

    # -- Latin script --------------------------------------------------------------------
    def _latin(self, text: str, offset: int) -> list[Term]:
        found = [
            (m.start() + offset, m.end() + offset, _fold(m.group())) for m in _WORD.finditer(text)
        ]
        if self.stop_words:
            found = [f for f in found if f[2] not in STOP_WORDS]
        if not found:
            return []
        words = [w for _, _, w in found]
        if self.stem:
            words = _stemmer().stemWords(words)
        return [Term(w, a, b) for (a, b, _), w in zip(found, words, strict=True)]

    # -- Japanese (and whatever is mixed in) --------------------------------------------
    def _mixed(self, text: str) -> Iterator[Term]:
        sudachi = _sudachi(self.ja_split)
        for base, piece in _pieces(text):
            latin: tuple[int, int] | None = None  # a run of text without Japanese in it
            for m in sudachi.tokenize(piece):
                surface = m.surface()
                start = base + m.begin()
                if not _HAS_JA.search(surface):
                    # Sudachi cuts "POP3" into "POP" "3": the run is read whole, as in English
                    latin = (latin[0] if latin else start, base + m.end())
                    continue
                if latin is not None:
                    yield from self._latin(text[latin[0] : latin[1]], latin[0])
                    latin = None
                if m.part_of_speech()[0] not in _JA_DROP:
                    word = unicodedata.normalize("NFKC", m.normalized_form()).casefold()
                    if not (self.stop_words and word in _JA_STOP):
                        yield Term(word, start, base + m.end())
            if latin is not None:
                yield from self._latin(text[latin[0] : latin[1]], latin[0])


def _joined(text: str, at: int) -> bool:
    """Whether the character at ``at`` joins two word characters ("HTTP/2", not "and /2")."""
    return 0 < at < len(text) - 1 and text[at - 1].isalnum() and text[at + 1].isalnum()


def _mid_sentence(text: str, at: int) -> bool:
    """Whether position ``at`` is inside a sentence (not its first word)."""
    before = text[:at].rstrip()
    return bool(before) and before[-1] not in ".!?。！？:\n\"'「(（"


@functools.cache
def rare_word(word: str, threshold: float = 3.0) -> bool:
    """An English word rarely used in general (Zipf frequency below 3: once per 10 million
    words). Without wordfreq nothing is called rare."""
    if not word.isalpha() or len(word) < 3:
        return False
    try:
        from wordfreq import zipf_frequency
    except ImportError:  # pragma: no cover - wordfreq is a dependency; degrade quietly
        return False
    return zipf_frequency(word, "en") < threshold


def _fold(word: str) -> str:
    """NFKC, case folding, no accents ("Rikyū" -> "rikyu"), no digit-group commas."""
    word = unicodedata.normalize("NFKC", word).casefold()
    if not word.isascii():
        decomposed = unicodedata.normalize("NFKD", word)
        word = unicodedata.normalize(
            "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
        )
    return word.replace(",", "") if "," in word else word


def _pieces(text: str) -> Iterator[tuple[int, str]]:
    """(offset, piece): long text cut at sentence or line ends into pieces Sudachi accepts."""
    if len(text) <= _SUDACHI_MAX:
        yield 0, text
        return
    start = 0
    while start < len(text):
        end = min(len(text), start + _SUDACHI_MAX)
        if end < len(text):
            cut = max(text.rfind(c, start, end) for c in "\n。．！？!?")
            end = cut + 1 if cut > start else end  # no sentence end nearby: cut anyway
        yield start, text[start:end]
        start = end


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
def analyzer(stem: bool = True, stop_words: bool = True, ja_split: str = "A") -> Analyzer:
    """One analyzer per configuration and process."""
    return Analyzer(stem, stop_words, ja_split)  # type: ignore[arg-type]


# -- sentences and languages --------------------------------------------------------------
def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence; the spans cover ``text`` without gaps (a sentence keeps
    its terminator and the space after it)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        end = m.end()
        if "\n" not in m.group() and _ABBREVIATION.search(text, start, m.start()):
            continue
        if end > start and text[start:end].strip():
            spans.append((start, end))
            start = end
    if text[start:].strip() or not spans:
        spans.append((start, len(text)))
    elif spans:
        spans[-1] = (spans[-1][0], len(text))
    return spans


def split_sentences(text: str) -> list[str]:
    """Sentences (and list items, table rows, headings) of ``text``, stripped."""
    return [s for a, b in sentence_spans(text) if (s := text[a:b].strip())]


def has_japanese(text: str) -> bool:
    return bool(_HAS_JA.search(text))


def detect_language(text: str) -> str | None:
    """Cheap script-based language tag: 'ja', 'en', or None when unsure."""
    sample = text[:2000]
    cjk = len(_HAS_JA.findall(sample))
    latin = len(_LATIN.findall(sample))
    if cjk and (_KANA.search(sample) or cjk >= latin):
        return "ja" if cjk >= 0.15 * (cjk + latin) else "en"
    if latin:
        words = re.findall(r"[a-z]+", sample.lower())
        if words and sum(w in STOP_WORDS for w in words) / len(words) >= 0.05:
            return "en"
        return "en" if len(words) < 8 else None
    return None
