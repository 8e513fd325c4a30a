"""`mmrag ingest --engine ray`: the built-in readers in Ray tasks on a local Ray (2 CPUs), with
the built-in pipeline's guarantees: idempotent, a dead worker's task retried once, a file that
kills its worker every time reported failed once and not retried on the next run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.api import MMRag
from ingest.ray_engine import CRASHED, RayPipeline
from ingest.types import FileStatus
from tests.conftest import (
    OFFLINE,
    ROOT,
    offline_settings,
    skip_on_postgresql,
    stored_midway,
    write_notes,
)

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'ray[default]')")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={
            "env_vars": {"PYTHONPATH": str(ROOT)},
            "worker_process_setup_hook": "tests.ray_hooks.crashing_readers",
        },
    )
    yield
    ray.shutdown()


def test_ray_ingest_is_idempotent_and_reports_a_crashing_file_once(
    local_ray: None, tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    for i in range(4):
        (folder / f"note{i}.md").write_text(f"# Note {i}\n\nLighthouse keeper's log, entry {i}.")
    (folder / "flaky.md").write_text("# Flaky\n\nRead on the second try.")
    (folder / "crash.md").write_text("# Crash\n\nNever read.")
    rag = MMRag(offline_settings(tmp_path / "store", ingest={"engine": "ray", "workers": 1}))
    assert isinstance(rag.pipeline, RayPipeline)
    assert rag.pipeline.cpus == 2  # the cluster's

    first = {r.path.name: r for r in rag.ingest([folder], index=False)}
    assert len(first) == 6
    assert first["crash.md"].status is FileStatus.FAILED
    assert first["crash.md"].reason == CRASHED
    # its batch was split, its own task retried once after its worker died
    assert first["flaky.md"].status is FileStatus.INGESTED
    assert all(first[f"note{i}.md"].status is FileStatus.INGESTED for i in range(4))
    assert rag.catalog.counts()["documents"] == 5

    again = {r.path.name: r.status for r in rag.ingest([folder], index=False)}
    assert again.pop("crash.md") is FileStatus.SKIPPED  # known to fail: not read again
    assert set(again.values()) == {FileStatus.UNCHANGED}
    assert rag.catalog.counts()["documents"] == 5


def _consistent(rag: MMRag, n: int) -> None:
    """``n`` documents, each once, with its chunks once, and indexes in step with them."""
    with rag.catalog.session() as s:
        from sqlalchemy import func, select

        from ingest.catalog import Chunk, Document

        assert s.scalar(select(func.count(Document.id))) == n
        chunks = s.scalar(select(func.count(Chunk.id)))
        distinct = s.scalar(
            select(func.count()).select_from(
                select(Chunk.document_id, Chunk.ordinal).distinct().subquery()
            )
        )
    assert chunks == distinct >= n
    findings = rag.doctor(repair=False)
    assert all(f.ok for f in findings), [f for f in findings if not f.ok]


def test_a_worker_killed_mid_read_loses_and_duplicates_nothing(
    local_ray: None, tmp_path: Path
) -> None:
    """kill -9 of the Ray worker reading a file: its batch is read again, file by file."""
    folder = tmp_path / "files"
    write_notes(folder, 30)
    (folder / "hang.md").write_text("# Hang\n\nThe first worker to read this is killed.")
    pid_file = tmp_path / "hang.md.pid"
    killed: list[int] = []

    def kill_the_reader() -> None:
        deadline = time.monotonic() + 120
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_file.exists():
            pid = int(pid_file.read_text())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    killer = threading.Thread(target=kill_the_reader, daemon=True)
    killer.start()
    rag = MMRag(offline_settings(tmp_path / "store", ingest={"engine": "ray", "workers": 1}))
    results = {r.path.name: r.status for r in rag.ingest([folder])}
    killer.join(timeout=5)
    assert killed, "the hanging reader never started"
    assert set(results.values()) == {FileStatus.INGESTED} and len(results) == 31
    _consistent(rag, 31)


def test_a_killed_ray_driver_resumes_without_losses_or_duplicates(
    local_ray: None, tmp_path: Path
) -> None:
    """kill -9 of `mmrag ingest --engine ray` midway; the next run finishes the job."""
    import psutil

    skip_on_postgresql("the run's progress is read from catalog.sqlite3")
    notes = 300
    corpus = tmp_path / "corpus"
    write_notes(corpus, notes)
    store = tmp_path / "store"
    db = store / "catalog.sqlite3"
    cmd = [
        sys.executable, "-m", "app.cli", "ingest", str(corpus), "--store", str(store),
        "--config", str(OFFLINE), "--engine", "ray",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    driver = psutil.Process(proc.pid)
    stored = stored_midway(proc, db)
    ray_processes = driver.children(recursive=True)  # the local Ray it started
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for p in ray_processes:  # what the dead driver leaves is not this test's to keep
        try:
            p.kill()
        except psutil.NoSuchProcess:
            continue
    assert 3 <= stored < notes, "the run was not killed midway"

    rag = MMRag(offline_settings(store, ingest={"engine": "ray", "workers": 1}))
    statuses = [r.status for r in rag.ingest([corpus])]
    assert statuses.count(FileStatus.UNCHANGED) >= 3
    assert set(statuses) <= {FileStatus.UNCHANGED, FileStatus.INGESTED}
    _consistent(rag, notes)
    interrupted = sqlite3.connect(db).execute(
        "select count(*) from ingest_runs where status = 'interrupted'"
    )
    assert interrupted.fetchone()[0] >= 1
