"""Numbers for docs/scale.md: FAISS and Milvus Lite side by side, bytes per vector, ingest rate.

- search: the same synthetic 384-d vectors (benchmarks/faiss_scale.py's clustered mixture) in
  mmrag's `FaissStore` (HNSW32,Flat and exact) and `MilvusStore` on Milvus Lite (HNSW M=32 and
  FLAT), searched one query at a time through the `VectorStore` interface: p50/p95 and
  recall@10 against exact neighbours, measured in one run on one machine;
- bytes per vector of the FAISS index types a 100M plan would choose between (serialised size
  / n, ids included where the index keeps them);
- ingest items/s per core, from benchmarks/results/ingest.json (benchmarks/ingest.py) and
  embed_index.json (benchmarks/embed_index.py), measured on this machine before.

- BM25 (tantivy, mmrag's `LexicalIndex`) at ``--bm25-items`` chunks (1M): build time, bytes
  on disk per chunk, single-query p50/p95, the coverage lookup a hybrid search makes, and the
  full id scan a sync makes. Chunks are synthetic: 120 terms each, drawn from the term
  frequencies of real chunks (`data/` analysed by mmrag's analyzer) plus a Zipf tail of rare
  terms, since a vocabulary keeps growing with the collection;
- reading 1,000 small files with the built-in pool and with `--engine ray` (local Ray), then
  embedding what was read (offline models) in this process and on a Ray actor pool.

    python benchmarks/scale.py --n 100000 --queries 300
    python benchmarks/scale.py --sections ray,ingest   # keeps the other sections
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.faiss_scale import (  # noqa: E402
    K,
    latency_summary,
    nlist_for,
    recall_at_k,
    synth,
    time_single_queries,
)

RESULTS = ROOT / "benchmarks" / "results"
DIM = 384


def stores(base: np.ndarray, tmp: Path) -> dict[str, object]:
    """The stores compared: name -> (store, build seconds)."""
    from index.embedders.base import ModelIdentity
    from index.faiss_store import FaissStore
    from index.milvus_store import MilvusStore
    from index.vector_store import MilvusSettings, VectorStoreSettings

    identity = ModelIdentity("sentence-transformers", "synthetic", DIM)
    settings = VectorStoreSettings()  # mmrag's defaults: ef_search 128, ef_construction 40
    ids = np.arange(len(base), dtype=np.int64)
    out: dict[str, object] = {}
    for name, factory in (("faiss HNSW32", "HNSW32,Flat"), ("faiss exact", "Flat")):
        t = time.perf_counter()
        store = FaissStore.create(DIM, identity, factory, settings=settings)
        store.add(ids, base)
        out[name] = (store, time.perf_counter() - t)
    for name, kind in (("milvus-lite HNSW", "HNSW"), ("milvus-lite FLAT", "FLAT")):
        milvus = MilvusSettings(uri=str(tmp / "milvus.db"), index_type=kind)
        t = time.perf_counter()
        store = MilvusStore.create(
            identity, milvus=milvus, settings=settings, directory=tmp / "text" / kind
        )
        store.add(ids, base)
        store.save()  # flushed: sealed segments, indexed
        out[name] = (store, time.perf_counter() - t)
    return out


def search_side_by_side(n: int, n_queries: int, tmp: Path) -> list[dict]:
    import faiss

    base, queries = synth(n, DIM, seed=1), synth(n_queries, DIM, seed=2)
    exact = faiss.IndexFlatIP(DIM)
    exact.add(base)
    gt = exact.search(queries, K)[1]
    rows = []
    for name, (store, build_s) in stores(base, tmp).items():
        found, ms = time_single_queries(lambda q, s=store: s.search(q, K)[1][0], queries)
        rows.append(
            {
                "store": name,
                "factory": store.factory,
                "n": n,
                "build_s": round(build_s, 1),
                **latency_summary(ms),
                "recall@10": round(recall_at_k(found, gt), 4),
            }
        )
        print(rows[-1], flush=True)
    return rows


def bytes_per_vector(n: int) -> list[dict]:
    """Serialised size / n of the index types a large plan weighs (FAISS; ids excluded)."""
    import faiss

    base = synth(n, DIM, seed=1)
    nlist = nlist_for(n)
    rows = []
    for factory in (
        "HNSW32,Flat",
        "HNSW32,SQ8",
        f"IVF{nlist},PQ48",
        f"IVF{nlist},PQ96",
        f"IVF{nlist},PQ48x4fs,RFlat",
    ):
        index = faiss.index_factory(DIM, factory, faiss.METRIC_INNER_PRODUCT)
        t = time.perf_counter()
        index.train(base[: min(n, 50_000)])
        index.add(base)
        size = len(faiss.serialize_index(index))
        rows.append(
            {
                "factory": factory,
                "n": n,
                "bytes_per_vector": round(size / n, 1),
                "build_s": round(time.perf_counter() - t, 1),
            }
        )
        print(rows[-1], flush=True)
    return rows


def ingest_rates() -> dict:
    """Items/s per core from the last ingest and embedding benchmarks (benchmarks/results)."""
    path = RESULTS / "ingest.json"
    if not path.exists():
        return {}
    doc = json.loads(path.read_text())
    workers = doc.get("workers") or doc["machine"]["cpus"]
    out = {"source": "benchmarks/results/ingest.json", "measured_at": doc.get("measured_at")}
    for key in ("documents", "images_ocr_on", "images_ocr_off"):
        r = doc.get(key)
        if not r:
            continue
        items = r["chunks"] or r["files"]  # images: one item per file
        out[key] = {
            "files_per_s_per_core": round(r["files"] / r["seconds"] / workers, 2),
            "items_per_s_per_core": round(items / r["seconds"] / workers, 2),
            "workers": workers,
        }
    audio = doc.get("audio")
    if audio:
        out["audio"] = {"real_time_factor": audio.get("real_time_factor")}
    embed = RESULTS / "embed_index.json"  # benchmarks/embed_index.py: the embedding step
    if embed.exists():
        e = json.loads(embed.read_text())
        threads = e["machine"].get("torch_threads") or e["machine"]["cpus"]
        for name, r in e.get("embedders", {}).items():
            out[f"embed_{name}"] = {
                "model": r["name"],
                "chunks_per_s_per_core": round(r["chunks"]["per_s"] / threads, 1),
            }
    return out


def _term_sampler() -> tuple[np.ndarray, np.ndarray]:
    """(terms, probabilities): real terms of the sample corpus by frequency, 85% of the mass,
    and a Zipf(1.1) tail over 2M made-up rare terms, 15%."""
    from collections import Counter

    from ingest.analysis import analyzer

    counts: Counter[str] = Counter()
    for path in sorted((ROOT / "data").rglob("*")):
        if path.suffix in (".md", ".txt", ".html", ".csv", ".vtt", ".srt"):
            counts.update(analyzer().tokens(path.read_text(errors="ignore")))
    real, freq = zip(*counts.most_common(), strict=True)
    tail = 2_000_000
    zipf = 1.0 / np.arange(1, tail + 1) ** 1.1
    terms = np.array([*real, *(f"rare{i}" for i in range(tail))], dtype=object)
    probs = np.concatenate([0.85 * np.array(freq) / sum(freq), 0.15 * zipf / zipf.sum()])
    return terms, probs


def bm25_at_scale(n: int, tmp: Path, terms_per_chunk: int = 120, queries: int = 200) -> dict:
    """tantivy through `LexicalIndex` at ``n`` synthetic chunks (see the module docstring)."""
    from index.lexical.store import LexicalIndex

    rng = np.random.default_rng(7)
    terms, probs = _term_sampler()
    index = LexicalIndex.create(tmp / "lexical", "synthetic")
    t = time.perf_counter()
    batch = 50_000
    for lo in range(0, n, batch):
        m = min(batch, n - lo)
        draws = rng.choice(len(terms), size=(m, terms_per_chunk), p=probs)
        bodies = [" ".join(terms[row]) for row in draws]
        index.add(range(lo + 1, lo + m + 1), bodies, [""] * m)
        print(f"bm25: {lo + m:,} chunks queued", flush=True)
    index.commit()
    build_s = time.perf_counter() - t
    disk = index.disk_bytes()
    # queries: four terms drawn as chunks' terms are (common words weigh in, as in questions)
    qs = [list(rng.choice(terms, size=4, p=probs)) for _ in range(queries)]
    search_ms, cover_ms = [], []
    for q in qs:
        s0 = time.perf_counter()
        hits = index.search(q, 40)
        search_ms.append((time.perf_counter() - s0) * 1000)
        ids = [i for i, _ in hits] + list(rng.integers(1, n, size=110))  # a hybrid's pool
        s0 = time.perf_counter()
        index.idf(q)
        index.holding(q, ids)
        cover_ms.append((time.perf_counter() - s0) * 1000)
    s0 = time.perf_counter()
    stored = len(index.ids())
    scan_s = time.perf_counter() - s0
    return {
        "chunks": n,
        "synthetic": True,
        "terms_per_chunk": terms_per_chunk,
        "build_s": round(build_s, 1),
        "chunks_per_s": round(n / build_s),
        "disk_bytes_per_chunk": round(disk / n, 1),
        "disk_mb": round(disk / 1e6, 1),
        "search_k40": latency_summary(search_ms),
        "coverage_150_ids": latency_summary(cover_ms),
        "id_scan_s": round(scan_s, 2),
        "ids_scanned": stored,
    }


def ray_vs_pool(n_files: int, tmp: Path) -> dict:
    """Wall time of reading and cataloguing ``n_files`` Markdown notes (no embedding) with the
    built-in pool and with the Ray engine on a local Ray, same workers, fresh stores."""
    from ingest.catalog import Catalog
    from ingest.config import IngestSettings, StoreSettings
    from ingest.pipeline import Pipeline
    from ingest.ray_engine import RayPipeline

    folder = tmp / "notes"
    for i in range(n_files):
        sub = folder / f"d{i % 20:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"note{i}.md").write_text(
            f"# Note {i}\n\nField report {i}: the pump at station {i % 97} was serviced.\n"
        )
    workers = os.cpu_count() or 1
    out: dict = {"files": n_files, "workers": workers}
    for engine in ("local", "ray"):
        store = StoreSettings(dir=tmp / f"store-{engine}")
        settings = IngestSettings(workers=workers, ocr=False, engine=engine)  # type: ignore[arg-type]
        cls = RayPipeline if engine == "ray" else Pipeline
        t = time.perf_counter()
        pipeline = cls(settings, store, Catalog(store.url, store_dir=store.dir))
        started = time.perf_counter()
        statuses = [r.status.value for r in pipeline.ingest([folder])]
        done = time.perf_counter()
        out[engine] = {
            "seconds": round(done - started, 2),
            "startup_s": round(started - t, 2),
            "files_per_s": round(len(statuses) / (done - started), 1),
            "ingested": statuses.count("ingested"),
        }
        print(engine, out[engine], flush=True)
    out["ray_over_local"] = round(out["ray"]["seconds"] / out["local"]["seconds"], 2)
    out["embedding"] = ray_embedding(tmp / "store-ray")
    return out


def ray_embedding(store: Path) -> dict:
    """Sync (embed both spaces) a read store in this process and on a Ray actor pool (local
    Ray: the same 2 cores), from empty indexes each time: cold (models loaded by the run),
    then warm (this process's models, or the pool, loaded)."""
    import shutil

    from app.api import MMRag
    from app.config import load_settings

    offline = ROOT / "configs" / "offline.toml"
    out: dict = {}
    runs = [("process", "cold"), ("process", "warm"), ("actors", "cold"), ("actors", "warm")]
    rag = None
    for mode, run in runs:
        label = f"{mode}_{run}"
        if run == "cold":
            overrides = {"ingest": {"engine": "ray", "ray_embed": mode}}
            rag = MMRag(load_settings(offline, store, overrides))
        shutil.rmtree(store / "indexes", ignore_errors=True)
        t = time.perf_counter()
        reports = rag.sync()
        seconds = time.perf_counter() - t
        items = sum(r.added for r in reports if r.space != "lexical")
        out[label] = {"seconds": round(seconds, 2), "vectors": items}
        print(label, out[label], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", type=Path, default=RESULTS / "scale.json")
    ap.add_argument("--ray-files", type=int, default=1000)
    ap.add_argument("--bm25-items", type=int, default=1_000_000)
    ap.add_argument(
        "--sections",
        default="search,bytes,ingest,ray,bm25",
        help="comma-separated; the others are kept from an earlier --out",
    )
    args = ap.parse_args()
    import faiss

    faiss.omp_set_num_threads(args.threads)
    sections = set(args.sections.split(","))
    doc = json.loads(args.out.read_text()) if args.out.exists() else {}
    doc["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "threads": args.threads,
    }
    doc["measured_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
    with tempfile.TemporaryDirectory(prefix="mmrag-scale-") as tmp:
        if "search" in sections:
            doc["search"] = search_side_by_side(args.n, args.queries, Path(tmp))
        if "bytes" in sections:
            doc["bytes_per_vector"] = bytes_per_vector(args.n)
        if "ingest" in sections:
            doc["ingest"] = ingest_rates()
        if "bm25" in sections:
            doc["bm25"] = bm25_at_scale(args.bm25_items, Path(tmp))
        if "ray" in sections:
            doc["ray_vs_pool"] = ray_vs_pool(args.ray_files, Path(tmp))
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
