"""Hybrid retrieval: BM25 index lifecycle, fusion, diversity, filters, reranking, CLI contract."""

from __future__ import annotations

import json
import logging
import math
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from app.api import MMRag
from app.cli import app
from index.lexical import LexicalIndex, LexicalMismatchError
from index.lexical.store import joined
from ingest.analysis import analyzer
from retrieval.config import DiversitySettings
from retrieval.diversity import mmr, suppress_duplicates
from retrieval.filters import Filters
from retrieval.fusion import by_modality, rrf, weighted
from retrieval.types import SearchResult
from tests.conftest import DATA, OFFLINE, offline_settings

TINY_RERANKER = {"rerank": {"model": "builtin:tiny-reranker"}}


def _result(i: int, text: str, source: str = "a.txt", **kw: object) -> SearchResult:
    kw.setdefault("modality", "text")
    return SearchResult(id=i, score=1.0 / i, source=source, text=text, **kw)  # type: ignore[arg-type]


# -- fusion math -------------------------------------------------------------------------------
def test_rrf_sums_weighted_reciprocal_ranks() -> None:
    lists = {"bm25": [(1, 9.0), (2, 5.0)], "text": [(2, 0.9), (3, 0.8)]}
    fused = dict(rrf(lists, k=60))
    assert fused[2] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[1] == pytest.approx(1 / 61) and fused[3] == pytest.approx(1 / 62)
    assert [i for i, _ in rrf(lists, k=60)] == [2, 1, 3]
    heavy_text = rrf(lists, k=60, weights={"bm25": 0.5, "text": 2.0})
    assert dict(heavy_text)[3] == pytest.approx(2 / 62)
    assert heavy_text[0][0] == 2 and heavy_text[1][0] == 3


def test_weighted_fusion_is_a_convex_combination_of_min_max_scores() -> None:
    lists = {"bm25": [(1, 10.0), (2, 4.0), (3, 2.0)], "text": [(3, 0.9), (1, 0.5)]}
    fused = dict(weighted(lists, {"bm25": 3.0, "text": 1.0}))
    assert fused[1] == pytest.approx(0.75 * 1.0 + 0.25 * 0.0)
    assert fused[2] == pytest.approx(0.75 * 0.25)
    assert fused[3] == pytest.approx(0.75 * 0.0 + 0.25 * 1.0)
    assert max(fused.values()) <= 1.0


def test_modality_weights_rescale_and_resort() -> None:
    fused = [(1, 0.04), (2, 0.03)]
    kinds = {1: "image", 2: "text"}
    assert by_modality(fused, kinds.get, {"image": 0.5, "text": 1.0}) == [(2, 0.03), (1, 0.02)]
    assert by_modality(fused, kinds.get, {"image": 1.0}) == fused


# -- diversity ---------------------------------------------------------------------------------
PASSAGE = (
    "Corrosion was found on 6 of the 24 lower chord connections. Until repairs are complete, "
    "the load limit is reduced to 3 tonnes."
)


def test_same_passage_in_two_files_is_folded_into_the_first() -> None:
    results = [
        _result(1, PASSAGE, "report.pdf", file_type="pdf"),
        _result(2, "The handrails and bearings are in good condition after painting.", "b.md"),
        _result(3, "  " + PASSAGE.upper() + "\n", "copy.pdf", file_type="pdf"),  # same text
        _result(4, PASSAGE[:90], "old/report.pdf", file_type="pdf"),  # a part of it
        _result(5, PASSAGE, "report.docx", file_type="docx"),  # the same, in another format
        _result(6, PASSAGE, "notice.jpg", modality="image", file_type="jpg"),  # photographed
    ]
    kept, dropped = suppress_duplicates(results, DiversitySettings())
    # another format is another place to cite (a page, a picture): kept as its own result
    assert [r.id for r in kept] == [1, 2, 5, 6] and dropped == 2
    assert kept[0].also_in == ["copy.pdf", "old/report.pdf"]


def test_overlapping_chunks_of_one_document_are_duplicates() -> None:
    a = _result(1, "alpha " * 30, document_id=7, char_start=0, char_end=400)
    b = _result(2, "beta " * 30, document_id=7, char_start=100, char_end=450)
    c = _result(3, "gamma " * 30, document_id=7, char_start=400, char_end=800)
    kept, _ = suppress_duplicates([a, b, c], DiversitySettings())
    assert [r.id for r in kept] == [1, 3]  # b overlaps a by 300/350 chars, c touches a only


