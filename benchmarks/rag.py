"""Grounded answering quality and latency on labelled questions over the sample corpus.

    python benchmarks/rag.py [--llm extractive --llm gemma3-270m]
                             [--limit-llm 12] [--store DIR] [--questions FILE]

Question sets: data/eval/questions.jsonl (the retrieval labels: the gold_text span is the
reference answer) and data/eval/rag_questions.jsonl (query, reference, gold_file, answerable;
includes unanswerable questions). Per LLM and set:
  * answer_contains_reference: the reference answer appears in the answer (NFKC, case and
    spacing ignored), over answerable questions
  * citation_precision: mean over answers of supported (sentence, citation) pairs / all pairs
  * gold_cited: the gold file is among the cited sources; gold_given: among the sources given
  * not_found_correct: unanswerable questions answered "not found"; false_not_found: answerable
    ones answered "not found"
  * first_token / total latency (p50, p95), models warm
Results: benchmarks/results/rag.json and rag.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from app.api import MMRag
from app.rag.types import Answer
from benchmarks.common import RESULTS, percentiles, write_results
from ingest.config import DEFAULT_EXCLUDES
from tests.conftest import DATA, offline_settings

# FACTS.md and README.md restate the facts: citing them would not be finding them
EXCLUDE = [*DEFAULT_EXCLUDES, "**/FACTS.md", "**/README.md", "**/eval/**"]


# named LLM configurations usable with --llm (besides extractive and BACKEND:MODEL shorthands)
LLMS = {
    "gemma3-270m": {
        "backend": "llamacpp",
        "model": "builtin:gemma3-270m",
        "max_tokens": 96,
        "context_tokens": 4096,
        "threads": 1,  # 2 threads on 2 busy cores generate far slower (spin-waits)
    }
}


def load_sets(paths: list[Path] | None) -> dict[str, list[dict[str, Any]]]:
    """Question sets by file name: rows with a reference answer, and unanswerable rows.

    data/eval/questions.jsonl (retrieval labels) has no ``reference``: its ``gold_text`` span
    is the reference; rows without one (pictures without text) are left out.
    """
    paths = paths or [DATA / "eval" / "questions.jsonl", DATA / "eval" / "rag_questions.jsonl"]
    sets: dict[str, list[dict[str, Any]]] = {}
    for p in paths:
        if not p.is_file():
            continue
        rows = []
        for line in p.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            r["reference"] = r.get("reference") or r.get("gold_text")
            r["answerable"] = r.get("answerable", True)
            if r["reference"] or not r["answerable"]:
                rows.append(r)
        sets[p.name] = rows
    if not sets:
        raise SystemExit("no question files found")
    return sets


def norm(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).lower().replace(",", "").split())


def evaluate(rag: MMRag, llm: str, questions: list[dict[str, Any]], k: int) -> dict[str, Any]:
    rows = []
    for q in questions:
        start = time.perf_counter()
        answer: Answer | None = None
        first: float | None = None
        for item in rag.ask_stream(q["query"], llm=llm, k=k):
            if isinstance(item, Answer):
                answer = item
            elif isinstance(item, str) and first is None:
                first = time.perf_counter() - start
        total = time.perf_counter() - start
        assert answer is not None
        gold = q.get("gold_file")
        cited = [c.source.result.source for c in answer.citations]
        given = [s.result.source for s in answer.sources]
        rows.append(
            {
                "query": q["query"],
                "answerable": q.get("answerable", True),
                "status": answer.status,
                "answer": answer.text,
                "contains_reference": bool(
                    q.get("reference") and norm(q["reference"]) in norm(answer.text)
                ),
                "citation_precision": answer.citation_precision,
                "invalid_citations": len(answer.invalid_citations),
                "gold_cited": bool(gold and any(s.endswith(gold) for s in cited)),
                "gold_given": bool(gold and any(s.endswith(gold) for s in given)),
                "first_token_s": round(first if first is not None else total, 4),
                "total_s": round(total, 4),
            }
        )
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    precisions = [r["citation_precision"] for r in rows if r["citation_precision"] is not None]

    def share(items: list[dict[str, Any]], key: str) -> float | None:
        return round(sum(bool(r[key]) for r in items) / len(items), 4) if items else None

    return {
        "llm": llm,
        "questions": len(rows),
        "answerable": len(answerable),
        "answer_contains_reference": share(answerable, "contains_reference"),
        "citation_precision": round(statistics.mean(precisions), 4) if precisions else None,
        "answers_with_citations": len(precisions),
        "invalid_citations_total": sum(r["invalid_citations"] for r in rows),
        "gold_cited": share(answerable, "gold_cited"),
        "gold_given": share(answerable, "gold_given"),
        "false_not_found": round(
            sum(r["status"] == "not_found" for r in answerable) / max(1, len(answerable)), 4
        ),
        "not_found_correct": round(
            sum(r["status"] == "not_found" for r in unanswerable) / len(unanswerable), 4
        )
        if unanswerable
        else None,
        "first_token": percentiles([r["first_token_s"] for r in rows]),
        "total": percentiles([r["total_s"] for r in rows]),
        "rows": rows,
    }


def markdown(data: dict[str, Any]) -> str:
    lines = [
        "# Grounded answers (benchmarks/rag.py)",
        "",
        f"Store: the sample corpus `data/` (offline models: multilingual-e5-small, tiny CLIP, "
        "whisper base), "
        f"k = {data['k']}; {data['machine']['cpus']} CPUs shared with other jobs.",
        "",
        "| LLM | question set | questions | contains reference | citation precision "
        "| gold cited | gold given "
        "| unanswerable → not found | answerable → not found | first token p50 / p95 "
        "| total p50 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in data["runs"]:
        r = {k: ("–" if v is None else v) for k, v in r.items()}
        lines.append(
            f"| {r['llm']} | `{r['questions_file']}` | {r['questions']} "
            f"| {r['answer_contains_reference']} "
            f"| {r['citation_precision']} | {r['gold_cited']} | {r['gold_given']} "
            f"| {r['not_found_correct']} | {r['false_not_found']} "
            f"| {r['first_token']['p50_ms']:.0f} / {r['first_token']['p95_ms']:.0f} ms "
            f"| {r['total']['p50_ms']:.0f} ms |"
        )
    lines += [
        "",
        "Contains reference: the reference answer (a short span such as `48.2 million euros`) "
        "appears in the answer. Citation precision: supported (sentence, citation) pairs / all "
        "pairs, averaged over answers with citations. Gold cited / given: the labelled file is "
        "among the cited sources / the sources given to the answerer. The LLM rows other than "
        "extractive use a subset of the questions (`--limit-llm`).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--llm", action="append", help="extractive, gemma3-270m, openai:MODEL ...")
    ap.add_argument("--limit-llm", type=int, default=12, help="questions for non-extractive LLMs")
    ap.add_argument("--questions", type=Path, action="append")
    ap.add_argument("--store", type=Path, default=Path.home() / ".cache" / "mmrag" / "bench-rag")
    ap.add_argument("--k", type=int, default=6)
    args = ap.parse_args()
    llms = args.llm or ["extractive", "gemma3-270m"]
    sets = load_sets(args.questions)
    settings = offline_settings(args.store, ingest={"exclude": EXCLUDE}, rag={"llms": LLMS})
    rag = MMRag(settings)
    t = time.perf_counter()
    list(rag.ingest([DATA]))  # idempotent: unchanged files are skipped
    ingest_s = time.perf_counter() - t
    runs = []
    for llm in llms:
        for name, questions in sets.items():
            if llm != "extractive" and name != list(sets)[-1]:
                continue  # slow models: one subset of the last set only
            subset = questions if llm == "extractive" else _spread(questions, args.limit_llm)
            rag.ask(subset[0]["query"], llm=llm, k=args.k)  # warm-up: load models
            run = {"questions_file": name, **evaluate(rag, llm, subset, args.k)}
            runs.append(run)
            print(json.dumps({k: v for k, v in run.items() if k != "rows"}, ensure_ascii=False))
    data = {"k": args.k, "ingest_s": round(ingest_s, 1), "runs": runs}
    path = write_results("rag", data)
    data["machine"] = json.loads(path.read_text())["machine"]
    (RESULTS / "rag.md").write_text(markdown(data), encoding="utf-8")
    print(f"wrote {path} and rag.md")


def _spread(items: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """``n`` items spread over the list (answerable and unanswerable alike)."""
    if n >= len(items):
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


if __name__ == "__main__":
    main()
