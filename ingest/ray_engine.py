"""Reading files on a Ray cluster (``mmrag ingest --engine ray [--ray-address ADDR]``).

Only the read step (parse, OCR, transcribe: the same readers, `ingest.worker.read`) moves to
Ray tasks; discovery, content hashing and every catalog write stay in this process, in
`Pipeline`, so the guarantees are the built-in pool's: files known by content hash, one
transaction per file, a killed run resumes, the same results for ``--report`` and progress.

A task whose worker dies (killed, out of memory, a native crash) is run once more by Ray; if
that worker dies too, the file is reported failed once, like a file that breaks the local
pool twice. Workers on other machines must see the files (and the store, where readers write
extracted images) at the same paths: a shared drive.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from ingest.catalog import Catalog
from ingest.config import IngestSettings, StoreSettings
from ingest.pipeline import Pipeline
from ingest.worker import Job, Outcome

log = logging.getLogger(__name__)

CRASHED = "the reader process crashed on this file (native crash or out of memory)"
_context_key: tuple[str, str] | None = None  # in a Ray worker: the settings it reads with


def read_in_worker(settings_json: str, store_dir: str, job: Job) -> Outcome:
    """Runs in a Ray worker: read one file with the built-in readers (never raises)."""
    global _context_key
    from ingest import worker
    from ingest.readers.context import ReadContext

    if _context_key != (settings_json, store_dir):  # a worker serves tasks of one ingest
        settings = IngestSettings.model_validate_json(settings_json)
        worker.set_context(ReadContext(settings, Path(store_dir)))
        _context_key = (settings_json, store_dir)
    return worker.read(job)


class RayPool:
    """The slice of `ProcessPoolExecutor` that `Pipeline` uses, over Ray tasks."""

    def __init__(self, settings: IngestSettings, store_dir: Path) -> None:
        import ray

        self._ray = ray
        self._remote = ray.remote(max_retries=1, retry_exceptions=False)(read_in_worker)
        self._settings = ray.put(settings.model_dump_json())
        self._store_dir = str(store_dir.resolve())
        self._refs: list[Any] = []

    def submit(self, _fn: object, job: Job) -> Future[Outcome]:
        """Read ``job`` in the cluster; the future always resolves to an `Outcome`."""
        ref = self._remote.remote(self._settings, self._store_dir, job)
        self._refs.append(ref)
        out: Future[Outcome] = Future()

        def settle(done: Future[Outcome]) -> None:
            try:
                out.set_result(done.result())
            except Exception as e:  # noqa: BLE001 - the worker died twice: this file's fault
                log.warning("reading %s crashed its Ray worker: %s", job.path, type(e).__name__)
                out.set_result(Outcome(job.path, error=CRASHED))

        ref.future().add_done_callback(settle)
        return out

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        if cancel_futures:
            for ref in self._refs:
                try:
                    self._ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - finished or gone already
                    continue
        self._refs.clear()


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

        if not ray.is_initialized():
            ray.init(address=address, **_local_options(address))
        cpus = int(ray.cluster_resources().get("CPU", 1))
        # files in flight: 2 x workers, as locally; a cluster's CPUs are its workers
        super().__init__(settings.model_copy(update={"workers": max(1, cpus)}), store, catalog)

    def _new_pool(self) -> RayPool:  # type: ignore[override]
        return RayPool(self.settings, self.store.dir)


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
