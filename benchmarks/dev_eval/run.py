"""Development evaluation on real documents: retrieval per set, answerability, latency.

Questions live in ``benchmarks/dev_eval/questions/*.jsonl`` (see README.md there); each has a
``split``: settings are tuned on ``tune`` only and figures are reported on ``test``.

    python -m benchmarks.dev_eval.run --corpus /tmp/dev-corpus --store /tmp/dev-store \\
        --config configs/offline.toml --split test --out benchmarks/results/dev_eval.json

The store is ingested from the corpus first when it is empty. A retrieval hit is the right file
AND an item holding the answer phrase (PDF: on the right page; audio: overlapping the answer's
time span); ``file@5`` counts the right file alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.api import MMRag
from ingest.catalog import Chunk, Document
from retrieval.evaluate import Question, first_rank, is_relevant, squash

HERE = Path(__file__).parent
SETS = ("en-html", "pdf", "ja", "xling-en-ja", "xling-ja-en", "ocr", "audio")


def load_questions(split: str, folder: Path = HERE / "questions") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if split == "all" or row.get("split") == split:
                    rows.append(row)
    return rows


def _file_hit(results: Sequence[Any], q: Question) -> int | None:
    for i, r in enumerate(results, 1):
        src = r.source.replace("\\", "/")
        if src == q.gold_file or src.endswith("/" + q.gold_file):
            return i
    return None


def retrieval(rag: MMRag, rows: Iterable[dict[str, Any]], modes: Sequence[str], k: int = 10):
    """Per mode and set: hit@1, hit@5, MRR, file@5; per question ranks; search latencies."""
    out: dict[str, Any] = {}
    questions = [(row, Question.from_json(row)) for row in rows if row.get("answerable", True)]
    for mode in modes:
        per_set: dict[str, list[dict[str, float]]] = defaultdict(list)
        ranks, latencies = [], []
        for row, q in questions:
            start = time.perf_counter()
            results = rag.search(q.query, k=k, mode=mode)  # type: ignore[arg-type]
            latencies.append(time.perf_counter() - start)
            rank = first_rank([is_relevant(r, q) for r in results])
            frank = _file_hit(results, q)
            m = {
                "hit@1": float(rank == 1),
                "hit@5": float(rank is not None and rank <= 5),
                "mrr": 1.0 / rank if rank else 0.0,
                "file@5": float(frank is not None and frank <= 5),
            }
            per_set[row["set"]].append(m)
            per_set["all"].append(m)
            ranks.append({"id": row["id"], "rank": rank, "file_rank": frank})
        out[mode] = {
            "sets": {
                s: {**_mean(v), "n": len(v)} for s, v in sorted(per_set.items(), key=_set_order)
            },
            "questions": ranks,
            "latency_ms": _latency(latencies),
        }
    return out


def answers(rag: MMRag, rows: Iterable[dict[str, Any]], k: int | None = None) -> dict[str, Any]:
    """``ask`` on answerable and unanswerable questions: answered / not-found rates, and
    whether the answer or a cited passage holds the answer phrase (answerable ones)."""
    per: dict[str, list[dict[str, float]]] = defaultdict(list)
    details, first_tokens = [], []
    for row in rows:
        answer = rag.ask(row["query"], k=k)
        first_tokens.append(answer.timings.get("first_token_s", 0.0))
        answerable = row.get("answerable", True)
        found = answer.status == "answered"
        holds = False
        if answerable and found and row.get("gold_text"):
            needle = squash(row["gold_text"])
            cited = [c.source.result.text for c in answer.citations]
            holds = needle in squash(answer.text) or any(needle in squash(t) for t in cited)
        elif answerable and found:  # audio, images: the gold item cited
            q = Question.from_json(row)
            holds = any(is_relevant(c.source.result, q) for c in answer.citations)
        group = row["set"] if answerable else "unanswerable"
        per[group].append({"answered": float(found), "holds": float(holds)})
        details.append({"id": row["id"], "status": answer.status, "holds": holds})
    answerable_rows = [m for g, v in per.items() if g != "unanswerable" for m in v]
    unanswerable = per.get("unanswerable", [])
    summary = {
        "not_found_on_unanswerable": _rate(unanswerable, "answered", invert=True),
        "answered_on_answerable": _rate(answerable_rows, "answered"),
        "answer_or_citation_holds_answer": _rate(answerable_rows, "holds"),
        "n_answerable": len(answerable_rows),
        "n_unanswerable": len(unanswerable),
        "sets": {
            g: {"answered": _rate(v, "answered"), "holds": _rate(v, "holds"), "n": len(v)}
            for g, v in sorted(per.items(), key=_set_order)
        },
        "first_token_ms": _latency(first_tokens),
    }
    return {"summary": summary, "questions": details}


def _set_order(item: tuple[str, Any]) -> int:
    name = item[0]
    return SETS.index(name) if name in SETS else len(SETS) + (name != "all")


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(statistics.fmean(r[k] for r in rows), 4) for k in rows[0]} if rows else {}


def _rate(rows: list[dict[str, float]], key: str, invert: bool = False) -> float | None:
    if not rows:
        return None
    value = statistics.fmean(r[key] for r in rows)
    return round(1 - value if invert else value, 4)


def _latency(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {}
    ms = sorted(s * 1000 for s in seconds)
    return {"p50": round(statistics.median(ms), 1), "p95": round(ms[int(0.95 * (len(ms) - 1))], 1)}


def interval(rate: float | None, n: int) -> str:
    """The 95% Wilson interval of a rate over ``n`` questions, as "0.79–0.91": with ~120
    questions a half is about ±0.06 wide, so one round's ±0.02 is one or two questions."""
    if rate is None or not n:
        return "n/a"
    from scipy.stats import binomtest

    ci = binomtest(round(rate * n), n).proportion_ci(method="wilson")
    return f"{ci.low:.2f}–{ci.high:.2f}"


