"""Helpers shared by the benchmarks: timing, peak memory of a process tree, result files."""

from __future__ import annotations

import json
import platform
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psutil

RESULTS = Path(__file__).resolve().parent / "results"


class PeakRSS:
    """Samples the RSS of a process (default: this one) and its children (workers) in a
    background thread: ``peak`` sums them (pages shared after a fork count once per process),
    ``peak_one`` is the largest single process; with ``pss``, ``peak_pss`` sums their
    proportional set sizes (shared pages divided among their sharers: the memory really used).
    """

    def __init__(self, interval: float = 0.05, pid: int | None = None, pss: bool = False) -> None:
        self.interval = interval
        self.pid = pid
        self.pss = pss
        self.peak = self.peak_one = self.peak_pss = 0
        self.peak_root = self.peak_children = 0  # the process itself; its children together
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        root = psutil.Process(self.pid)
        while not self._stop.is_set():
            sizes, pss = [], 0
            with suppress(psutil.Error):
                for p in [root, *root.children(recursive=True)]:
                    with suppress(psutil.Error):  # a worker may exit between listing and reading
                        sizes.append(p.memory_info().rss)
                        if self.pss:
                            pss += p.memory_full_info().pss
            self.peak = max(self.peak, sum(sizes))
            self.peak_pss = max(self.peak_pss, pss)
            if sizes:
                self.peak_root = max(self.peak_root, sizes[0])
                self.peak_children = max(self.peak_children, sum(sizes[1:]))
            self.peak_one = max(self.peak_one, *sizes, 0)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return round(self.peak / 2**20, 1)


@contextmanager
def timer() -> Iterator[dict[str, float]]:
    box: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield box
    finally:
        box["seconds"] = time.perf_counter() - start


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples_s)
    q = statistics.quantiles(ms, n=100) if len(ms) > 1 else ms * 99
    return {"p50_ms": round(statistics.median(ms), 3), "p95_ms": round(q[94], 3)}


def machine() -> dict[str, Any]:
    return {
        "cpus": psutil.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {"machine": machine(), "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"), **data}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
