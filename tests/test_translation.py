"""Cross-lingual keyword search: the JMdict lexicon, query translation, and the ``bm25_xl``
list that searches the other language's items with the translated words."""

from __future__ import annotations

import lzma
import sqlite3
from pathlib import Path

import pytest

from app.api import MMRag
from retrieval import translation
from retrieval.translation import DictionaryTranslator, build_lexicon, load_translator
from tests.conftest import offline_settings


@pytest.fixture(scope="module")
def rag(sample_store: Path) -> MMRag:
    return MMRag(offline_settings(sample_store))


# a few entries in jamdict's schema: (idseq, kanji forms, readings, common, senses' glosses)
ENTRIES = [
    (1, ["圧縮"], ["あっしゅく"], True, [["compression", "condensation"]]),
    (2, ["訓練"], ["くんれん"], True, [["training", "drill", "practice"]]),
    (3, ["錐"], ["きり"], False, [["drill"]]),
    (4, ["切り離す"], ["きりはなす"], True, [["to detach (from)", "to cut loose"]]),
    (5, ["階段"], ["かいだん"], True, [["stairs", "staircase"], ["steps (e.g. of a process)"]]),
]


def jamdict_db(path: Path) -> Path:
    db = sqlite3.connect(path)
    db.executescript(
        """create table Entry (idseq integer); create table Kanji (ID integer primary key,
        idseq integer, text text); create table Kana (ID integer primary key, idseq integer,
        text text, nokanji boolean); create table KJP (kid integer, text text);
        create table KNP (kid integer, text text); create table Sense (ID integer primary key,
        idseq integer); create table SenseGloss (sid integer, lang text, gend text, text text);"""
    )
    for idseq, kanji, kana, common, senses in ENTRIES:
        db.execute("insert into Entry values (?)", (idseq,))
        for text in kanji:
            kid = db.execute("insert into Kanji (idseq, text) values (?, ?)", (idseq, text))
            if common:
                db.execute("insert into KJP values (?, 'ichi1')", (kid.lastrowid,))
        for text in kana:
            db.execute("insert into Kana (idseq, text, nokanji) values (?, ?, 0)", (idseq, text))
        for glosses in senses:
            sid = db.execute("insert into Sense (idseq) values (?)", (idseq,)).lastrowid
            for g in glosses:
                db.execute("insert into SenseGloss values (?, 'eng', null, ?)", (sid, g))
    db.execute("insert into SenseGloss values (1, 'ger', null, 'Kompression')")
    db.commit()
    db.close()
    return path


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> DictionaryTranslator:
    tmp = tmp_path_factory.mktemp("lexicon")
    out = tmp / "lexicon.sqlite3"
    build_lexicon(jamdict_db(tmp / "jamdict.db"), out)
    return DictionaryTranslator(out)


def test_english_words_become_japanese_ones_common_first(small: DictionaryTranslator) -> None:
    out = small.translate("how often is the fire drill held? (gzip compression)", "en", "ja")
    assert out is not None
    words = out.split()
    assert words.index("訓練") < words.index("錐")  # the common word for "drill" comes first
    assert "圧縮" in words and "gzip" in words  # Latin-script words stay for the other side
    assert "Kompression" not in out  # English glosses only


def test_japanese_words_become_english_ones(small: DictionaryTranslator) -> None:
    out = small.translate("子を親から切り離して階段で圧縮する", "ja", "en")
    assert out is not None
    # inflected 切り離して is found by its dictionary form; notes and "to" are dropped
    assert "detach" in out and "(from)" not in out and "to detach" not in out
    assert "stairs staircase" in out and "process" not in out  # the first sense only
    assert "compression" in out


def test_nothing_to_translate(small: DictionaryTranslator) -> None:
    assert small.translate("zebra crossing", "en", "ja") is None  # no known word
    assert small.translate("訓練", "ja", "de") is None  # only English <-> Japanese


def test_lexicon_from_the_compressed_database(tmp_path: Path) -> None:
    plain = jamdict_db(tmp_path / "jamdict.db")
    packed = tmp_path / "jamdict.db.xz"
    packed.write_bytes(lzma.compress(plain.read_bytes()))
    build_lexicon(packed, tmp_path / "out" / "lexicon.sqlite3")
    assert DictionaryTranslator(tmp_path / "out" / "lexicon.sqlite3").translate(
        "staircase", "en", "ja"
    ) == ("staircase 階段")


def test_without_the_dictionary_search_still_works(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sample_store: Path
) -> None:
    def missing() -> Path:
        raise FileNotFoundError("JMdict is not installed (pip install jamdict-data)")

    monkeypatch.setattr(translation, "cache_dir", lambda: tmp_path)  # no lexicon built yet
    monkeypatch.setattr(translation, "_jmdict_database", missing)
    assert load_translator("jmdict") is None
    assert load_translator("none") is None
    with pytest.raises(ValueError, match="unknown query translator"):
        load_translator("babelfish")
    rag = MMRag(offline_settings(sample_store))
    hits = rag.search("Which staircase do we use to evacuate?", k=5, rerank=False)
    assert "bm25_xl" not in hits.info.candidates and "text_xl" in hits.info.candidates
    assert len(hits) == 5  # by the other retrievers


def test_english_keywords_find_the_japanese_passage(rag: MMRag) -> None:
    """The real dictionary: "drill" and "staircase" are 訓練 and 階段 in the notice."""
    translated = rag.searcher.translate("Which staircase do we use to evacuate?")
    assert translated is not None and "階段" in translated
    hits = rag.search("Which staircase do we use to evacuate?", k=5, rerank=False)
    assert "bm25_xl" in hits.info.candidates
    # without the dictionary the notice is not in the top 5 (no shared word, and the
    # multilingual model prefers English passages about "use")
    notice = next(h for h in hits if h.source.endswith("scan_notice_ja.pdf"))
    assert "階段" in notice.text and "bm25_xl" in notice.scores
