"""Reading files on a Ray cluster (``mmrag ingest --engine ray [--ray-address ADDR]``).

Only the read step (parse, OCR, transcribe: the same readers, `ingest.worker.read`) moves to
Ray tasks; discovery, content hashing and every catalog write stay in this process, in
`Pipeline`, so the guarantees are the built-in pool's: files known by content hash, one
transaction per file, a killed run resumes, the same results for ``--report`` and progress.

Small files travel in batches (one Ray task costs as much as reading a note). A batch whose
worker dies (killed, out of memory, a native crash) is split, and each of its files gets a task
of its own, which Ray runs once more if its worker dies; if that worker dies too, the file is
reported failed once, like a file that breaks the local pool twice. Workers on other machines
must see the files (and the store, where readers write extracted images) at the same paths: a
shared drive.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from ingest.catalog import Catalog
from ingest.config import IngestSettings, StoreSettings
from ingest.pipeline import Pipeline
from ingest.worker import Job, Outcome

log = logging.getLogger(__name__)

CRASHED = "the reader process crashed on this file (native crash or out of memory)"
BATCH = 16  # small files per Ray task
SMALL_BYTES = 256 * 1024  # files up to this size are batched; larger ones get a task each
_context_key: tuple[str, str] | None = None  # in a Ray worker: the settings it reads with


def read_in_worker(settings_json: str, store_dir: str, jobs: list[Job]) -> list[Outcome]:
    """Runs in a Ray worker: read files with the built-in readers (never raises)."""
    global _context_key
    from ingest import worker
    from ingest.readers.context import ReadContext

    if _context_key != (settings_json, store_dir):  # a worker serves tasks of one ingest
        settings = IngestSettings.model_validate_json(settings_json)
        worker.set_context(ReadContext(settings, Path(store_dir)))
        _context_key = (settings_json, store_dir)
    return [worker.read(job) for job in jobs]


class RayPool:
    """The slice of `ProcessPoolExecutor` that `Pipeline` uses, over Ray tasks.

    Small files go to Ray in batches of up to ``batch`` (a task costs milliseconds of
    scheduling, as long as reading a small note); a batch whose worker dies is split and each
    file tried on its own, so a crash is still pinned on its file. A batch that is not full is
    sent after ``linger_s``."""

    def __init__(
        self,
        settings: IngestSettings,
        store_dir: Path,
        *,
        batch: int = BATCH,
        small_bytes: int = SMALL_BYTES,
        linger_s: float = 0.05,
    ) -> None:
        try:
            import ray
        except ImportError as e:
            raise RuntimeError("--engine ray needs Ray: pip install 'mmrag[ray]'") from e

        self._ray = ray
        # a batch is not retried whole (split instead); a single file once, as a pool would
        self._batch_task = ray.remote(max_retries=0, retry_exceptions=False)(read_in_worker)
        self._file_task = ray.remote(max_retries=1, retry_exceptions=False)(read_in_worker)
        self._settings = ray.put(settings.model_dump_json())
        self._store_dir = str(store_dir.resolve())
        self._batch, self._small, self._linger = batch, small_bytes, linger_s
        self._lock = threading.Lock()
        self._waiting: list[tuple[Job, Future[Outcome]]] = []
        self._timer: threading.Timer | None = None
        self._running: dict[int, Any] = {}  # in-flight refs (dropped when done: no pinning)

    def submit(self, _fn: object, job: Job) -> Future[Outcome]:
        """Read ``job`` in the cluster; the future always resolves to an `Outcome`."""
        out: Future[Outcome] = Future()
        if self._batch <= 1 or not self._is_small(job):
            self._send([(job, out)], single=True)
            return out
        with self._lock:
            self._waiting.append((job, out))
            if len(self._waiting) >= self._batch:
                self._flush_locked()
            elif self._timer is None:
                self._timer = threading.Timer(self._linger, self._flush)
                self._timer.daemon = True
                self._timer.start()
        return out

    def _is_small(self, job: Job) -> bool:
        try:
            return job.path.stat().st_size <= self._small
        except OSError:
            return False  # the reader will say what is wrong with it, on its own

    def _flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._waiting:
            batch, self._waiting = self._waiting, []
            self._send(batch, single=len(batch) == 1)

    def _send(self, batch: list[tuple[Job, Future[Outcome]]], *, single: bool) -> None:
        task = self._file_task if single else self._batch_task
        ref = task.remote(self._settings, self._store_dir, [job for job, _ in batch])
        key = id(ref)
        self._running[key] = ref

        def settle(done: Future[list[Outcome]]) -> None:
            self._running.pop(key, None)
            try:
                outcomes = done.result()
            except Exception as e:  # noqa: BLE001 - its worker died
                if not single:  # find the file that did it: each on its own
                    for job, out in batch:
                        self._send([(job, out)], single=True)
                    return
                job, out = batch[0]
                log.warning("reading %s crashed its Ray worker: %s", job.path, type(e).__name__)
                _resolve(out, Outcome(job.path, error=CRASHED))
                return
            for (_, out), outcome in zip(batch, outcomes, strict=True):
                _resolve(out, outcome)

        ref.future().add_done_callback(settle)

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            waiting, self._waiting = self._waiting, []
        for _, out in waiting:
            out.cancel()
        if cancel_futures:
            for ref in list(self._running.values()):
                try:
                    self._ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - finished or gone already
                    continue
        self._running.clear()


def _resolve(out: Future[Outcome], outcome: Outcome) -> None:
    if not out.done():  # cancelled by a shutdown meanwhile: nobody waits for it
        out.set_result(outcome)


class RayPipeline(Pipeline):
    """`Pipeline` with its reader pool on Ray (a cluster at ``address``, else a local one)."""

    def __init__(
        self,
        settings: IngestSettings,
        store: StoreSettings,
        catalog: Catalog | None = None,
        *,
        address: str | None = None,
    ) -> None:
        import ray

        connect(address)
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        # files in flight: 2 x workers, as locally, with a cluster's CPUs for workers, each
        # kept busy with a batch of small files
        super().__init__(settings.model_copy(update={"workers": cpus * BATCH}), store, catalog)
        self.cpus = cpus

    def _new_pool(self) -> RayPool:  # type: ignore[override]
        return RayPool(self.settings, self.store.dir)


def connect(address: str | None) -> None:
    """Join the Ray cluster at ``address`` (or start a local Ray) unless already connected."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address, **_local_options(address))


def _local_options(address: str | None) -> dict[str, Any]:
    """ray.init options: a cluster brings its own code; a local Ray runs this checkout's."""
    if address is not None:
        return {"log_to_driver": False}
    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return {
        "include_dashboard": False,
        "log_to_driver": False,
        "runtime_env": {"env_vars": {"PYTHONPATH": path}},
    }