def test_japanese_duplicates_and_short_texts() -> None:
    ja = "検索機能のリリースを11月20日に延期する。クラウド費用の上限を月額45万円とする。"
    kept, _ = suppress_duplicates(
        [
            _result(1, ja, "a.md"),
            _result(2, ja.replace("。", "。 "), "b.pptx"),
            _result(3, "Total"),
        ],
        DiversitySettings(),
    )
    assert [r.id for r in kept] == [1, 3]
    cells = [_result(i, "Total 48.2") for i in (1, 2)]  # too short to judge: both kept
    assert len(suppress_duplicates(cells, DiversitySettings())[0]) == 2
    # a short passage leaves most signature bins empty: empty bins are no evidence that it
    # is contained in a long one
    texts = [
        "The fire drill is on Friday at 10:00 in hall B; everyone leaves by the east staircase "
        "and meets at the car park, where the wardens count heads before anyone goes back in.",
        "Budget for 2025 stays at 40k euros.",
    ]
    pair = [_result(i, t, f"{i}.md") for i, t in enumerate(texts, 1)]
    assert len(suppress_duplicates(pair, DiversitySettings())[0]) == 2


def test_mmr_prefers_a_novel_item_over_a_near_copy() -> None:
    results = [_result(1, "a"), _result(2, "b"), _result(3, "c")]
    vectors = {"a": [1.0, 0.0], "b": [0.99, 0.141], "c": [0.0, 1.0]}

    def embed(texts: list[str]) -> np.ndarray:
        return np.array([vectors[t] for t in texts], dtype=np.float32)

    assert [r.id for r in mmr(results, [1.0, 0.95, 0.6], embed, 3, lam=0.5)] == [1, 3, 2]
    assert [r.id for r in mmr(results, [1.0, 0.95, 0.6], embed, 3, lam=1.0)] == [1, 2, 3]


# -- the lexical index ---------------------------------------------------------------------------
def test_lexical_filter_never_starves(tmp_path: Path) -> None:
    tok = analyzer()
    index = LexicalIndex.create(tmp_path / "lex", tok.identity)
    n = 3000
    strong = joined(tok("alpha alpha alpha beacon"))
    weak = joined(tok("alpha " + "filler words about other things " * 20))
    index.add(range(1, n + 1), [strong if i <= n - 5 else weak for i in range(1, n + 1)], [""] * n)
    index.commit()
    allowed = np.arange(n - 4, n + 1, dtype=np.int64)  # the five weakest matches only
    found = index.search(tok("alpha"), 5, allowed=allowed)
    assert sorted(i for i, _ in found) == allowed.tolist()
    assert len(index.search(tok("alpha"), 5)) == 5
    assert index.search(tok("beacon"), 5, allowed=allowed) == []


def test_which_candidates_hold_a_word_whatever_its_frequency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tok = analyzer()
    index = LexicalIndex.create(tmp_path / "lex", tok.identity)
    n = 300
    items = range(1, n + 1)
    bodies = [joined(tok(f"alpha {'beacon' if i % 3 == 0 else 'filler'}")) for i in items]
    index.add(items, bodies, [""] * n)
    index.commit()
    ids = [3, 4, 6, 9, 10, 299]
    expected = {"alpha": set(ids), "beacon": {3, 6, 9}, "absent": set()}
    words = ["alpha", "beacon", "absent"]
    assert index.holding(words, ids) == expected  # postings read whole
    monkeypatch.setattr("index.lexical.store._WHOLE_POSTINGS", 0)
    assert index.holding(words, [3]) == {"alpha": {3}, "beacon": {3}, "absent": set()}
    assert index.holding(words, ids) == expected  # filtered inside the index


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_lexical_index_persists_updates_incrementally_and_prunes(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs, "bridge.md", "# Bridge\n\nThe Millbrook footbridge was inspected in August.\n")
    _write(docs, "会議.md", "# 会議\n\n検索機能のリリースを延期する。\n")
    store = tmp_path / "store"
    rag = MMRag(offline_settings(store))
    list(rag.ingest([docs], index=False))
    first = rag.indexer.sync_lexical()
    assert first.added == 2 and first.total == 2

    # a new process opens the persisted index: nothing is tokenised again
    again = MMRag(offline_settings(store))
    assert again.indexer.sync_lexical().added == 0
    lexical = again.searcher.lexical
    assert lexical.search("inspections of footbridges", 5)[0][0] in _ids(again, "bridge.md")
    assert lexical.search("リリースが延期されました", 5)[0][0] in _ids(again, "会議.md")

    # a new file: only its items are added; a deleted file: its items leave on prune
    _write(docs, "tea.md", "# Tea\n\nThe tea is whisked with a bamboo whisk called a chasen.\n")
    list(again.ingest([docs], index=False))
    assert again.indexer.sync_lexical().added == 1
    (docs / "bridge.md").unlink()
    list(again.ingest([docs], prune=True, index=False))
    report = again.indexer.sync_lexical()
    assert report.removed == 1 and report.total == 2
    again.searcher.refresh()
    assert again.searcher.lexical.search("footbridge", 5) == []
    assert again.searcher.lexical.search("whisked chasen", 5)


