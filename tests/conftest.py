"""Shared fixtures: offline settings, a fresh store per test, the sample corpus."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DO_NOT_TRACK", "true")

from app.config import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
OFFLINE = ROOT / "configs" / "offline.toml"
DATA = ROOT / "data"


# the backends the whole suite runs on: `pytest --vector-backend milvus --catalog postgresql`
# (in the environment too, so the tests' subprocesses use the same ones)
BACKENDS = {
    "vector": os.environ.get("MMRAG_TEST_VECTOR", "faiss"),
    "catalog": os.environ.get("MMRAG_TEST_CATALOG", "sqlite"),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--vector-backend", choices=("faiss", "milvus"), default="faiss")
    parser.addoption("--catalog", choices=("sqlite", "postgresql"), default="sqlite")


def pytest_configure(config: pytest.Config) -> None:
    BACKENDS["vector"] = os.environ["MMRAG_TEST_VECTOR"] = config.getoption("--vector-backend")
    BACKENDS["catalog"] = os.environ["MMRAG_TEST_CATALOG"] = config.getoption("--catalog")


def backend_overrides(store: Path) -> dict[str, dict[str, object]]:
    """Settings that put a test store on the backends chosen for this run."""
    out: dict[str, dict[str, object]] = {}
    if BACKENDS["vector"] == "milvus":
        out["index"] = {"backend": "milvus"}
    if BACKENDS["catalog"] == "postgresql":
        from tests.postgres import database_for

        out["store"] = {"database_url": database_for(store)}
    return out


def skip_on_milvus_lite(why: str) -> None:
    """Skip a test that needs several processes on one vector store: Milvus Lite serves one
    process at a time (a Milvus server does not have that limit)."""
    if BACKENDS["vector"] == "milvus":
        pytest.skip(f"Milvus Lite serves one process at a time: {why}")


def skip_on_postgresql(why: str) -> None:
    """Skip a test that is about the SQLite catalog file itself."""
    if BACKENDS["catalog"] == "postgresql":
        pytest.skip(f"about the SQLite catalog: {why}")


def offline_settings(store: Path, /, **overrides: object) -> Settings:
    """Settings with the offline models, a store under ``store`` and in-process reading
    (on the backends of this run: see ``backend_overrides``)."""
    merged: dict[str, object] = {"ingest": {"workers": 0}, **backend_overrides(store)}
    for key, value in overrides.items():
        merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value  # type: ignore[dict-item]
    return load_settings(OFFLINE, store, merged)


def write_notes(root: Path, n: int) -> None:
    """``n`` small Markdown notes (``note000.md``...), stored at hundreds per second."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (root / f"note{i:03d}.md").write_text(
            f"# Note {i}\n\nThis note number {i} is about topic {i * 7}. " * 3, encoding="utf-8"
        )


def stored_midway(proc: subprocess.Popen[bytes], db: Path, at_least: int = 3) -> int:
    """Documents in the SQLite catalog ``db`` once ``proc`` (an ingest) has stored
    ``at_least`` of them, polled tightly so that the caller can kill it midway."""
    stored, deadline = 0, time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
        if not db.exists():  # connecting would create it
            continue
        try:
            stored = sqlite3.connect(db).execute("select count(*) from documents").fetchone()[0]
        except sqlite3.Error:
            continue
        if stored >= at_least:
            break
    return stored


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def settings(store_dir: Path) -> Settings:
    return offline_settings(store_dir)


SAMPLE_EXCLUDES = ["FACTS.md", "README.md", "eval/**"]  # notes about the corpus, not corpus


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data/ ingested once per test session with the offline models (indexes included).

    FACTS.md and README.md describe the corpus (every fact again, verbatim) and are left out,
    as the evaluation questions in data/eval/ expect. Treat the store as read-only.
    """
    from app.api import MMRag

    store = tmp_path_factory.mktemp("sample") / "store"
    exclude = [*offline_settings(store).ingest.exclude, *SAMPLE_EXCLUDES]
    rag = MMRag(offline_settings(store, ingest={"exclude": exclude}))
    failed = [r.path for r in rag.ingest([DATA]) if r.status.value == "failed"]
    assert not failed, failed
    rag.catalog.close()
    return store
