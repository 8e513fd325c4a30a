"""CPU and GPU side by side, in one run on the same data (issue 10).

    python benchmarks/gpu.py                  # every section; the GPU columns need CUDA
    python benchmarks/gpu.py --dry-run        # every section at tiny sizes, on the CPU too
    python benchmarks/gpu.py --sections index --sizes 1000000 10000000

Sections, each measured per device (``cpu``, and ``cuda`` when torch and FAISS see a GPU):
  text     passages/s of the text model on 256-token passages (the product backend per device:
           int8 ONNX on the CPU, torch fp16 on CUDA)
  clip     images/s of the CLIP vision tower from 640x480 JPEG files, decoding included
           (default ViT-B-32 with random weights unless --clip-pretrained: speed is the same)
  whisper  real-time factor of faster-whisper (int8 on the CPU, float16 batched on CUDA)
  index    FaissStore on SYNTHETIC clustered unit vectors (384-d): build, batch QPS, single-query
           p50/p99, recall@10 against exact search, and the same with a filter keeping half
  ingest   `mmrag ingest` of the sample corpus (data/) copied N times, each copy made distinct
           (content hashes would fold identical copies into one parse)
Results: benchmarks/results/gpu.json (a dry run writes benchmarks/results/tmp/gpu-dry-run.json).
A section that cannot run on a device records why instead of a number.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import traceback
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import RESULTS, machine  # noqa: E402

DIM = 384
K = 10
SAMPLE_EXCLUDES = ["FACTS.md", "README.md", "eval/**"]


def devices() -> dict[str, str | None]:
    """Each device and, when it cannot be measured here, why."""
    import torch

    from index import gpu

    why = None
    if not torch.cuda.is_available():
        why = "no CUDA GPU seen by torch: to be measured on a GPU machine"
    elif gpu.gpu_count() == 0:
        why = f"FAISS is the {gpu.build_kind()} build (install the gpu extra)"
    return {"cpu": None, "cuda": why}


def per_second(fn: Callable[[list], Any], items: list, repeats: int) -> dict[str, float]:
    """Items per second: the median of `repeats` timed runs after a warm-up on a tenth."""
    fn(items[: max(1, len(items) // 10)])
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(items)
        runs.append(len(items) / (time.perf_counter() - t))
    runs.sort()
    return {
        "per_s": round(runs[len(runs) // 2], 1),
        "min_per_s": round(runs[0], 1),
        "n": len(items),
    }


# -- sections ---------------------------------------------------------------------------------


def text_section(device: str, a: argparse.Namespace) -> dict[str, Any]:
    from index.config import EmbedSettings
    from index.embedders.factory import text_embedder

    s = EmbedSettings(text_model=a.text_model, device=device, text_backend=a.text_backend)
    s = s.model_copy(update={"batch_size": 256 if device == "cuda" else 32})
    embedder = text_embedder(s)
    texts = passages_of(a.text_tokens, a.text_n, a.text_model)
    out = per_second(lambda batch: embedder.embed_texts(batch), texts, a.repeats)
    return {
        **out,
        "model": a.text_model,
        "backend": type(embedder).__name__,
        "tokens": a.text_tokens,
    }


def passages_of(tokens: int, n: int, model: str) -> list[str]:
    """`n` distinct passages of about `tokens` tokens of the model's tokenizer."""
    from transformers import AutoTokenizer

    from ingest.models import resolve_model

    tok = AutoTokenizer.from_pretrained(resolve_model(model))
    words = "the quarterly report lists bridge inspections energy budgets and office moves".split()
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        text = f"passage {i}: " + " ".join(rng.choice(words, size=tokens * 2))
        ids = tok(text, add_special_tokens=False)["input_ids"][: tokens - 2]
        out.append(tok.decode(ids))
    return out


def clip_section(device: str, a: argparse.Namespace, jpegs: list[Path]) -> dict[str, Any]:
    from index.embedders.clip import OpenClipEmbedder

    batch = 256 if device == "cuda" else 32
    embedder = OpenClipEmbedder(a.clip_model, a.clip_pretrained, device=device, batch_size=batch)
    out = per_second(lambda paths: embedder.embed_images(paths), jpegs, a.repeats)
    weights = a.clip_pretrained or "random weights (throughput only)"
    return {**out, "model": f"{a.clip_model}, {weights}", "source": "640x480 JPEG files"}


def make_jpegs(folder: Path, n: int) -> list[Path]:
    from PIL import Image

    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    paths = []
    for i in range(n):
        pixels = np.roll(base, i * 7, axis=1)  # distinct files, photo-sized noise and edges
        path = folder / f"img{i:05d}.jpg"
        Image.fromarray(pixels).save(path, quality=90)
        paths.append(path)
    return paths


