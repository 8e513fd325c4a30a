"""Single-query search latency on a small store, quiet and beside a busy process.

Users search while an ingest runs: on a 2-core machine another process then keeps a core busy.
This measures ``MMRag.search`` p50/p95 per mode (and the query embedding alone) in three
conditions, each after a warm-up, in one run:

* ``quiet``      nothing else running;
* ``torch-busy`` a process multiplying matrices with torch on one thread (as an ingest does);
* ``shell-busy`` a process spinning in a plain loop.

The store: ``--store DIR`` (e.g. the development store, queried with the development
questions), else a synthetic one of ``--items`` chunks (real catalog and BM25 index, synthetic
vectors: latency only, labelled so in the results).

    python benchmarks/latency.py --items 5000
    python benchmarks/latency.py --store /tmp/dev-store --config configs/offline.toml
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import write_results  # noqa: E402

LOADS = {
    "quiet": None,
    "torch-busy": "import torch\ntorch.set_num_threads(1)\na = torch.randn(512, 512)\n"
    "while True:\n    a = (a @ a).tanh()\n",
    "shell-busy": "while True:\n    pass\n",
}


def percentiles(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {
        "p50": round(statistics.median(ms), 1),
        "p95": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 1),
        "n": len(ms),
    }


def queries_for(store: Path | None, n: int) -> list[str]:
    if store is not None:
        from benchmarks.dev_eval.run import load_questions

        return [r["query"] for r in load_questions("all")][:n]
    from benchmarks.search import corpus, queries

    return queries(corpus(2000), n)


def measure(rag: Any, qs: list[str], modes: list[str]) -> dict[str, Any]:
    embed = rag.indexer.embedder("text")
    out: dict[str, Any] = {}
    for q in qs[:5]:  # warm-up: models, indexes, caches
        rag.search(q, k=10)
    times: list[float] = []
    for q in qs:
        t = time.perf_counter()
        embed.embed_texts([q], kind="query")
        times.append((time.perf_counter() - t) * 1000)
    out["query_embedding"] = percentiles(times)
    for mode in modes:
        times = []
        for q in qs:
            t = time.perf_counter()
            rag.search(q, k=10, mode=mode)
            times.append((time.perf_counter() - t) * 1000)
        out[mode] = percentiles(times)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", type=Path, help="a real store (default: a synthetic one)")
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "offline.toml")
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--modes", nargs="+", default=["bm25", "dense", "hybrid"])
    args = ap.parse_args()
    from app.api import MMRag

    tmp = None
    store = args.store
    built: dict[str, Any] = {}
    if store is None:
        from benchmarks.search import build_store

        tmp = tempfile.TemporaryDirectory(prefix="mmrag-latency-")
        store = Path(tmp.name) / "store"
        built = build_store(args.items, store, args.config)
    rag = MMRag.open(store, config=args.config)
    qs = queries_for(args.store, args.queries)
    results: dict[str, Any] = {}
    for name, code in LOADS.items():
        load = subprocess.Popen([sys.executable, "-c", code]) if code else None
        try:
            time.sleep(1.0 if load else 0)  # let the load reach its loop
            results[name] = measure(rag, qs, args.modes)
        finally:
            if load is not None:
                load.kill()
                load.wait()
        print(name, results[name], flush=True)
    with rag.catalog.session() as s:
        from sqlalchemy import func, select

        from ingest.catalog import Chunk

        items = s.scalar(select(func.count(Chunk.id)))
    write_results(
        "latency",
        {
            "load_average_before": list(__import__("os").getloadavg()),
            "store": str(args.store) if args.store else f"synthetic ({args.items} items)",
            "vectors": "real" if args.store else "synthetic (latency only)",
            "items": items,
            "config": str(args.config),
            "text_backend": type(rag.indexer.embedder("text")).__name__,
            "build": built,
            "results_ms": results,
        },
    )
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
