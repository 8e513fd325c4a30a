"""Search at scale: BM25 libraries compared, and end-to-end latency of ``MMRag.search``.

Sections (each measured in a fresh subprocess, so RSS numbers are clean):

``lexical``  BM25 candidates on the same pre-tokenised synthetic corpus (our tokenizer's output):
             ``rank-bm25`` (BM25Okapi), ``bm25s``, SQLite FTS5 (our tokens stored space-joined,
             ``bm25()`` ranking) and tantivy (the project's ``index.lexical.LexicalIndex``):
             build time, RSS growth, disk, single-query p50/p95 (top 50), and the cost of adding
             100 documents to an existing index (a rebuild for libraries that cannot update).
``e2e``      a synthetic store (catalog + FAISS text/CLIP indexes with synthetic vectors + the
             real lexical index built by ``Indexer.sync_lexical``), then a warm process runs
             ``MMRag.search`` with the offline models: p50/p95 per mode, with and without
             reranking (``builtin:tiny-reranker``).

Synthetic text: sentences of English words (the alphabetic entries of MiniLM's vocabulary)
drawn from a Zipf distribution; queries are 3-5 words of a random document, a pessimistic mix
of frequent and rare words.

    python benchmarks/search.py --sizes 10000 100000 --threads 2
    python benchmarks/search.py --sections lexical --sizes 1000000 --libs tantivy fts5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
LIBS = ("rank-bm25", "bm25s", "fts5", "tantivy")
TOP = 50
N_QUERIES = 200
ADD = 100


# -- synthetic corpus ---------------------------------------------------------------------------
def vocabulary() -> list[str]:
    from ingest.models import resolve_model

    words = Path(resolve_model("builtin:all-MiniLM-L6-v2"), "vocab.txt").read_text().split()
    return [w for w in words if w.isalpha() and w.isascii() and len(w) >= 3]


def corpus(n: int, seed: int = 7) -> list[str]:
    vocab = vocabulary()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(vocab))  # which words are frequent: arbitrary, fixed
    p = 1.0 / np.arange(1, len(vocab) + 1) ** 1.07
    p /= p.sum()
    lengths = rng.integers(40, 120, n)
    draws = order[rng.choice(len(vocab), size=int(lengths.sum()), p=p)]
    out, pos = [], 0
    for length in lengths:
        words = [vocab[i] for i in draws[pos : pos + length]]
        pos += length
        out.append(" ".join(words).capitalize() + ".")
    return out


def queries(docs: list[str], n: int = N_QUERIES, seed: int = 11) -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    for i in rng.integers(0, len(docs), n):
        words = docs[int(i)].rstrip(".").split()
        out.append(" ".join(rng.choice(words, size=int(rng.integers(3, 6)), replace=False)))
    return out


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def lat(samples_s: list[float]) -> dict[str, float]:
    ms = np.array(samples_s) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
    }


# -- lexical section (one library and size per subprocess) ---------------------------------------
def worker_lexical(lib: str, n: int, work: Path) -> dict[str, Any]:
    import pickle

    from ingest.analysis import analyzer

    docs = corpus(n)
    tok = analyzer()
    cache = Path(tempfile.gettempdir()) / f"mmrag-bench-tokens-{n}-{tok.identity}.pkl"
    t = time.perf_counter()
    tokens = [tok.tokens(d) for d in docs[:10_000]]  # timed on a sample, the rest cached
    tokenize_s = (time.perf_counter() - t) * n / min(n, 10_000)
    if cache.is_file():
        tokens = pickle.loads(cache.read_bytes())
    else:
        tokens += [tok.tokens(d) for d in docs[10_000:]]
        cache.write_bytes(pickle.dumps(tokens, protocol=pickle.HIGHEST_PROTOCOL))
    qtokens = [tok.tokens(q) for q in queries(docs)]
    extra = [tok.tokens(d) for d in corpus(ADD, seed=99)]
    del docs
    _import(lib)  # library code is not index memory
    base = rss_mb()
    res: dict[str, Any] = {"lib": lib, "n": n, "tokenize_s": round(tokenize_s, 2)}
    t = time.perf_counter()
    search, add = _build(lib, tokens, work)
    res["build_s"] = round(time.perf_counter() - t, 2)
    res["rss_delta_mb"] = round(rss_mb() - base, 1)
    res["disk_mb"] = round(sum(f.stat().st_size for f in work.rglob("*") if f.is_file()) / 2**20, 1)
    for q in qtokens[:10]:
        search(q)
    samples = []
    for q in qtokens:
        t = time.perf_counter()
        search(q)
        samples.append(time.perf_counter() - t)
    res.update(lat(samples))
    t = time.perf_counter()
    add(tokens, extra)
    res["add_100_s"] = round(time.perf_counter() - t, 3)
    return res


def _import(lib: str) -> None:
    modules = {"rank-bm25": "rank_bm25", "bm25s": "bm25s", "fts5": "sqlite3", "tantivy": "tantivy"}
    __import__(modules[lib])


def _build(lib: str, tokens: list[list[str]], work: Path):  # type: ignore[no-untyped-def]
    if lib == "rank-bm25":
        from rank_bm25 import BM25Okapi

        model = BM25Okapi(tokens)

        def search(q: list[str]) -> Any:
            scores = model.get_scores(q)
            return np.argpartition(-scores, TOP)[:TOP]

        def add(old: list[list[str]], new: list[list[str]]) -> None:  # no update: rebuild
            BM25Okapi(old + new)

        return search, add
    if lib == "bm25s":
        import bm25s

        model = bm25s.BM25()
        model.index(tokens, show_progress=False)
        model.save(str(work / "bm25s"))

        def search(q: list[str]) -> Any:
            return model.retrieve([q], k=TOP, show_progress=False, n_threads=1)

        def add(old: list[list[str]], new: list[list[str]]) -> None:  # no update: rebuild
            m = bm25s.BM25()
            m.index(old + new, show_progress=False)
            m.save(str(work / "bm25s"))

        return search, add
    if lib == "fts5":
        db = sqlite3.connect(work / "fts.sqlite3")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            'CREATE VIRTUAL TABLE lex USING fts5(body, tokenize="unicode61 remove_diacritics 0 '
            "categories 'L* N* Co M* P* S*'\")"
        )
        with db:
            db.executemany(
                "INSERT INTO lex(rowid, body) VALUES (?, ?)",
                ((i + 1, " ".join(t)) for i, t in enumerate(tokens)),
            )
        db.execute("INSERT INTO lex(lex) VALUES ('optimize')")
        db.commit()

        def search(q: list[str]) -> Any:
            expr = " OR ".join('"' + w.replace('"', '""') + '"' for w in set(q))
            return db.execute(
                "SELECT rowid, bm25(lex) FROM lex WHERE lex MATCH ? ORDER BY rank LIMIT ?",
                (expr, TOP),
            ).fetchall()

        def add(old: list[list[str]], new: list[list[str]]) -> None:
            with db:
                db.executemany(
                    "INSERT INTO lex(rowid, body) VALUES (?, ?)",
                    ((len(old) + i + 1, " ".join(t)) for i, t in enumerate(new)),
                )

        return search, add
    if lib == "tantivy":
        from index.lexical.store import LexicalIndex, joined

        index = LexicalIndex.create(work / "tantivy", "bench")
        for lo in range(0, len(tokens), 50_000):
            part = tokens[lo : lo + 50_000]
            index.add(
                range(lo + 1, lo + len(part) + 1), [joined(t) for t in part], [""] * len(part)
            )
        index.commit()

        def search(q: list[str]) -> Any:
            return index.search(q, TOP, context_boost=0)

        def add(old: list[list[str]], new: list[list[str]]) -> None:
            start = len(old) + 1
            index.add(range(start, start + len(new)), [joined(t) for t in new], [""] * len(new))
            index.commit()

        return search, add
    raise ValueError(lib)


# -- end-to-end section ------------------------------------------------------------------------
def build_store(n: int, store: Path, config: Path) -> dict[str, Any]:
    """A store of ``n`` synthetic chunks (1% images) with real catalog, FAISS and BM25 files."""
    from sqlalchemy import insert

    from app.api import MMRag
    from benchmarks.faiss_scale import synth
    from index.vector_store import FaissStore
    from ingest.catalog import Chunk, Document, FileRecord

    rag = MMRag.open(store, config)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    docs = corpus(n)
    per_doc = 50
    n_docs = (n + per_doc - 1) // per_doc
    with rag.catalog.engine.begin() as conn:
        conn.execute(
            insert(Document),
            [
                {"id": d + 1, "sha256": f"{d:064x}", "kind": "document", "file_type": "txt",
                 "size": 1, "title": f"Synthetic document {d}", "language": "en", "meta": {}}
                for d in range(n_docs)
            ],
        )  # fmt: skip
        conn.execute(
            insert(FileRecord),
            [
                {"path": f"/synthetic/doc{d}.txt", "root": "/synthetic", "size": 1,
                 "mtime_ns": 0, "sha256": f"{d:064x}", "status": "ok", "document_id": d + 1}
                for d in range(n_docs)
            ],
        )  # fmt: skip
        image = np.zeros(n, dtype=bool)
        image[::100] = True
        for lo in range(0, n, 50_000):
            conn.execute(
                insert(Chunk),
                [
                    {"id": i + 1, "document_id": i // per_doc + 1, "ordinal": i % per_doc,
                     "modality": "image" if image[i] else "text",
                     "text": "" if image[i] else docs[i], "language": "en",
                     "element_types": [], "char_start": 0, "char_end": len(docs[i])}
                    for i in range(lo, min(n, lo + 50_000))
                ],
            )  # fmt: skip
    timings["catalog_s"] = time.perf_counter() - t
    for space in ("text", "clip"):
        t = time.perf_counter()
        ident = rag.indexer.embedder(space).identity
        ids = np.arange(1, n + 1, dtype=np.int64)
        if space == "text":
            ids = ids[~image]
        directory = rag.indexer.space_dir(space)
        fs = FaissStore.create(
            ident.dim, ident, rag.settings.index.factory, settings=rag.settings.index.store,
            directory=directory,
        )  # fmt: skip
        for lo in range(0, len(ids), 100_000):
            part = ids[lo : lo + 100_000]
            fs.add(part, synth(len(part), ident.dim, seed=lo + 1))
        fs.save(directory)
        timings[f"faiss_{space}_s"] = time.perf_counter() - t
    t = time.perf_counter()
    report = rag.indexer.sync_lexical()
    timings["lexical_s"] = time.perf_counter() - t
    return {
        "build": {k: round(v, 1) for k, v in timings.items()},
        "lexical_items": report.total,
        "lexical_disk_mb": round(
            sum(f.stat().st_size for f in rag.indexer.lexical_dir().iterdir()) / 2**20, 1
        ),
    }


def worker_e2e(n: int, work: Path, rerank_queries: int) -> dict[str, Any]:
    from app.api import MMRag

    config = ROOT / "configs" / "offline.toml"
    store = work / "store"
    res: dict[str, Any] = {"n": n, **build_store(n, store, config)}
    rag = MMRag.open(store, config, retrieval={"rerank": {"model": "builtin:tiny-reranker"}})
    qs = queries(corpus(min(n, 20_000)))
    runs = {
        "bm25": {"mode": "bm25", "rerank": False},
        "dense": {"mode": "dense", "rerank": False},
        "hybrid": {"mode": "hybrid", "rerank": False},
        "hybrid+rerank": {"mode": "hybrid", "rerank": True},
    }
    base = rss_mb()
    for name, kwargs in runs.items():
        count = rerank_queries if kwargs["rerank"] else len(qs)
        for q in qs[:5]:  # warm: models loaded, indexes opened, caches filled
            rag.search(q, k=10, **kwargs)  # type: ignore[arg-type]
        samples, cpu = [], []
        for q in qs[:count]:
            t, c = time.perf_counter(), time.process_time()
            found = rag.search(q, k=10, **kwargs)  # type: ignore[arg-type]
            samples.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        res[name] = {
            **lat(samples),
            "cpu_p50_ms": round(float(np.median(cpu)) * 1000, 3),  # immune to waiting for a core
            "queries": count,
            "reranked": found.info.reranked,
        }
    res["search_rss_mb"] = round(rss_mb(), 1)
    res["search_rss_growth_mb"] = round(rss_mb() - base, 1)
    return res


# -- driver --------------------------------------------------------------------------------------
def run_worker(args: list[str], timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f}s"}
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write(data: dict[str, Any]) -> None:
    from benchmarks.common import write_results

    write_results("search", data)
    lines = [
        "# Search benchmark",
        "",
        f"Generated by `benchmarks/search.py` ({data.get('threads')} threads, shared 2-core VM, "
        "no GPU). Synthetic English text (Zipf over MiniLM's word list), queries of 3-5 words "
        "taken from a random document; top 50 for BM25 libraries, k=10 end to end.",
        "",
        "## BM25 libraries (same tokens)",
        "",
        "| n | library | tokenize s | build s | RSS Δ MB | disk MB | p50 ms | p95 ms "
        "| add 100 docs s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    order = {lib: i for i, lib in enumerate(LIBS)}
    for r in sorted(data.get("lexical", []), key=lambda r: (r["n"], order.get(r["lib"], 9))):
        if "error" in r:
            lines.append(f"| {r['n']:,} | {r['lib']} | {r['error']} | | | | | | |")
            continue
        lines.append(
            f"| {r['n']:,} | {r['lib']} | {r['tokenize_s']} | {r['build_s']} | "
            f"{r['rss_delta_mb']} | {r['disk_mb']} | {r['p50_ms']} | {r['p95_ms']} | "
            f"{r['add_100_s']} |"
        )
    lines += [
        "",
        "## End to end (`MMRag.search`, warm process, offline models)",
        "",
        "| n chunks | build s (catalog / faiss text / lexical) | mode | p50 ms | p95 ms "
        "| CPU p50 ms | queries |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(data.get("e2e", []), key=lambda r: r["n"]):
        if "error" in r:
            lines.append(f"| {r['n']:,} | {r['error']} | | | | | |")
            continue
        b = r["build"]
        built = f"{b['catalog_s']} / {b['faiss_text_s']} / {b['lexical_s']}"
        for mode in ("bm25", "dense", "hybrid", "hybrid+rerank"):
            m = r[mode]
            row = f"| {r['n']:,} | {built} | {mode} | {m['p50_ms']} | {m['p95_ms']} "
            lines.append(row + f"| {m.get('cpu_p50_ms', '')} | {m['queries']} |")
    if data.get("notes"):
        lines += ["", *[f"- {n}" for n in data["notes"]]]
    (RESULTS / "search.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sections", nargs="+", default=["lexical", "e2e"])
    ap.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000])
    ap.add_argument("--e2e-sizes", nargs="+", type=int, default=None)
    ap.add_argument("--libs", nargs="+", default=list(LIBS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rerank-queries", type=int, default=30)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--merge", action="store_true", help="keep earlier results of other sizes")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "MMRAG_THREADS"):
        os.environ[var] = str(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.worker:
        kind, *rest = args.worker
        work = Path(tempfile.mkdtemp(prefix="mmrag-bench-"))
        try:
            if kind == "lexical":
                out = worker_lexical(rest[0], int(rest[1]), work)
            else:
                out = worker_e2e(int(rest[0]), work, int(rest[1]))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(json.dumps(out))
        return
    old = (
        json.loads((RESULTS / "search.json").read_text())
        if args.merge and (RESULTS / "search.json").is_file()
        else {}
    )
    data: dict[str, Any] = {
        "threads": args.threads,
        "lexical": old.get("lexical", []),
        "e2e": old.get("e2e", []),
        "notes": old.get("notes", []),
    }
    if "lexical" in args.sections:
        for n in args.sizes:
            for lib in args.libs:
                r = run_worker(["lexical", lib, str(n)], args.timeout)
                r.setdefault("lib", lib)
                r.setdefault("n", n)
                data["lexical"] = [x for x in data["lexical"] if (x["lib"], x["n"]) != (lib, n)]
                data["lexical"].append(r)
                print(json.dumps(r), flush=True)
                write(data)
    if "e2e" in args.sections:
        for n in args.e2e_sizes or args.sizes:
            r = run_worker(["e2e", str(n), str(args.rerank_queries)], args.timeout)
            r.setdefault("n", n)
            data["e2e"] = [x for x in data["e2e"] if x["n"] != n] + [r]
            print(json.dumps(r), flush=True)
            write(data)


if __name__ == "__main__":
    main()
