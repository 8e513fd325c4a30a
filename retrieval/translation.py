"""Query translation for cross-lingual search: English <-> Japanese through a dictionary.

A multilingual embedding model ranks passages in the query's own language first, and BM25
cannot match across scripts at all, so an English question about a Japanese manual page found
the page but rarely the passage. Here a query's content words are looked up in JMdict (the
Electronic Dictionary Research and Development Group's Japanese-English dictionary, CC BY-SA
4.0, shipped on PyPI as ``jamdict-data``) and BM25 searches the items in the other language
with the translated words (the ``bm25_xl`` list). Words already in Latin script (commands,
identifiers, product names) are kept as they are: manuals in both languages share them.

The dictionary is condensed once into a small SQLite lexicon in the model cache (about ten
seconds; ``python -m retrieval.translation`` does it ahead of time), keyed by the terms of the
project's one analyzer, so a query is translated in well under a millisecond per word.
"""

from __future__ import annotations

import functools
import logging
import lzma
import re
import shutil
import sqlite3
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from filelock import FileLock

from ingest.analysis import analyzer
from ingest.models import cache_dir

log = logging.getLogger(__name__)

LEXICON_VERSION = 1  # bump when build_lexicon's output changes
_SENSES, _GLOSSES = 1, 3  # per Japanese word: the first sense's first glosses
_WORDS_PER_TERM = 3  # Japanese words kept per English term
_PAREN = re.compile(r"\([^)]*\)")
_KANA = re.compile(r"[\u3040-\u30ff]")


class Translator(Protocol):
    """Turns a query into words of another language (None: nothing to translate)."""

    name: str

    def translate(self, text: str, source: str, target: str) -> str | None: ...


class DictionaryTranslator:
    """Word-by-word English <-> Japanese translation from a lexicon built by `build_lexicon`."""

    name = "jmdict"

    def __init__(self, lexicon: Path) -> None:
        self.path = lexicon
        uri = f"file:{lexicon}?mode=ro&immutable=1"
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._analyzer = analyzer()
        # a question is translated by its search, then again by `ask`'s sentence choice
        self._remembered = functools.lru_cache(maxsize=256)(self._translate)

    def translate(self, text: str, source: str, target: str) -> str | None:
        """The query's words in ``target`` ("en" or "ja"), Latin-script words kept; None when
        the pair is not English/Japanese or no word is known."""
        return self._remembered(text, source, target)

    def _translate(self, text: str, source: str, target: str) -> str | None:
        if {source, target} != {"en", "ja"}:
            return None
        words = list(self._to_en(text) if target == "en" else self._to_ja(text))
        translated = [w for w, was_translated in words if was_translated]
        return " ".join(w for w, _ in words) if translated else None

    def _to_ja(self, text: str) -> Iterator[tuple[str, bool]]:
        for t in self._analyzer.spans(text):
            yield text[t.start : t.end], False
            row = self._db.execute("select ja from en where term = ?", (t.term,)).fetchone()
            if row:
                yield row[0], True

    def _to_en(self, text: str) -> Iterator[tuple[str, bool]]:
        spans = self._analyzer.spans(text)
        i = 0
        while i < len(spans):
            t = spans[i]
            surface = text[t.start : t.end]
            if surface.isascii():
                yield surface, False
                i += 1
                continue
            if len(surface) == 1 and _KANA.fullmatch(surface):  # a stray particle or suffix
                i += 1
                continue
            # the longest run of adjacent words that is a dictionary entry ("子プロセス")
            end = i + 1
            while end < min(len(spans), i + 3) and spans[end].start == spans[end - 1].end:
                end += 1
            for j in range(end, i, -1):
                last = spans[j - 1]  # also with its last word's dictionary form: 切り離す
                keys = [text[t.start : last.end], text[t.start : last.start] + last.term]
                glosses = self._glosses(keys)
                if glosses:
                    yield glosses, True
                    i = j
                    break
            else:
                i += 1

    def _glosses(self, keys: list[str]) -> str | None:
        for key in keys:
            row = self._db.execute("select en from ja where term = ?", (key,)).fetchone()
            if row:
                return str(row[0])
        return None


def load_translator(name: str) -> Translator | None:
    """The translator a configuration names ("jmdict", or "none"); None when it is off or
    its dictionary is not installed (said once in the log)."""
    if name == "none":
        return None
    if name != "jmdict":
        raise ValueError(f"unknown query translator {name!r} (known: jmdict, none)")
    try:
        return DictionaryTranslator(lexicon_path())
    except FileNotFoundError as exc:
        _warn_once(str(exc))
        return None