def whisper_section(device: str, a: argparse.Namespace) -> dict[str, Any]:
    from ingest.config import TranscriberSettings
    from ingest.readers.transcribe import FasterWhisperTranscriber, decode_audio

    t = FasterWhisperTranscriber(TranscriberSettings(model=a.whisper_model, device=device))
    files = sorted((ROOT / "data" / "audio").glob("*.*"))[: a.audio_files]
    t.transcribe(files[0])  # load the model
    audio_s = sum(len(decode_audio(f)) / 16_000 for f in files) * a.audio_repeats
    start = time.perf_counter()
    for _ in range(a.audio_repeats):
        for f in files:
            t.transcribe(f)
    seconds = time.perf_counter() - start
    return {
        "rtf": round(seconds / audio_s, 4),
        "audio_s": round(audio_s, 1),
        "model": a.whisper_model,
        "compute_type": t.compute_type,
        "batched": t.batched,
    }


def synthetic(n: int, dim: int, seed: int) -> np.ndarray:
    """Clustered unit vectors (neighbourhoods like real embeddings): SYNTHETIC, no model's."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).standard_normal((max(16, n // 1000), dim), np.float32)
    out = np.empty((n, dim), np.float32)
    for lo in range(0, n, 1_000_000):
        hi = min(n, lo + 1_000_000)
        x = centres[rng.integers(0, len(centres), hi - lo)]
        x += 0.35 * rng.standard_normal((hi - lo, dim), dtype=np.float32)
        out[lo:hi] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def exact_top_k(base: np.ndarray, queries: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
    import faiss

    rows = base if allowed is None else base[allowed]
    _, found = faiss.knn(queries, rows, K, metric=faiss.METRIC_INNER_PRODUCT)
    return found if allowed is None else allowed[found]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = [len(set(f) & set(t)) for f, t in zip(found.tolist(), truth.tolist(), strict=True)]
    return round(sum(hits) / truth.size, 4)


def index_section(
    device: str, a: argparse.Namespace, n: int, base: np.ndarray, queries: np.ndarray
) -> dict[str, Any]:
    from index.embedders.base import ModelIdentity
    from index.faiss_store import FaissStore
    from index.vector_store import VectorStoreSettings

    if device == "cpu" and n > a.cpu_index_max:
        return {"skipped": f"over --cpu-index-max {a.cpu_index_max} (HNSW build on CPU too long)"}
    s = VectorStoreSettings(use_gpu=device == "cuda", ann_threshold=a.ann_threshold)
    store = FaissStore.create(DIM, ModelIdentity("synthetic", "synthetic-384", DIM), settings=s)
    start = time.perf_counter()
    store.add(np.arange(n), base)
    store.search(queries[:1], K)  # a GPU copy is made at the first search: part of the build
    build_s = time.perf_counter() - start
    out: dict[str, Any] = {"vectors": n, "build_s": round(build_s, 2), "where": store.placement()}
    half = np.arange(0, n, 2)
    truth = {None: exact_top_k(base, queries[: a.recall_queries], None)}
    truth["half"] = exact_top_k(base, queries[: a.recall_queries], half)
    for name, allowed in (("unfiltered", None), ("filter_half", half)):
        kw = {} if allowed is None else {"allowed_ids": allowed}
        store.search(queries[:100], K, **kw)  # warm
        t = time.perf_counter()
        _, ids = store.search(queries, K, **kw)
        qps = len(queries) / (time.perf_counter() - t)
        lat = []
        for q in queries[: a.single_queries]:
            t = time.perf_counter()
            store.search(q[None], K, **kw)
            lat.append(time.perf_counter() - t)
        ms = np.array(lat) * 1000
        out[name] = {
            "batch_qps": round(qps, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 3),
            "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "recall_at_10": recall(
                ids[: a.recall_queries], truth[None if allowed is None else "half"]
            ),
        }
    return out


def ingest_section(device: str, a: argparse.Namespace, corpus: Path) -> dict[str, Any]:
    from app.api import MMRag
    from app.config import load_settings

    store = Path(tempfile.mkdtemp(prefix=f"mmrag-gpu-{device}-"))
    embed: dict[str, Any] = {"device": device}
    if a.dry_run:  # no CLIP training in a dry run: random ViT-B-32 weights do the same work
        embed.update(clip_model=a.clip_model, clip_pretrained=a.clip_pretrained)
    overrides = {"embed": embed, "ingest": {"transcriber": {"device": device}}}
    if a.workers is not None:
        overrides["ingest"]["workers"] = a.workers
    settings = load_settings(ROOT / "configs" / "offline.toml", store, overrides)
    rag = MMRag(settings)
    start = time.perf_counter()
    results = list(rag.ingest([corpus]))
    seconds = time.perf_counter() - start
    rag.catalog.close()
    shutil.rmtree(store, ignore_errors=True)
    status: dict[str, int] = {}
    for r in results:
        status[r.status.value] = status.get(r.status.value, 0) + 1
    return {"seconds": round(seconds, 2), "files_per_s": round(len(results) / seconds, 2), **status}


def copy_corpus(target: Path, copies: int, include: list[str] | None) -> Path:
    """data/ `copies` times, each copy's files made distinct without changing what they say."""
    src = ROOT / "data"
    for c in range(copies):
        dest = target / f"copy{c:03d}"
        for f in src.rglob("*"):
            rel = f.relative_to(src)
            if not f.is_file() or rel.parts[0] == "eval" or rel.name in ("FACTS.md", "README.md"):
                continue
            if include and not any(rel.match(p) for p in include):
                continue
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, out)
            distinguish(out, c)
    return target


