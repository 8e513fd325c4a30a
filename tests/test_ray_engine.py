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

import numpy as np
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


def test_plan_actors_one_per_gpu_else_one_per_node_with_its_cpus() -> None:
    from index.ray_embed import ActorSlot, plan_actors

    def node(node_id: str, alive: bool = True, **resources: float) -> dict[str, object]:
        return {"NodeID": node_id, "Alive": alive, "Resources": resources}

    gpu_cluster = [node("a", CPU=16, GPU=2), node("b", CPU=8, GPU=1), node("c", False, GPU=4)]
    assert plan_actors(gpu_cluster) == [ActorSlot(threads=1, num_gpus=1)] * 3
    cpu_cluster = [node("a", CPU=16), node("b", CPU=4), node("head", CPU=0)]
    assert plan_actors(cpu_cluster) == [
        ActorSlot(threads=16, node_id="a"),
        ActorSlot(threads=4, node_id="b"),
    ]


def test_the_actor_pool_embeds_on_a_cluster_or_when_asked() -> None:
    from ingest.config import IngestSettings

    def on_ray(**settings: object) -> bool:
        return IngestSettings.model_validate(settings).embeds_on_ray

    assert not on_ray(engine="local", ray_embed="actors")
    assert not on_ray(engine="ray")  # a local Ray: the same cores as this process
    assert on_ray(engine="ray", ray_address="ray://head:10001")
    assert on_ray(engine="ray", ray_embed="actors")
    assert not on_ray(engine="ray", ray_address="auto", ray_embed="process")


def test_ray_engine_embeds_on_actors_as_this_process_would(
    local_ray: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both spaces (texts and a picture) are embedded by a Ray actor pool, never by the
    ingesting process, into the vectors a local rebuild gives (same models: search agrees)."""
    from PIL import Image

    from index.embedders.factory import clip_embedder, text_embedder

    folder = tmp_path / "files"
    write_notes(folder, 12)
    Image.new("RGB", (64, 48), (200, 30, 30)).save(folder / "red.png")
    ray_settings = {"engine": "ray", "workers": 1, "ray_embed": "actors"}
    rag = MMRag(offline_settings(tmp_path / "store", ingest=ray_settings))

    def not_here(*_: object, **__: object) -> None:
        raise AssertionError("embedded in the ingesting process, not on Ray")

    with monkeypatch.context() as m:
        for local in (text_embedder(rag.settings.embed), clip_embedder(rag.settings.embed)):
            m.setattr(local, "embed_texts", not_here)
        m.setattr(clip_embedder(rag.settings.embed), "embed_images", not_here)
        assert {r.status for r in rag.ingest([folder])} == {FileStatus.INGESTED}
    _consistent(rag, 13)

    on_ray = {space: rag.indexer.open(space) for space in ("text", "clip")}
    local = MMRag(offline_settings(rag.settings.store.dir))
    for space, store in on_ray.items():
        assert store is not None
        ids = store.ids()
        assert len(ids) == (13 if space == "clip" else 12)  # the picture has no text
        _, ray_vectors = store.vectors(ids)
        local.indexer.reindex(space, local.settings.embed)
        rebuilt = local.indexer.open(space)
        assert rebuilt is not None
        _, local_vectors = rebuilt.vectors(ids)
        assert np.allclose(ray_vectors, local_vectors, atol=1e-4), space
    hit = local.search("note number 7 topic 49", k=1, modality="text")[0]
    assert hit.source.endswith("note007.md")