def test_tokenizer_change_is_detected_and_repaired(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs, "a.md", "# A\n\nInspections of the footbridge.\n")
    store = tmp_path / "store"
    rag = MMRag(offline_settings(store))
    list(rag.ingest([docs], index=False))
    rag.indexer.sync_lexical()
    unstemmed = MMRag(offline_settings(store, index={"lexical": {"stem": False}}))
    with pytest.raises(LexicalMismatchError):
        unstemmed.indexer.open_lexical()
    findings = {f.check: f for f in unstemmed.doctor()}
    assert findings["lexical index"].repaired
    assert unstemmed.searcher.lexical.search("inspections", 3)
    assert not unstemmed.searcher.lexical.search("inspect", 3)  # now unstemmed


def _ids(rag: MMRag, name: str) -> set[int]:
    from sqlalchemy import select

    from ingest.catalog import Chunk, FileRecord

    with rag.catalog.session() as s:
        return set(
            s.scalars(
                select(Chunk.id)
                .join(FileRecord, FileRecord.document_id == Chunk.document_id)
                .where(FileRecord.path.endswith(name))
            )
        )


# -- searching the sample corpus -----------------------------------------------------------------
@pytest.fixture(scope="module")
def rag(sample_store: Path) -> MMRag:
    return MMRag(offline_settings(sample_store, retrieval=TINY_RERANKER))


def _names(results: list[SearchResult]) -> list[str]:
    return [Path(r.source).name for r in results]


def test_modes_find_keywords_meanings_and_japanese_inflections(rag: MMRag) -> None:
    top = rag.search("Millbrook footbridge corrosion", k=3, mode="bm25", rerank=False)
    assert _names(top)[0] == "bridge_inspection_2025.pdf" and top.info.mode == "bm25"
    assert set(top[0].scores) >= {"bm25", "match"}
    meaning = rag.search("whisk used to prepare matcha", k=3, mode="dense", rerank=False)
    assert "tea_ceremony.html" in _names(meaning)
    ja = rag.search("リリースはいつに延期されましたか", k=3, mode="bm25", rerank=False)
    assert _names(ja)[0] == "会議メモ.md"
    hybrid = rag.search("How much revenue did Kestrel report?", k=5, rerank=False)
    assert hybrid.info.mode == "hybrid" and {"bm25", "text"} <= set(hybrid.info.candidates)
    assert "annual_report_2025.pdf" in _names(hybrid)[:3]


def test_hybrid_leaves_out_a_text_model_that_cannot_read_the_query(
    rag: MMRag, sample_store: Path
) -> None:
    # the offline model (multilingual-e5-small) reads Japanese: the evacuation notice first
    query = "避難に使う階段"
    ja = rag.search(query, k=3, rerank=False)
    assert _names(ja)[0] == "scan_notice_ja.pdf" and "text" in ja.info.candidates
    # a model configured as English-only (e.g. all-MiniLM-L6-v2) is left out of Japanese
    # queries in hybrid mode: its neighbours would be noise outvoting the keywords
    english = MMRag(offline_settings(sample_store, retrieval={"text_languages": ["en"]}))
    only_en = english.search(query, k=3, rerank=False)
    assert _names(only_en)[0] == "scan_notice_ja.pdf"
    assert "text" not in only_en.info.candidates and any("ja" in n for n in only_en.info.notes)
    en = english.search("Which stairs are used to evacuate?", k=3, rerank=False)
    assert "text" in en.info.candidates and not en.info.notes
    dense = english.search(query, k=3, mode="dense", rerank=False)  # asked for: runs, noted
    assert "text" in dense.info.candidates and dense.info.notes
    # pictures under the CLIP floor do not pad the list (a picture is there for its text)...
    few = rag.search("防災訓練", k=10, rerank=False)
    floor = rag.settings.retrieval.min_scores["clip"]
    assert _names(few)[0] == "scan_notice_ja.pdf"
    assert all(
        "text" in r.scores or r.scores.get("clip", 0) >= floor for r in few if r.modality == "image"
    ), _names(few)
    # ...unless pictures are what was asked for
    vague = rag.search("a star", k=3, modality="image", rerank=False)
    assert len(vague) == 3 and all(r.modality == "image" for r in vague)