def markdown(result: dict[str, Any]) -> str:
    lines = [f"# Development evaluation ({result['split']} split)", ""]
    lines += [
        f"Store: {result['items']} items from {result['files']} files; config {result['config']}.",
        "",
    ]
    modes = list(result["retrieval"])
    lines += ["| set | n | " + " | ".join(f"{m} hit@5" for m in modes) + " | hybrid file@5 |"]
    lines += ["| --- | --- |" + " --- |" * (len(modes) + 1)]
    sets = result["retrieval"][modes[0]]["sets"]
    for s, v in sets.items():
        cells = [f"{result['retrieval'][m]['sets'][s]['hit@5']:.2f}" for m in modes]
        if s == "all":  # how far the figure could move on another set of questions
            hit = result["retrieval"][modes[-1]]["sets"][s]["hit@5"]
            cells[-1] += f" (95% {interval(hit, v['n'])})"
        file5 = result["retrieval"].get("hybrid", result["retrieval"][modes[-1]])["sets"][s]
        lines.append(f"| {s} | {v['n']} | " + " | ".join(cells) + f" | {file5['file@5']:.2f} |")
    if "answers" in result:
        a = result["answers"]["summary"]
        nu, na = a["n_unanswerable"], a["n_answerable"]
        lines += [
            "",
            f"- not found on unanswerable: {a['not_found_on_unanswerable']} ({nu} questions; "
            f"95% {interval(a['not_found_on_unanswerable'], nu)})",
            f"- answered on answerable: {a['answered_on_answerable']} ({na}; "
            f"95% {interval(a['answered_on_answerable'], na)})",
            f"- answer or cited passage holds the answer: {a['answer_or_citation_holds_answer']} "
            f"(95% {interval(a['answer_or_citation_holds_answer'], na)})",
        ]
    for m in modes:
        lat = result["retrieval"][m]["latency_ms"]
        lines.append(f"- {m} search latency p50 {lat.get('p50')} ms, p95 {lat.get('p95')} ms")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--config", type=Path, default=Path("configs/offline.toml"))
    ap.add_argument("--split", choices=("tune", "test", "all"), default="test")
    ap.add_argument("--modes", nargs="+", default=["bm25", "dense", "hybrid"])
    ap.add_argument("--no-ask", action="store_true", help="retrieval only")
    ap.add_argument("--out", type=Path, help="JSON results (and a .md beside it)")
    args = ap.parse_args(argv)
    rag = MMRag.open(args.store, config=args.config)
    if not (args.store / "catalog.sqlite3").exists():
        for r in rag.ingest([args.corpus]):
            if not r.ok:
                print(f"failed: {r.path}: {r.reason}")
    rows = load_questions(args.split)
    with rag.catalog.session() as s:
        files = s.scalar(select(func.count(Document.id)))
        items = s.scalar(select(func.count(Chunk.id)))
    result: dict[str, Any] = {
        "split": args.split,
        "config": str(args.config),
        "files": files,
        "items": items,
        "retrieval": retrieval(rag, rows, args.modes),
    }
    if not args.no_ask:
        result["answers"] = answers(rag, rows)
    text = markdown(result)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
        args.out.with_suffix(".md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