def distinguish(path: Path, copy: int) -> None:
    """Change a file's bytes, not its content: a zip comment, else trailing bytes readers skip
    (after a PDF's %%EOF, a JPEG's end marker, an audio stream's last frame), else a line."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path, "a") as z:
            z.comment = f"copy {copy}".encode()
    elif path.suffix.lower() in (".srt", ".vtt"):  # cues end at a blank line: add more
        with path.open("a", encoding="utf-8") as fh:
            fh.write("\n" * (copy + 2))
    elif path.suffix.lower() in (".md", ".txt", ".html", ".htm", ".eml"):
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"\n\ncopy {copy}\n")
    elif path.suffix.lower() != ".svg":
        with path.open("ab") as fh:
            fh.write(b"\0" * (copy + 1))


# -- driver -----------------------------------------------------------------------------------


def run(label: str, fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    print(f"  {label} ...", flush=True)
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - one section failing must not lose the others
        traceback.print_exc()
        return {"error": f"{type(exc).__name__}: {exc}"}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sections = ["text", "clip", "whisper", "index", "ingest"]
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes, every section, any device")
    ap.add_argument("--sections", nargs="+", choices=sections, default=sections)
    ap.add_argument("--devices", nargs="+", choices=["cpu", "cuda"], default=["cpu", "cuda"])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--text-model", default="builtin:multilingual-e5-small")
    ap.add_argument("--text-backend", default="auto", choices=["auto", "torch", "onnx"])
    ap.add_argument("--text-n", type=int, default=20_000)
    ap.add_argument("--text-tokens", type=int, default=256)
    ap.add_argument("--clip-model", default="ViT-B-32")
    ap.add_argument("--clip-pretrained", default=None, help="open_clip tag or checkpoint")
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--whisper-model", default="builtin:whisper-base")
    ap.add_argument("--audio-files", type=int, default=4)
    ap.add_argument("--audio-repeats", type=int, default=5)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--single-queries", type=int, default=1000)
    ap.add_argument("--recall-queries", type=int, default=1000)
    ap.add_argument("--ann-threshold", type=int, default=50_000)
    ap.add_argument("--cpu-index-max", type=int, default=1_000_000)
    ap.add_argument("--copies", type=int, default=50)
    ap.add_argument("--workers", type=int, default=None, help="ingest reader processes")
    ap.add_argument("--include", nargs="*", default=None, help="corpus globs (dry run: notes)")
    a = ap.parse_args(argv)
    if a.dry_run:
        a.repeats, a.text_n, a.text_tokens, a.images = 1, 8, 64, 4
        a.text_model, a.text_backend = "builtin:all-MiniLM-L6-v2", "torch"
        a.audio_files, a.audio_repeats, a.sizes, a.queries = 1, 1, [3000], 50
        a.single_queries, a.recall_queries, a.ann_threshold, a.copies = 10, 50, 2000, 2
        a.workers, a.include = 0, a.include or ["notes/*", "text/*"]
    out = a.out or (RESULTS / "tmp" / "gpu-dry-run.json" if a.dry_run else RESULTS / "gpu.json")

    import torch

    from index import gpu

    why_not = {d: w for d, w in devices().items() if d in a.devices}
    doc: dict[str, Any] = {
        "machine": machine(),
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "dry_run": a.dry_run,
        "gpu": [r.detail for r in gpu.torch_rows() + gpu.faiss_rows()],
        "devices": {d: w or "measured" for d, w in why_not.items()},
        "note": "index figures use SYNTHETIC clustered unit vectors, not model embeddings",
        "sections": {},
    }
    if torch.cuda.is_available():
        doc["gpu_name"] = torch.cuda.get_device_name(0)
    work = Path(tempfile.mkdtemp(prefix="mmrag-gpu-bench-"))
    try:
        jpegs = make_jpegs(work, a.images) if "clip" in a.sections else []
        corpus = (
            copy_corpus(work / "corpus", a.copies, a.include) if "ingest" in a.sections else None
        )
        for section in a.sections:
            print(f"{section}:", flush=True)
            result: dict[str, Any] = {}
            if section == "index":
                for n in a.sizes:
                    base, queries = synthetic(n, DIM, seed=0), synthetic(a.queries, DIM, seed=1)
                    result[str(n)] = {
                        d: {"skipped": w} if w else run(d, index_section, d, a, n, base, queries)
                        for d, w in why_not.items()
                    }
                    del base
            else:
                fn, extra = {
                    "text": (text_section, ()),
                    "clip": (clip_section, (jpegs,)),
                    "whisper": (whisper_section, ()),
                    "ingest": (ingest_section, (corpus,)),
                }[section]
                for d, w in why_not.items():
                    result[d] = {"skipped": w} if w else run(d, fn, d, a, *extra)
            doc["sections"][section] = result
            out.parent.mkdir(parents=True, exist_ok=True)  # written after each section
            out.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {out}")
    return doc


if __name__ == "__main__":
    main()
