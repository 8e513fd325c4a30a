"""Runs in worker processes: read one file, return picklable results (never raises)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from ingest.config import IngestSettings
from ingest.readers.context import ReadContext
from ingest.types import IngestError, ParsedDocument

_ctx: ReadContext | None = None
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(slots=True)
class Job:
    path: Path
    sidecar: Path | None


@dataclass(slots=True)
class Outcome:
    path: Path
    file_type: str | None = None
    parsed: ParsedDocument | None = None
    error: str | None = None
    unsupported: bool = False
    seconds: float = 0.0


def init_worker(settings_json: str, store_dir: str, threads: int, parent: int) -> None:
    """Per-process set-up: ignore Ctrl-C (the parent handles it), exit with the parent
    (``parent``: its pid) and bound native threads."""
    global _ctx
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent(parent)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _ctx = ReadContext(IngestSettings.model_validate_json(settings_json), Path(store_dir))


def exit_with_parent(parent: int, poll_s: float = 1.0) -> None:
    """End this process when ``parent`` dies, even by ``kill -9`` (which leaves the parent no
    time to stop its pool; the workers would read on for nothing, or idle forever).

    Linux: the kernel sends SIGKILL when the parent dies (``PR_SET_PDEATHSIG``). Everywhere,
    and for a parent that died before that was set: a thread that watches the parent's pid.
    """
    if sys.platform.startswith("linux") and os.getppid() == parent:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    watch = threading.Thread(
        target=_watch_parent, args=(parent, os.getppid(), poll_s), name="parent-watch", daemon=True
    )
    watch.start()


def _watch_parent(parent: int, ppid: int, poll_s: float) -> None:
    while True:
        try:
            os.kill(parent, 0)  # signal 0: is it still there?
        except ProcessLookupError:
            os._exit(70)
        if os.getppid() != ppid:  # re-parented: the process between us (a fork server) died
            os._exit(70)
        time.sleep(poll_s)


def set_context(ctx: ReadContext) -> None:
    """In-process use (workers=0)."""
    global _ctx
    _ctx = ctx


def read(job: Job) -> Outcome:
    from ingest.readers.dispatch import UnsupportedFile, read_file

    assert _ctx is not None, "init_worker/set_context was not called"
    start = time.perf_counter()
    out = Outcome(job.path)
    try:
        out.file_type, out.parsed = read_file(job.path, _ctx, sidecar=job.sidecar)
    except UnsupportedFile as exc:
        out.error, out.unsupported = str(exc), True
    except IngestError as exc:
        out.error = str(exc)
    except MemoryError:
        out.error = "out of memory while reading the file"
    except Exception as exc:  # noqa: BLE001 - one bad file must never stop the run
        last = traceback.extract_tb(exc.__traceback__)[-1]
        out.error = f"{type(exc).__name__}: {exc} (at {Path(last.filename).name}:{last.lineno})"
    out.seconds = time.perf_counter() - start
    return out
