"""Runs in worker processes: read one file, return picklable results (never raises)."""

from __future__ import annotations

import os
import signal
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from ingest.config import IngestSettings
from ingest.readers.context import ReadContext
from ingest.types import IngestError, ParsedDocument

_ctx: ReadContext | None = None


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


def init_worker(settings_json: str, store_dir: str, threads: int) -> None:
    """Per-process set-up: ignore Ctrl-C (the parent handles it) and bound native threads."""
    global _ctx
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _ctx = ReadContext(IngestSettings.model_validate_json(settings_json), Path(store_dir))


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
