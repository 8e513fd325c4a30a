"""FAISS at scale: build time, memory, single-query latency and recall@10 of ANN candidates.

Synthetic data stands in for sentence embeddings: a gaussian mixture of unit vectors whose
spread lives in a low-rank subspace (plus a little isotropic noise), which gives nearest-
neighbour cosines (~0.75 top-1, ~0.65 top-10) and an intrinsic dimension in the range of
real text embeddings. Uniform random vectors would be much harder than any real corpus.

Each (size, configuration) is built in a fresh subprocess so that RSS numbers are clean.
Results are merged into ``benchmarks/results/faiss_scale.json`` (and a markdown table) after
every configuration, so a long run that is interrupted keeps what it measured.

    python benchmarks/faiss_scale.py --sizes 100000 1000000 --threads 2
    python benchmarks/faiss_scale.py --sections store --sizes 1000000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
K = 10
N_CLUSTERS = 1024
RANK = 64

# name -> factory template ({nlist} filled per size) and the run-time parameter sweep
ANN_CONFIGS: dict[str, dict] = {
    "Flat": {"factory": "Flat", "sweep": {}},
    "HNSW32": {
        "factory": "HNSW32,Flat",
        "build": {"efConstruction": 40},
        "sweep": {"efSearch": [16, 32, 64, 128, 256]},
    },
    "IVF-Flat": {"factory": "IVF{nlist},Flat", "sweep": {"nprobe": [8, 16, 32, 64, 128]}},
    "IVF-PQfs-RFlat": {
        "factory": "IVF{nlist},PQ{m}x4fs,RFlat",
        "sweep": {"nprobe": [16, 32, 64], "k_factor_rf": [4]},
    },
}


def nlist_for(n: int) -> int:
    """~4*sqrt(n) lists, rounded to a power of two (the usual IVF rule of thumb)."""
    return 2 ** round(math.log2(4 * math.sqrt(n)))


def synth(n: int, dim: int, seed: int, noise: float = 0.35, spread: float = 0.9) -> np.ndarray:
    """Clustered unit vectors; the mixture (centres, subspace) is shared by every seed."""
    shared = np.random.default_rng(12345 + dim)
    centres = shared.standard_normal((N_CLUSTERS, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    basis = np.linalg.qr(shared.standard_normal((dim, RANK)))[0].astype(np.float32)
    scales = (1.0 / np.sqrt(np.arange(1, RANK + 1))).astype(np.float32)
    scales *= spread / np.sqrt((scales**2).sum())
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32)
    for lo in range(0, n, 100_000):
        hi = min(n, lo + 100_000)
        labels = rng.integers(0, N_CLUSTERS, hi - lo)
        z = rng.standard_normal((hi - lo, RANK)).astype(np.float32) * scales
        eps = rng.standard_normal((hi - lo, dim)).astype(np.float32) * (noise / math.sqrt(dim))
        x = centres[labels] + z @ basis.T + eps
        out[lo:hi] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def dataset(cache: Path, n: int, dim: int, n_queries: int) -> Path:
    """Base vectors, held-out queries and exact top-100 neighbours, cached on disk."""
    import faiss

    d = cache / f"d{dim}_n{n}_q{n_queries}"
    if (d / "gt.npy").exists():
        return d
    d.mkdir(parents=True, exist_ok=True)
    base = synth(n, dim, seed=1)
    queries = synth(n_queries, dim, seed=2)
    exact = faiss.IndexFlatIP(dim)
    exact.add(base)
    _, gt = exact.search(queries, 100)
    np.save(d / "base.npy", base)
    np.save(d / "queries.npy", queries)
    np.save(d / "gt.npy", gt)
    return d


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def recall_at_k(found: np.ndarray, gt: np.ndarray, k: int = K) -> float:
    hits = [len(set(f[:k]) & set(g[:k])) for f, g in zip(found, gt, strict=True)]
    return float(np.mean(hits)) / k


def time_single_queries(search, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Search one query at a time (the interactive case); returns ids and per-query ms."""
    for q in queries[:20]:  # warm caches and thread pools
        search(q[None, :])
    ids = np.empty((len(queries), K), dtype=np.int64)
    ms = np.empty(len(queries))
    for i, q in enumerate(queries):
        t = time.perf_counter()
        ids[i] = search(q[None, :])
        ms[i] = (time.perf_counter() - t) * 1000
    return ids, ms


def latency_summary(ms: np.ndarray) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
    }


