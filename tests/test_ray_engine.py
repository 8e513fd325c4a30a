"""`mmrag ingest --engine ray`: the built-in readers in Ray tasks on a local Ray (2 CPUs), with
the built-in pipeline's guarantees: idempotent, a dead worker's task retried once, a file that
kills its worker every time reported failed once and not retried on the next run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.api import MMRag
from ingest.ray_engine import CRASHED, RayPipeline
from ingest.types import FileStatus
from tests.conftest import ROOT, offline_settings

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
