"""Embedding throughput per embedder, and the FAISS store at scale.

    python benchmarks/embed_index.py                      # embedders + FaissStore at 100k
    python benchmarks/embed_index.py --sizes 100000 1000000 --threads 2

Embedders: chunks/s of the text space (passages of ~200 tokens) and of the CLIP text tower,
images/s of the CLIP vision tower from 640x480 JPEG files and from store thumbnails. The models
are the configured ones (default: the offline builtins; ``--text-model`` / ``--clip-model`` take
any name or path). FAISS: the product's ``FaissStore`` path (batched adds from empty, automatic
switch to HNSW past the threshold, filtered search, save and memory-mapped reopen) is run by
``benchmarks/faiss_scale.py --sections store``; the sweep of index types lives there too.
Results: ``benchmarks/results/embed_index.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine, write_results  # noqa: E402

WORDS = (
    "revenue quarter bridge inspection corrosion budget meeting notes search index vector "
    "customer support ticket platform report engineer steel river design model training "
    "data centre energy renewable office project milestone risk audit contract archive"
).split()


def passages(n: int, words: int = 150, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(words)) + "." for _ in range(n)]


def rate(fn, items: list, repeats: int = 3) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Items per second: the median of ``repeats`` timed runs after one warm-up batch."""
    fn(items[: max(1, len(items) // 10)])
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(items)
        runs.append(len(items) / (time.perf_counter() - t))
    runs.sort()
    return {"per_s": round(runs[len(runs) // 2], 1), "min_per_s": round(runs[0], 1)}


def embedders(text_model: str, clip_model: str, n_text: int, n_images: int) -> dict:
    from PIL import Image

    from index.config import EmbedSettings
    from index.embedders.factory import clip_embedder, text_embedder
    from index.tiny_clip.data import make_pairs

    settings = EmbedSettings(text_model=text_model, clip_model=clip_model, clip_pretrained="")
    out: dict = {}
    t = time.perf_counter()
    text = text_embedder(settings)
    out["text_model"] = {"name": text.identity.name, "load_s": round(time.perf_counter() - t, 2)}
    docs = passages(n_text)
    out["text_model"]["chunks"] = rate(lambda b: text.embed_texts(b, kind="passage"), docs)
    out["text_model"]["queries"] = rate(lambda b: text.embed_texts(b, kind="query"),
                                        [d[:60] for d in docs])  # fmt: skip
    t = time.perf_counter()
    clip = clip_embedder(settings)
    out["clip"] = {"name": clip.identity.name, "load_s": round(time.perf_counter() - t, 2)}
    out["clip"]["chunks"] = rate(lambda b: clip.embed_texts(b), docs)
    images, _, _ = make_pairs(n_images, seed=1, augment=False)
    with tempfile.TemporaryDirectory() as tmp:
        files, thumbs = [], []
        for i, img in enumerate(images):
            photo = img.resize((640, 480), Image.Resampling.BICUBIC)
            files.append(Path(tmp) / f"{i}.jpg")
            photo.save(files[-1], quality=90)
            thumbs.append(Path(tmp) / f"{i}.webp")
            photo.copy().resize((256, 192)).save(thumbs[-1], quality=80)
        out["clip"]["images_640x480_jpeg"] = rate(clip.embed_images, files)
        out["clip"]["images_thumbnails"] = rate(clip.embed_images, thumbs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--text-model", default="builtin:all-MiniLM-L6-v2")
    ap.add_argument("--clip-model", default="builtin:tiny-clip")
    ap.add_argument("--texts", type=int, default=512)
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--sizes", type=int, nargs="*", default=[100_000],
                    help="FaissStore sizes to measure; none: embedders only")  # fmt: skip
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    result: dict = {
        "machine": {**machine(), "torch_threads": args.threads,
                    "cuda": torch.cuda.is_available()},
        "embedders": embedders(args.text_model, args.clip_model, args.texts, args.images),
    }  # fmt: skip
    if args.sizes:
        cmd = [sys.executable, str(ROOT / "benchmarks" / "faiss_scale.py"), "--sections", "store",
               "--threads", str(args.threads), "--sizes", *map(str, args.sizes)]  # fmt: skip
        subprocess.run(cmd, check=True)
    scale_file = ROOT / "benchmarks" / "results" / "faiss_scale.json"
    if scale_file.is_file():  # every FaissStore size measured so far, this run's included
        scale = json.loads(scale_file.read_text())
        result["faiss_store"] = [r for r in scale["results"] if r["section"] == "store"]
    path = write_results("embed_index", result)
    print(json.dumps(result, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