def worker_ann(name: str, data: Path, threads: int) -> dict:
    import faiss

    faiss.omp_set_num_threads(threads)
    base = np.load(data / "base.npy")  # fully in RAM before measuring, so RSS delta = index
    queries, gt = np.load(data / "queries.npy"), np.load(data / "gt.npy")
    n, dim = base.shape
    cfg = ANN_CONFIGS[name]
    nlist = nlist_for(n)
    factory = cfg["factory"].format(nlist=nlist, m=dim // 4)
    load = os.getloadavg()[0]  # other work on the machine skews timings; record it
    rss0 = rss_mb()
    t0 = time.perf_counter()
    index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    for key, value in cfg.get("build", {}).items():
        faiss.ParameterSpace().set_index_parameter(index, key, value)
    train_s = 0.0
    if not index.is_trained:
        sample = np.random.default_rng(0).choice(n, size=min(n, 40 * nlist), replace=False)
        index.train(base[np.sort(sample)])
        train_s = time.perf_counter() - t0
    for lo in range(0, n, 100_000):
        index.add(base[lo : lo + 100_000])
    build_s = time.perf_counter() - t0
    rss1 = rss_mb()
    with tempfile.TemporaryDirectory(dir=data) as tmp:
        faiss.write_index(index, str(Path(tmp) / "x.index"))
        disk_mb = (Path(tmp) / "x.index").stat().st_size / 2**20
    result = {
        "section": "ann",
        "n": n,
        "dim": dim,
        "config": name,
        "factory": factory,
        "threads": threads,
        "loadavg_1m_before": round(load, 2),
        "build_s": round(build_s, 2),
        "train_s": round(train_s, 2),
        "rss_delta_mb": round(rss1 - rss0, 1),
        "peak_rss_delta_mb": round(peak_rss_mb() - rss0, 1),
        "disk_mb": round(disk_mb, 1),
        "runs": [],
    }
    grid = [{}]
    for key, values in cfg["sweep"].items():
        grid = [{**g, key: v} for g in grid for v in values]
    for params in grid:
        for key, value in params.items():
            faiss.ParameterSpace().set_index_parameter(index, key, value)
        # exact search is the slow baseline: 100 queries time it well enough
        sub = slice(0, 100) if name == "Flat" else slice(None)
        ids, ms = time_single_queries(lambda q: index.search(q, K)[1][0], queries[sub])
        recall = round(recall_at_k(ids, gt[sub]), 4)
        result["runs"].append({"params": params, **latency_summary(ms), "recall@10": recall})
    return result


def worker_store(data: Path, threads: int, threshold: int) -> dict:
    """The real FaissStore path: batched adds from empty, auto-upgrade, save/open, filters."""
    sys.path.insert(0, str(ROOT))
    from index.embedders.base import ModelIdentity
    from index.vector_store import FaissStore, set_threads

    set_threads(threads)
    base = np.load(data / "base.npy")
    queries, gt = np.load(data / "queries.npy"), np.load(data / "gt.npy")
    n, dim = base.shape
    identity = ModelIdentity("synthetic", "gaussian-mixture", dim)
    load = os.getloadavg()[0]
    rss0 = rss_mb()
    t0 = time.perf_counter()
    store = FaissStore.create(dim, identity, ann_threshold=threshold)
    for lo in range(0, n, 10_000):
        hi = min(n, lo + 10_000)
        store.add(np.arange(lo, hi, dtype=np.int64), base[lo:hi])
    build_s = time.perf_counter() - t0
    rss1 = rss_mb()
    result: dict = {
        "section": "store",
        "n": n,
        "dim": dim,
        "threads": threads,
        "ann_threshold": threshold,
        "loadavg_1m_before": round(load, 2),
        "factory": store.factory,
        "build_s": round(build_s, 2),
        "rss_delta_mb": round(rss1 - rss0, 1),
        "runs": [],
    }
    ids, ms = time_single_queries(lambda q: store.search(q, K)[1][0], queries)
    result["runs"].append(
        {"case": "no filter", **latency_summary(ms), "recall@10": round(recall_at_k(ids, gt), 4)}
    )
    rng = np.random.default_rng(3)
    for frac in (0.1, 0.005):
        allowed = np.sort(rng.choice(n, size=int(n * frac), replace=False)).astype(np.int64)
        sub = base[allowed]
        exact = allowed[np.argsort(-(queries @ sub.T), axis=1)[:, :K]]
        ids, ms = time_single_queries(
            lambda q, a=allowed: store.search(q, K, allowed_ids=a)[1][0], queries
        )
        result["runs"].append(
            {
                "case": f"allowed_ids {frac:.1%} of ids",
                **latency_summary(ms),
                "recall@10": round(recall_at_k(ids, exact), 4),
            }
        )
    with tempfile.TemporaryDirectory(dir=data) as tmp:
        t = time.perf_counter()
        store.save(tmp)
        result["save_s"] = round(time.perf_counter() - t, 2)
        result["disk_mb"] = round(sum(p.stat().st_size for p in Path(tmp).iterdir()) / 2**20, 1)
        store = None  # free it before measuring the reopened copies
        for mmap in (False, True):
            r = rss_mb()
            t = time.perf_counter()
            reopened = FaissStore.open(tmp, mmap=mmap)
            key = "mmap" if mmap else "read"
            result[f"open_{key}_s"] = round(time.perf_counter() - t, 2)
            result[f"open_{key}_rss_delta_mb"] = round(rss_mb() - r, 1)
            ids, ms = time_single_queries(lambda q, s=reopened: s.search(q, K)[1][0], queries)
            result["runs"].append(
                {
                    "case": f"after open (mmap={mmap})",
                    **latency_summary(ms),
                    "recall@10": round(recall_at_k(ids, gt), 4),
                }
            )
            del reopened
    return result


def merge(out: Path, result: dict) -> None:
    doc = json.loads(out.read_text()) if out.exists() else {"results": []}
    key = ("section", "n", "dim", "config", "threads")
    same = tuple(result.get(k) for k in key)
    doc["results"] = [r for r in doc["results"] if tuple(r.get(k) for k in key) != same]
    doc["results"].append(result)
    doc["results"].sort(key=lambda r: (r["section"], r["dim"], r["n"], r.get("config", "")))
    doc["generated"] = time.strftime("%Y-%m-%d %H:%M:%S")
    doc["machine"] = {"cpus": os.cpu_count(), "note": "shared 2-core VM, no GPU"}
    doc["data"] = (
        f"gaussian mixture of {N_CLUSTERS} clusters, spread in a rank-{RANK} subspace, unit rows; "
        "1000 held-out queries; recall@10 against exact inner-product search"
    )
    out.write_text(json.dumps(doc, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(doc))


def markdown(doc: dict) -> str:
    lines = [
        "# FAISS scale benchmark",
        "",
        f"{doc['data']}. Single-query latency (k={K}), {doc['machine']['note']}. "
        "Generated by `benchmarks/faiss_scale.py`.",
        "",
        "| n | dim | config | params | build s | RSS Δ MB | disk MB | p50 ms | p95 ms "
        "| recall@10 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["results"]:
        name = r.get("config") or f"FaissStore ({r['factory']})"
        for run in r["runs"]:
            params = run.get("case") or ", ".join(f"{k}={v}" for k, v in run["params"].items())
            lines.append(
                f"| {r['n']:,} | {r['dim']} | {name} | {params or '-'} | {r['build_s']} | "
                f"{r['rss_delta_mb']} | {r.get('disk_mb', '-')} | {run['p50_ms']} | "
                f"{run['p95_ms']} | {run['recall@10']} |"
            )
    if doc.get("notes"):  # the conclusions drawn, kept in the JSON beside the numbers
        lines += ["", "## Notes", "", *[f"- {note}" for note in doc["notes"]]]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--dims", type=int, nargs="+", default=[384])
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sections", nargs="+", default=["ann", "store"], choices=["ann", "store"])
    ap.add_argument("--configs", nargs="+", default=list(ANN_CONFIGS))
    ap.add_argument("--ann-threshold", type=int, default=50_000)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "mmrag_faiss")
    ap.add_argument("--out", type=Path, default=RESULTS / "faiss_scale.json")
    ap.add_argument("--render", action="store_true", help="only rewrite the markdown table")
    ap.add_argument("--worker", nargs=2, metavar=("KIND", "DATA"), help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        kind, data = args.worker[0], Path(args.worker[1])
        if kind == "store":
            result = worker_store(data, args.threads, args.ann_threshold)
        else:
            result = worker_ann(kind, data, args.threads)
        print("RESULT " + json.dumps(result))
        return

    if args.render:
        args.out.with_suffix(".md").write_text(markdown(json.loads(args.out.read_text())))
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for dim in args.dims:
        for n in args.sizes:
            data = dataset(args.cache, n, dim, args.queries)
            jobs = [c for c in args.configs if "ann" in args.sections]
            jobs += ["store"] if "store" in args.sections else []
            for job in jobs:
                cmd = [sys.executable, __file__, "--worker", job, str(data)]
                cmd += ["--threads", str(args.threads), "--ann-threshold", str(args.ann_threshold)]
                print(f"[{time.strftime('%H:%M:%S')}] n={n} dim={dim} {job}", flush=True)
                proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
                line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
                if line is None:
                    print(proc.stdout[-2000:], proc.stderr[-4000:], file=sys.stderr, flush=True)
                    continue
                result = json.loads(line[len("RESULT ") :])
                merge(args.out, result)
                print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
