"""The development questions: well-formed, split in halves per set, gold fields where due."""

from __future__ import annotations

from collections import Counter

from benchmarks.dev_eval.run import SETS, load_questions
from retrieval.evaluate import Question


def test_questions_are_well_formed_and_split_per_set() -> None:
    rows = load_questions("all")
    assert len({r["id"] for r in rows}) == len(rows)
    answerable = [r for r in rows if r.get("answerable", True)]
    unanswerable = [r for r in rows if r.get("answerable", True) is False]
    assert len(answerable) >= 150 and len(unanswerable) >= 40
    for r in answerable:
        q = Question.from_json(r)  # raises on a missing gold file
        assert r["set"] in SETS and q.lang in ("en", "ja")
        assert q.gold_text or q.t_start is not None or r["set"] == "ocr", r["id"]
        assert r["set"] != "pdf" or q.page is not None, r["id"]
    assert all(not r.get("gold_file") for r in unanswerable)
    # tuned on one half, reported on the other: both halves hold every set
    halves = Counter((r["set"] if r.get("answerable", True) else "una", r["split"]) for r in rows)
    for name in [*SETS, "una"]:
        tune, test = halves[(name, "tune")], halves[(name, "test")]
        assert tune and test and abs(tune - test) <= 2, (name, tune, test)  # per language