def test_image_queries_search_the_clip_space(rag: MMRag) -> None:
    found = rag.search(image=DATA / "images" / "red_circle.jpg", k=3, rerank=True)
    assert _names(found)[0] == "red_circle.jpg" and found[0].modality == "image"
    assert not found.info.reranked and found.info.notes  # says why it was not reranked
    for words in ("a red circle", "赤い丸"):  # a short description, not the full caption
        described = rag.search(words, k=3, modality="image", rerank=False)
        assert _names(described)[0] == "red_circle.jpg", (words, _names(described))
        assert not described[0].low_relevance
    audio = rag.search("marine biology lecture", k=3, modality="audio", rerank=False)
    assert audio and all(r.modality == "audio" and r.t_start is not None for r in audio)


def test_filters_combine_with_every_retriever_and_do_not_starve(rag: MMRag) -> None:
    for mode in ("bm25", "dense", "hybrid"):
        pdf = rag.search("revenue", k=5, mode=mode, filters=Filters(file_types=("pdf",)))
        assert pdf and all(r.file_type == "pdf" for r in pdf), mode
    # a filter that keeps only items no retriever ranks high still fills the list
    ja = rag.search("disk quota exceeded", k=4, filters=Filters(languages=("ja",)), rerank=False)
    assert len(ja) == 4 and all(r.language == "ja" for r in ja)
    recent = rag.search(
        "a red circle on a blue background",
        k=10,
        modality="image",
        filters=Filters(date_from=date(2025, 1, 1)),
        rerank=False,
    )
    assert recent and "red_circle.jpg" not in _names(recent)  # EXIF date 2024-05-03
    assert all(r.modality == "image" for r in recent)
    audio = rag.search("budget", k=5, filters=Filters(path_glob="*/audio/*"), rerank=False)
    assert len(audio) == 2 and all("/audio/" in r.source for r in audio)


def test_low_relevance_marks_nonsense_not_good_matches(rag: MMRag) -> None:
    good = rag.search("Millbrook footbridge inspection", k=3, rerank=False)
    assert not good[0].low_relevance
    junk = rag.search("zxqvw blorft quexal", k=5, modality="text", rerank=False)
    assert junk and all(r.low_relevance for r in junk)


def test_reranker_scores_passages_for_real(rag: MMRag) -> None:
    from retrieval.rerank import load_reranker

    reranker = load_reranker(rag.settings.retrieval.rerank)
    assert reranker is not None
    scores = reranker.score(
        "How much revenue did Kestrel report in 2025?",
        [
            "The number of employees grew from 312 to 365 during 2025.",
            "In fiscal year 2025, Kestrel Analytics reported total revenue of 48.2 million euros.",
            "The tea is whisked with a bamboo whisk called a chasen.",
        ],
    )
    assert int(np.argmax(scores)) == 1 and scores.min() >= 0 and scores.max() <= 1


def test_rerank_reorders_candidates(rag: MMRag) -> None:
    changed = 0
    for q in ("Where is the company's head office now?", "What will fixing the bridge cost?"):
        plain = rag.search(q, k=5, rerank=False)
        ranked = rag.search(q, k=5, rerank=True)
        assert ranked.info.reranked and not plain.info.reranked
        probs = [r.scores["rerank"] for r in ranked if r.text.strip()]
        assert probs == sorted(probs, reverse=True) and all(r.reranked for r in ranked if r.text)
        changed += [r.id for r in plain] != [r.id for r in ranked]
    assert changed


