"""Background ingestion: one worker thread per store, progress the pages poll.

The thread runs :meth:`MMRag.ingest` (whose readers run in their own processes when
``ingest.workers`` > 0), so the server keeps answering while files are read and embedded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.api import MMRag

log = logging.getLogger(__name__)


class Busy(RuntimeError):
    """An ingestion is already running for this store."""


@dataclass(slots=True)
class IngestJob:
    id: int
    paths: list[str]
    status: str = "queued"  # queued | counting | reading | indexing | done | cancelled | failed
    total: int | None = None
    done: int = 0
    current: str | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    index: dict[str, tuple[int, int]] = field(default_factory=dict)  # space -> (done, todo)
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def running(self) -> bool:
        return self.finished is None

    @property
    def fraction(self) -> float:
        """Overall progress, 0..1: reading counts for 80 %, embedding for 20 %."""
        if self.status in ("done", "cancelled", "failed"):
            return 1.0
        read = self.done / self.total if self.total else 0.0
        todo = sum(t for _, t in self.index.values())
        embedded = sum(d for d, _ in self.index.values()) / todo if todo else 0.0
        return min(1.0, 0.8 * read + (0.2 * embedded if self.status == "indexing" else 0.0))

    def tally(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r["status"]] = out.get(r["status"], 0) + 1
        return out


class JobManager:
    """Starts ingestion jobs for one store, one at a time, and keeps their history."""

    def __init__(self, rag: MMRag, on_change: Callable[[], None]) -> None:
        self.rag = rag
        self.on_change = on_change  # called after the store's content changed
        self.jobs: list[IngestJob] = []
        self._lock = threading.Lock()

    @property
    def active(self) -> IngestJob | None:
        return next((j for j in reversed(self.jobs) if j.running), None)

    def start(self, paths: list[Path]) -> IngestJob:
        with self._lock:
            if self.active is not None:
                raise Busy("an ingestion is already running")
            job = IngestJob(id=len(self.jobs) + 1, paths=[str(p) for p in paths])
            self.jobs.append(job)
        threading.Thread(
            target=self._run, args=(job,), name=f"ingest-{job.id}", daemon=True
        ).start()
        return job

    def _run(self, job: IngestJob) -> None:
        paths = [Path(p) for p in job.paths]
        changed = False

        def on_index(space: str, done: int, todo: int) -> None:
            job.status = "indexing"
            job.index[space] = (done, todo)

        try:
            job.status = "counting"
            job.total = self.rag.pipeline.count(paths)
            job.status = "reading"
            results = self.rag.ingest(paths, on_index=on_index)
            for res in results:
                job.results.append(res.to_json())
                job.current = res.path.name
                if res.status.value != "removed":
                    job.done += 1
                changed = changed or res.status.value not in ("unchanged", "skipped", "failed")
                if job.cancel.is_set():
                    results.close()  # the pipeline records the run as interrupted
                    job.status = "indexing"
                    self.rag.sync(on_index)  # index what was stored before the stop
                    job.status = "cancelled"
                    break
            else:
                job.status = "done"
        except Exception as exc:  # a failed job must be shown, never kill the server
            log.exception("ingestion job %s failed", job.id)
            job.error = f"{type(exc).__name__}: {exc}"
            job.status = "failed"
        finally:
            job.current = None
            job.finished = time.time()
            if changed or job.status in ("done", "cancelled"):
                self.on_change()
