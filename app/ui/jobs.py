"""Background ingestion: one worker thread per store, progress the pages poll.

The thread runs :meth:`MMRag.ingest`, so the server keeps answering while files are read and
embedded. A small job is read in the server process itself (``inline``), where the readers and
their models stay loaded from one job to the next; a pool of reader processes pays off only for
many files (starting one costs seconds). Progress moves per file and per stage: which file is
being read and how (reading, OCR, transcribing), then embedding.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.api import MMRag
from index.indexer import SPACES
from ingest.detect import AUDIO_TYPES, EXTENSIONS, IMAGE_TYPES
from ingest.paths import readable

log = logging.getLogger(__name__)

INLINE_FILES = 24  # up to this many files, read in-process (no reader pool to start)
READ_SHARE = 0.85  # of the bar: reading; the rest is embedding and indexing
INDEX_STEPS = (*SPACES, "lexical")  # what MMRag.sync reports progress for, in turn


class Busy(RuntimeError):
    """An ingestion is already running for this store."""


@dataclass(slots=True)
class IngestJob:
    id: int
    paths: list[str]
    status: str = "queued"  # queued | counting | reading | indexing | done | cancelled | failed
    stage: str = "reading"  # while reading: reading | ocr | transcribing (of ``current``)
    total: int | None = None
    done: int = 0
    current: str | None = None  # the file being read now
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
        """Overall progress, 0..1: each file read moves it, then each space embedded."""
        if self.status in ("done", "cancelled", "failed"):
            return 1.0
        read = self.done / self.total if self.total else 0.0
        if self.status != "indexing":
            return min(READ_SHARE, READ_SHARE * read)
        # the spaces are indexed one after the other: each is an equal step of the rest
        steps = [d / t if t else 1.0 for d, t in self.index.values()]
        embedded = sum(steps) / max(len(INDEX_STEPS), len(steps))
        return min(1.0, READ_SHARE + (1 - READ_SHARE) * embedded)

    @property
    def embedded(self) -> tuple[int, int]:
        """(items embedded, items to embed) over the spaces seen so far."""
        return (
            sum(d for d, _ in self.index.values()),
            sum(t for _, t in self.index.values()),
        )

    def tally(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r["status"]] = out.get(r["status"], 0) + 1
        return out


def stage_of(path: Path, sidecar: Path | None, ocr: bool) -> str:
    """How a file will be read, by its kind: transcribed, OCR'd, or read as a document."""
    kind = EXTENSIONS.get(path.suffix.lower())
    if kind in AUDIO_TYPES:
        return "reading" if sidecar is not None else "transcribing"
    if kind in IMAGE_TYPES and ocr:
        return "ocr"
    return "reading"


class _Upcoming:
    """Which file the pipeline reads now: the first discovered one not reported yet (files are
    read in discovery order; in a pool, a few at once and this is the oldest)."""

    def __init__(self, found: Iterator[Any]) -> None:
        self._found = found
        self._reported: set[Path] = set()
        self._head: Any = None

    def report(self, path: Path) -> None:
        self._reported.add(path)

    def now(self) -> Any:
        while self._head is None or self._head.path in self._reported:
            if self._head is not None:
                self._reported.discard(self._head.path)
            self._head = next(self._found, None)
            if self._head is None:
                return None
        return self._head


class JobManager:
    """Starts ingestion jobs for one store, one at a time, and keeps their history.

    ``inline``: the same store set to read in-process (``ingest.workers = 0``), for small jobs.
    ``ready``: set once the app has loaded its models and readers; a job waits for it, since
    two threads importing the same libraries at once can fail (transformers' lazy imports do).
    """

    def __init__(
        self,
        rag: MMRag,
        on_change: Callable[[], None],
        inline: MMRag | None = None,
        ready: threading.Event | None = None,
    ) -> None:
        self.rag = rag
        self.inline = inline or rag
        self.ready = ready
        self.on_change = on_change  # called after the store's content changed
        self.jobs: list[IngestJob] = []
        self._lock = threading.Lock()

    @property
    def active(self) -> IngestJob | None:
        return next((j for j in reversed(self.jobs) if j.running), None)

    @property
    def last(self) -> IngestJob | None:
        return self.jobs[-1] if self.jobs else None

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
        _batch_threads(self.rag)

        def on_index(space: str, done: int, todo: int) -> None:
            job.status = "indexing"
            job.current = None
            job.index[space] = (done, todo)

        try:
            if self.ready is not None:
                self.ready.wait(timeout=600)  # status "queued" meanwhile
            job.status = "counting"
            job.total = self.rag.pipeline.count(paths)
            rag = self.inline if job.total <= INLINE_FILES else self.rag
            upcoming = _Upcoming(_discover(rag, paths))
            ocr = rag.settings.ingest.ocr

            def show_next() -> None:
                nxt = upcoming.now()
                job.current = readable(nxt.path.name) if nxt is not None else None
                if nxt is not None:
                    job.stage = stage_of(nxt.path, getattr(nxt, "sidecar", None), ocr)

            show_next()
            job.status = "reading"
            results = rag.ingest(paths, on_index=on_index)
            for res in results:
                job.results.append(res.to_json())
                upcoming.report(res.path)
                if res.status.value != "removed":
                    job.done += 1
                changed = changed or res.status.value not in ("unchanged", "skipped", "failed")
                if job.status == "reading":
                    show_next()
                if job.cancel.is_set():
                    results.close()  # the pipeline records the run as interrupted
                    job.status = "indexing"
                    rag.sync(on_index)  # index what was stored before the stop
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
            if changed or job.status in ("done", "cancelled"):
                self.on_change()
            job.finished = time.time()  # last: pages that see it finished see the new content


def _discover(rag: MMRag, paths: list[Path]) -> Iterator[Any]:
    """The files the pipeline will look at, in its order (for the "now reading" line only)."""
    from ingest.discover import discover

    s = rag.settings.ingest
    try:
        yield from discover(
            paths, s.include, s.exclude, follow_external_links=s.follow_external_links
        )
    except Exception:  # noqa: BLE001 - a guess for the progress line; the pipeline reports
        return


def _batch_threads(rag: MMRag) -> None:
    """Embedding a batch may use every core (torch keeps the setting per thread; query
    threads use one, see state.query_threads)."""
    import torch

    torch.set_num_threads(rag.settings.embed.threads or os.cpu_count() or 1)
