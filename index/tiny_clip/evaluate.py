"""Retrieval quality of the small CLIP on held-out generated scenes.

``python -m index.tiny_clip.evaluate`` prints the numbers and writes
``benchmarks/results/tiny_clip.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from index.tiny_clip.data import make_pairs, render

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "tiny_clip.json"
HELD_OUT_SEED = 987_654_321  # training draws batches from seeds 0..steps; far from those


def _recall_at_1(sims: np.ndarray) -> tuple[float, float]:
    """(text->image, image->text) R@1 for a square query x image similarity matrix."""
    gold = np.arange(len(sims))
    return float((sims.argmax(1) == gold).mean()), float((sims.argmax(0) == gold).mean())


def evaluate(
    model: str = "builtin:tiny-clip", n: int = 100, seed: int = HELD_OUT_SEED,
    out: Path | None = RESULTS,
) -> dict[str, object]:  # fmt: skip
    """Embed ``n`` held-out scenes (distinct full captions) and measure Recall@1 both ways.

    Queries are each scene's most specific caption; the gallery is the ``n`` images. Also
    measured: Japanese captions, and the same scenes saved as 640x480 JPEG files (photo-like
    inputs that go through file decoding and downscaling).
    """
    from index.embedders.clip import OpenClipEmbedder, _cache

    images, _, scenes = make_pairs(n, seed=seed, japanese_p=0.0, unique=True)
    t0 = time.perf_counter()
    cached = bool(_cache)
    emb = OpenClipEmbedder(model)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    img = emb.embed_images(images)
    embed_s = time.perf_counter() - t0
    sims = emb.embed_texts([s.full_caption() for s in scenes]) @ img.T
    t2i, i2t = _recall_at_1(sims)
    hits = sims.argmax(1) == np.arange(n)
    kinds = np.array([s.kind for s in scenes])
    by_kind = {k: round(float(hits[kinds == k].mean()), 3) for k in ("shape", "word")}
    t2i_ja, i2t_ja = _recall_at_1(emb.embed_texts([s.full_caption_ja() for s in scenes]) @ img.T)

    rng = random.Random(seed + 1)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, scene in enumerate(scenes):
            path = Path(tmp) / f"{i:03d}.jpg"
            render(scene, rng, augment=False, size=(640, 480)).save(path, quality=85)
            paths.append(path)
        t0 = time.perf_counter()
        files = emb.embed_images(paths)
        files_s = time.perf_counter() - t0
    t2i_f, i2t_f = _recall_at_1(emb.embed_texts([s.full_caption() for s in scenes]) @ files.T)

    result: dict[str, object] = {
        "model": model,
        "n": n,
        "text_to_image_r1": round(t2i, 3),
        "image_to_text_r1": round(i2t, 3),
        "text_to_image_r1_by_kind": by_kind,  # words are hard to read at 32x32
        "text_to_image_r1_ja": round(t2i_ja, 3),
        "image_to_text_r1_ja": round(i2t_ja, 3),
        "text_to_image_r1_640x480_jpeg": round(t2i_f, 3),
        "image_to_text_r1_640x480_jpeg": round(i2t_f, 3),
        "load_seconds": round(load_s, 3),
        "load_was_cached": cached,
        "embed_pil_images_seconds": round(embed_s, 3),
        "embed_640x480_jpeg_files_seconds": round(files_s, 3),
        "machine": {"cpu": platform.processor() or platform.machine(), "device": emb.device},
    }
    folder = Path(emb.spec.removeprefix("local-dir:"))
    if (folder / "training.json").is_file():
        result["training"] = json.loads((folder / "training.json").read_text())
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="builtin:tiny-clip")
    parser.add_argument("-n", type=int, default=100)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    print(json.dumps(evaluate(args.model, args.n, out=args.out), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