def test_missing_reranker_is_reported_once(
    sample_store: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = MMRag(
        offline_settings(sample_store, retrieval={"rerank": {"model": "/nonexistent/reranker"}})
    )
    with caplog.at_level(logging.WARNING, logger="retrieval.rerank"):
        first = broken.search("footbridge", k=3, rerank=True)
        second = broken.search("tea ceremony", k=3, rerank=True)
    assert first and second and not first.info.reranked and not second.info.reranked
    assert any("not reranked" in n for n in first.info.notes)
    assert sum("unavailable" in r.message for r in caplog.records) == 1


# -- the command line ----------------------------------------------------------------------------
CONTRACT = {
    "id", "score", "modality", "source", "page", "page_end", "t_start", "t_end", "title",
    "section", "text", "thumbnail", "image", "file_type", "document_id", "language",
    "char_start", "char_end", "low_relevance", "scores",
}  # fmt: skip


def _cli(*args: str) -> dict:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cli_search_modes_filters_and_json_contract(sample_store: Path) -> None:
    base = ["search", "--store", str(sample_store), "--config", str(OFFLINE), "--json"]
    doc = _cli(*base, "Millbrook footbridge", "--mode", "bm25", "--no-rerank", "-k", "3")
    assert doc["query"] == "Millbrook footbridge" and len(doc["results"]) == 3
    assert set(doc["results"][0]) >= CONTRACT and doc["search"]["mode"] == "bm25"
    assert not doc["search"]["reranked"] and doc["results"][0]["reranked"] is False
    typed = _cli(*base, "revenue", "--type", "pdf", "--lang", "en", "--no-rerank")
    assert typed["results"] and {r["file_type"] for r in typed["results"]} == {"pdf"}
    dated = _cli(*base, "a photo", "--modality", "image", "--before", "2024-12-31", "--no-rerank")
    assert {Path(r["source"]).name for r in dated["results"]} == {
        "red_circle.jpg",
        "yellow_star.png",
    }
    bad = CliRunner().invoke(app, [*base, "x", "--mode", "fuzzy"])
    assert bad.exit_code == 2


def test_scores_are_finite(rag: MMRag) -> None:
    for r in rag.search("password reset page", k=5, rerank=True):
        assert all(math.isfinite(v) for v in r.scores.values()) and math.isfinite(r.score)


# -- calibrated fusion and cross-lingual search ---------------------------------------------------
def test_calibrated_features_are_relative_to_the_query() -> None:
    from retrieval.calibrated import FEATURES, Signals, feature_matrix, probabilities

    results = [
        _result(1, "a", language="en"),
        _result(2, "b", language="ja"),
        _result(3, "c", language="en"),
    ]
    signals = Signals(
        "en",
        bm25=[(3, 8.0), (1, 4.0)],
        cosines={1: 0.9, 2: 0.88, 3: 0.8},
        coverage={1: 0.5, 3: 1.0},
    )
    f = feature_matrix(results, signals)
    col = {name: f[:, i] for i, name in enumerate(FEATURES)}
    assert list(col["bm25"]) == [0.5, 0.0, 1.0] and col["bm25_rank"][1] == 0.0
    assert col["cos_gap"][0] == 0.0 and col["cos_gap"][2] == pytest.approx(-0.1)
    assert col["cos_gap_lang"][1] == 0.0  # the best of its own language
    assert list(col["same_lang"]) == [1.0, 0.0, 1.0]
    weights = {"cos": 10.0, "coverage": 2.0}
    p = probabilities(f, -9.0, weights)
    assert np.all((p > 0) & (p < 1)) and p[0] > p[1]  # a closer passage is likelier


def test_english_question_finds_the_japanese_notice(rag: MMRag) -> None:
    # the multilingual model reads both languages: no shared word, the right document anyway
    hits = rag.search("When is the disaster preparedness drill?", k=3, rerank=False)
    assert "scan_notice_ja.pdf" in _names(hits)
    assert "text_xl" in hits.info.candidates  # Japanese items were searched on their own too
    # its cosine counts whichever list found it: a good match, not a weak one
    notice = next(r for r in hits if r.source.endswith("scan_notice_ja.pdf"))
    assert not notice.low_relevance, notice.scores


def test_other_language_list_is_a_second_chance_not_a_second_vote(rag: MMRag) -> None:
    searcher = rag.searcher
    lists = {"text": [(1, 0.9), (2, 0.8)], "text_xl": [(2, 0.8), (3, 0.7)]}
    fused = dict(searcher._fuse(lists))
    assert fused[1] > fused[2]  # 2 is not counted twice
    assert 3 in fused