@functools.cache
def _warn_once(message: str) -> None:
    log.warning("cross-lingual keyword search is off: %s", message)


def lexicon_path() -> Path:
    """The condensed lexicon in the model cache, built on first use."""
    out = cache_dir() / f"lexicon-jmdict-v{LEXICON_VERSION}.sqlite3"
    if out.exists():
        return out
    with FileLock(str(out) + ".lock"):
        if not out.exists():
            build_lexicon(_jmdict_database(), out)
    return out


def _jmdict_database() -> Path:
    try:
        import jamdict_data
    except ImportError:
        raise FileNotFoundError("JMdict is not installed (pip install jamdict-data)") from None
    folder = Path(jamdict_data.__file__).parent
    if (folder / "jamdict.db").exists():
        return folder / "jamdict.db"
    if (folder / "jamdict.db.xz").exists():
        return folder / "jamdict.db.xz"
    raise FileNotFoundError(f"no jamdict.db in {folder} (reinstall jamdict-data)")


def build_lexicon(source: Path, out: Path) -> None:
    """Condense JMdict (jamdict's SQLite database, or its .xz) into two lookup tables:
    ``ja`` (a Japanese writing or reading -> English glosses) and ``en`` (an analyzer term of a
    one-word English gloss -> the Japanese words it translates, common words first)."""
    with tempfile.TemporaryDirectory() as tmp:
        if source.suffix == ".xz":
            plain = Path(tmp) / "jamdict.db"
            with lzma.open(source) as src, plain.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            source = plain
        ja, en = _tables(sqlite3.connect(f"file:{source}?mode=ro", uri=True))
        partial = Path(tmp) / out.name
        db = sqlite3.connect(partial)
        db.execute("create table ja (term text primary key, en text not null) without rowid")
        db.execute("create table en (term text primary key, ja text not null) without rowid")
        db.executemany("insert into ja values (?, ?)", ja.items())
        db.executemany("insert into en values (?, ?)", en.items())
        db.commit()
        db.close()
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(partial, out)  # whole or not at all
    log.info("built the JMdict lexicon %s (%d Japanese, %d English terms)", out, len(ja), len(en))


def _tables(src: sqlite3.Connection) -> tuple[dict[str, str], dict[str, str]]:
    common = {idseq for (idseq,) in src.execute(
        "select k.idseq from Kanji k join KJP p on p.kid = k.ID union "
        "select k.idseq from Kana k join KNP p on p.kid = k.ID"
    )}  # fmt: skip
    writings: dict[int, list[str]] = defaultdict(list)  # kanji forms first, then readings
    for idseq, text in src.execute(
        "select idseq, text from (select idseq, text, 0 as o, ID from Kanji union all "
        "select idseq, text, 1 as o, ID from Kana) order by o, ID"
    ):
        writings[idseq].append(text)
    glosses: dict[int, list[list[str]]] = defaultdict(list)  # per entry, per sense
    last: tuple[int, int] | None = None
    for idseq, sid, text in src.execute(
        "select s.idseq, s.ID, g.text from Sense s join SenseGloss g on g.sid = s.ID "
        "where g.lang = 'eng' order by s.idseq, s.ID, g.rowid"
    ):
        if last != (idseq, sid):
            glosses[idseq].append([])
            last = (idseq, sid)
        glosses[idseq][-1].append(text)

    english = analyzer()
    ja: dict[str, tuple[bool, str]] = {}
    ranked: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for idseq, forms in writings.items():
        senses = [[_clean(g) for g in s[:_GLOSSES]] for s in glosses.get(idseq, [])[:_SENSES]]
        words = [g for s in senses for g in s if g]
        if not words:
            continue
        is_common = idseq in common
        for form in forms:  # a common entry wins a shared writing
            if form not in ja or (is_common and not ja[form][0]):
                ja[form] = (is_common, " ".join(words))
        for rank, gloss in enumerate(words):
            terms = english.tokens(gloss)
            if len(terms) == 1:
                ranked[terms[0]].append((rank - 2.0 * is_common, forms[0]))
    en = {}
    for term, options in ranked.items():
        best = list(dict.fromkeys(w for _, w in sorted(options)))[:_WORDS_PER_TERM]
        en[term] = " ".join(best)
    return {k: v for k, (_, v) in ja.items()}, en


def _clean(gloss: str) -> str:
    """ "to detach (from)" -> "detach": no notes in brackets, no infinitive marker."""
    gloss = _PAREN.sub(" ", gloss).strip()
    return re.sub(r"^to\s+", "", gloss).strip()


if __name__ == "__main__":  # python -m retrieval.translation: build the lexicon ahead of time
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(lexicon_path())
