"""Check development questions against an ingested store: every answerable question must have
at least one stored item that counts as a hit (its file, its gold text, its page or time span).

    python -m benchmarks.dev_eval.check_questions QUESTIONS.jsonl --store STORE
    python -m benchmarks.dev_eval.check_questions --store STORE --dump DIR  # stored text per file
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from sqlalchemy import select

from app.config import load_settings
from ingest.catalog import Catalog, Chunk, FileRecord
from retrieval.evaluate import Question, is_relevant
from retrieval.types import SearchResult


def load(path: Path) -> list[dict[str, object]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                sys.exit(f"{path}:{n}: {exc}")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("questions", type=Path, nargs="?")
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--dump", type=Path, help="write each file's stored items here, then stop")
    args = ap.parse_args(argv)
    settings = load_settings(store=args.store)
    catalog = Catalog(settings.store.url)
    items: dict[str, list[SearchResult]] = {}
    with catalog.session() as s:
        rows = s.execute(
            select(Chunk, FileRecord.path).join(
                FileRecord, FileRecord.document_id == Chunk.document_id
            )
        ).all()
        for chunk, path in rows:
            items.setdefault(str(path), []).append(
                SearchResult(
                    id=chunk.id,
                    score=0.0,
                    modality=chunk.modality,
                    source=str(path),
                    text=chunk.text or "",
                    page=chunk.page,
                    page_end=chunk.page_end,
                    t_start=chunk.t_start,
                    t_end=chunk.t_end,
                )
            )
    if args.dump:
        dump(items, args.dump)
        return 0
    bad = 0
    seen: set[str] = set()
    for row in load(args.questions):
        qid = str(row.get("id"))
        if qid in seen:
            print(f"{qid}: duplicate id")
            bad += 1
        seen.add(qid)
        if row.get("answerable") is False:
            continue
        q = Question.from_json(row)
        candidates = [r for src, rs in items.items() if src.endswith("/" + q.gold_file) for r in rs]
        if not candidates:
            print(f"{qid}: gold_file {q.gold_file} is not in the store")
            bad += 1
        elif not any(is_relevant(r, q) for r in candidates):
            print(f"{qid}: no stored item of {q.gold_file} holds {q.gold_text!r} (page {q.page})")
            bad += 1
    print(f"{len(seen)} questions, {bad} problems")
    return 1 if bad else 0


def dump(items: dict[str, list[SearchResult]], out: Path) -> None:
    """One text file per stored file: its items in order, each headed by page or time span."""
    root = Path(os.path.commonpath(list(items)))
    for src, rows in items.items():
        target = out / (str(Path(src).relative_to(root)) + ".txt")
        target.parent.mkdir(parents=True, exist_ok=True)
        parts = []
        for r in sorted(rows, key=lambda r: r.id):
            where = f"page {r.page}" if r.page is not None else ""
            if r.t_start is not None:
                where = f"t {r.t_start:.1f}-{r.t_end:.1f}"
            parts.append(f"=== item {r.id} {r.modality} {where}\n{r.text}")
        target.write_text("\n\n".join(parts), encoding="utf-8")
    print(f"{len(items)} files under {out}")


if __name__ == "__main__":
    raise SystemExit(main())
