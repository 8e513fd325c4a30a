"""Ingest throughput and memory.

    python benchmarks/ingest.py [--files 300] [--workers 2]

Measures, on generated corpora (tests/corpus.py):
  * text documents (parse + chunk, no embedding): files/s and pages/s, peak RSS (main + workers)
  * the same at 1/3 of the size, to show peak memory does not grow with the corpus
  * images/s with and without OCR
  * audio: real-time factor of the configured transcriber
Results: benchmarks/results/ingest.json
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.api import MMRag
from benchmarks.common import PeakRSS, timer, write_results
from tests import corpus
from tests.conftest import offline_settings


def ingest_only(root: Path, store: Path, **ingest: object) -> dict[str, float]:
    rag = MMRag(offline_settings(store, ingest=ingest))
    with PeakRSS() as mem, timer() as t:
        results = list(rag.ingest([root], index=False))
    pages = sum(r.pages or 1 for r in results)
    failed = [r for r in results if r.status.value == "failed"]
    return {
        "files": len(results),
        "failed": len(failed),
        "pages": pages,
        "chunks": sum(r.chunks for r in results),
        "seconds": round(t["seconds"], 2),
        "files_per_s": round(len(results) / t["seconds"], 2),
        "pages_per_s": round(pages / t["seconds"], 2),
        "peak_rss_mb": mem.peak_mb,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--images", type=int, default=40)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mmrag-bench-"))
    out: dict[str, object] = {"workers": args.workers}
    try:
        small, large = work / "docs-small", work / "docs-large"
        # text documents only: the corpus' few photos are measured with the images below
        docs_only = {"workers": args.workers, "exclude": ["images/**"]}
        out["corpus_small"] = asdict(corpus.bulk_corpus(small, max(30, args.files // 3), seed=1))
        out["corpus"] = asdict(corpus.bulk_corpus(large, args.files, seed=2))
        # warm-up: model/tokenizer files into the page cache
        ingest_only(small, work / "warm", **docs_only)
        out["documents_small"] = ingest_only(small, work / "s1", **docs_only)
        out["documents"] = ingest_only(large, work / "s2", **docs_only)
        print("documents:", out["documents"], flush=True)

        pics = work / "images"
        pics.mkdir()
        for i in range(args.images):
            if i % 2:
                corpus.screenshot_with_text(
                    pics / f"shot{i}.png",
                    [f"Error {i}: disk quota exceeded", "Please contact support"],
                )
            else:
                corpus.photo(
                    pics / f"photo{i}.jpg",
                    shape=("circle", "square", "star")[i % 3],
                    colour=("red", "green", "blue")[i % 3],
                )
        for ocr in (True, False):
            res = ingest_only(pics, work / f"img-{ocr}", workers=args.workers, ocr=ocr)
            res["images_per_s"] = res.pop("files_per_s")
            out[f"images_ocr_{'on' if ocr else 'off'}"] = res
            print(f"images ocr={ocr}:", res, flush=True)

        audio = work / "audio"
        audio.mkdir()
        text = (
            "Welcome to the quarterly planning meeting. Today we review the budget, the hiring "
            "plan and the launch date of the new search product. "
        ) * 3
        clip = corpus.speech(audio / "talk.wav", text)
        from ingest.readers.audio import parse_audio

        settings = offline_settings(work / "a").ingest
        parse_audio(clip, settings)  # load the model once
        with timer() as t:
            doc = parse_audio(clip, settings)
        out["audio"] = {
            "model": settings.transcriber.model,
            "audio_s": round(doc.duration_s or 0, 2),
            "seconds": round(t["seconds"], 2),
            "real_time_factor": round(t["seconds"] / (doc.duration_s or 1), 3),
        }
        print("audio:", out["audio"], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("written", write_results("ingest", out))


if __name__ == "__main__":
    main()
