"""The evaluation harness: metrics, relevance judgements, and hybrid vs single modes on data/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.api import MMRag
from app.cli import app
from retrieval.evaluate import (
    Question,
    evaluate,
    first_rank,
    is_relevant,
    load_questions,
    ndcg_at,
    question_metrics,
)
from retrieval.types import SearchResult
from tests.conftest import DATA, OFFLINE, offline_settings

QUESTIONS = DATA / "eval" / "questions.jsonl"


def _r(source: str, text: str = "", **kw: object) -> SearchResult:
    return SearchResult(id=0, score=0.0, modality="text", source=source, text=text, **kw)  # type: ignore[arg-type]


def test_metrics_on_a_hand_made_ranking() -> None:
    assert first_rank([False, False, True, True]) == 3
    m = question_metrics([False, False, True, True])
    assert m == {"hit@1": 0.0, "hit@5": 1.0, "mrr": pytest.approx(1 / 3), "ndcg@10": 0.5}
    assert question_metrics([True]) == {"hit@1": 1.0, "hit@5": 1.0, "mrr": 1.0, "ndcg@10": 1.0}
    assert question_metrics([False] * 10) == {
        "hit@1": 0.0,
        "hit@5": 0.0,
        "mrr": 0.0,
        "ndcg@10": 0.0,
    }
    late = question_metrics([False] * 6 + [True])
    assert late["hit@5"] == 0.0 and late["ndcg@10"] == pytest.approx(1 / 3)  # 1/log2(8)
    # general binary nDCG: two relevant items, found at ranks 1 and 3
    assert ndcg_at([True, False, True], 10, n_relevant=2) == pytest.approx(
        (1 + 1 / 2) / (1 + 1 / 1.5849625007211562)
    )


def test_relevance_needs_file_text_page_and_time() -> None:
    q = Question.from_json(
        {"query": "q", "gold_file": "reports/r.pdf", "gold_text": "48.2  Million", "page": 2}
    )
    assert q.modality == "text"
    assert is_relevant(_r("/x/reports/r.pdf", "revenue of 48.2\nmillion euros", page=2), q)
    assert not is_relevant(_r("/x/reports/r.pdf", "revenue of 48.2 million", page=3), q)
    assert not is_relevant(_r("/x/other/r.pdf", "48.2 million", page=2), q)
    assert not is_relevant(_r("/x/reports/r.pdf", "48.3 million", page=2), q)
    assert not is_relevant(_r("/x/myreports/r.pdf", "48.2 million", page=2), q)
    ja = Question.from_json(
        {"query": "q", "gold_file": "a.pdf", "gold_text": "2025年11月14日（金）"}
    )
    assert is_relevant(_r("/d/a.pdf", "2025 年 11 月 14 日 ( 金 ) 午後"), ja)  # OCR spacing, NFKC
    audio = Question.from_json({"query": "q", "gold_file": "a.mp3", "t_start": 11.0, "t_end": 16})
    assert audio.modality == "audio"
    assert is_relevant(_r("/d/a.mp3", t_start=10.0, t_end=30.0), audio)
    assert not is_relevant(_r("/d/a.mp3", t_start=17.0, t_end=30.0), audio)


def test_evaluate_groups_modes_and_modalities() -> None:
    qs = [
        Question("find a", "a.txt", lang="en"),
        Question("find b", "b.png", modality="image", lang="en"),
    ]
    ranking = {
        "good": {"find a": ["a.txt"], "find b": ["x.txt", "b.png"]},
        "bad": {"find a": ["x.txt"], "find b": ["x.txt"]},
    }

    def search(query: str, mode: str, k: int) -> list[SearchResult]:
        return [_r("/root/" + s) for s in ranking[mode][query]][:k]

    good, bad = evaluate(qs, ["good", "bad"], search, k=10)
    assert good.overall["hit@1"] == 0.5 and good.overall["hit@5"] == 1.0
    assert good.overall["mrr"] == pytest.approx(0.75)
    assert good.groups["modality:image"]["mrr"] == 0.5 and good.counts["modality:text"] == 1
    assert bad.overall == {"hit@1": 0.0, "hit@5": 0.0, "mrr": 0.0, "ndcg@10": 0.0}


def test_question_file_is_well_formed(tmp_path: Path) -> None:
    qs = load_questions(QUESTIONS)
    assert len(qs) >= 60
    kinds = {q.kind for q in qs}
    assert {"keyword", "paraphrase"} <= kinds
    assert sum(q.kind == "paraphrase" for q in qs) >= 0.4 * len(qs)
    assert {q.modality for q in qs} == {"text", "image", "audio"} and {q.lang for q in qs} >= {
        "en",
        "ja",
    }
    assert all((DATA / q.gold_file).is_file() for q in qs)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "no gold file"}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:1"):
        load_questions(bad)


def test_every_question_has_an_answer_in_the_store(sample_store: Path) -> None:
    """The labels are right: some item of the gold file satisfies each question."""
    from sqlalchemy import select

    from ingest.catalog import Chunk, Document, FileRecord

    rag = MMRag(offline_settings(sample_store))
    with rag.catalog.session() as s:
        rows = s.execute(
            select(Chunk, FileRecord.path, Document.file_type)
            .join(FileRecord, FileRecord.document_id == Chunk.document_id)
            .join(Document, Document.id == Chunk.document_id)
        ).all()
    items = [
        _r(path, c.text, page=c.page, page_end=c.page_end, t_start=c.t_start, t_end=c.t_end)
        for c, path, _ in rows
    ]
    missing = [
        q.query for q in load_questions(QUESTIONS) if not any(is_relevant(i, q) for i in items)
    ]
    assert not missing


def test_hybrid_beats_each_single_mode_on_the_sample_corpus(sample_store: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "eval", str(QUESTIONS), "--store", str(sample_store), "--config", str(OFFLINE),
            "--modes", "bm25,dense,hybrid", "--json",
        ],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    modes = json.loads(result.stdout)["modes"]
    hybrid = modes["hybrid"]["overall"]
    for single in ("bm25", "dense"):
        for metric in ("hit@5", "ndcg@10"):
            assert hybrid[metric] >= modes[single]["overall"][metric], (single, metric, modes)
    assert set(modes["hybrid"]["groups"]) >= {"modality:text", "modality:image", "modality:audio"}
