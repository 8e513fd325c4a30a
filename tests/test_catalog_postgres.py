"""The catalog in PostgreSQL (``store.database_url``): migrations, ingest, search with filters,
several writers at once. Runs against a throwaway server (tests/postgres.py); skipped, saying
why, where none can be started."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from app.api import MMRag
from ingest.catalog import Catalog, Document, FileRecord, FileStat
from ingest.types import FileStatus, Item, Modality, ParsedDocument
from retrieval.filters import Filters
from tests import postgres
from tests.conftest import DATA, offline_settings


@pytest.fixture(scope="module")
def pg() -> None:
    why = postgres.unavailable()
    if why:
        pytest.skip(why)


def _folder(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "bridges.md").write_text(
        "# Bridges\n\nThe footbridge over the river was inspected for corrosion in August."
    )
    (root / "nul.txt").write_text("A stray NUL\x00 byte in a text file about lighthouses.")
    (root / "red_circle.jpg").write_bytes((DATA / "images" / "red_circle.jpg").read_bytes())
    return root


def test_ingest_search_and_filters_on_postgresql(pg: None, tmp_path: Path) -> None:
    store, folder = tmp_path / "store", _folder(tmp_path / "files")
    url = postgres.database_for(store)
    rag = MMRag(offline_settings(store, store={"database_url": url}))
    assert rag.catalog.engine.dialect.name == "postgresql"
    results = list(rag.ingest([folder]))
    assert {r.status for r in results} == {FileStatus.INGESTED}, results
    with rag.catalog.session() as s:  # Alembic brought the schema to head
        assert s.scalar(text("SELECT version_num FROM alembic_version")) == "0002"

    assert rag.search("corrosion of a footbridge", k=1)[0].source.endswith("bridges.md")
    assert rag.search("lighthouses", k=1, modality="text")[0].source.endswith("nul.txt")
    images = rag.search("a red circle", k=3, modality="image")
    assert images and all(h.modality == "image" for h in images)
    only_md = rag.search("lighthouses", k=5, filters=Filters(file_types=("md",)))
    assert only_md and all(h.source.endswith(".md") for h in only_md)
    assert rag.search("bridges", k=5, filters=Filters(date_to=date(1990, 1, 1))) == []
    assert all(f.ok for f in rag.doctor(repair=False))

    again = list(MMRag(offline_settings(store, store={"database_url": url})).ingest([folder]))
    assert {r.status for r in again} == {FileStatus.UNCHANGED}  # content-hash idempotent


def test_concurrent_writers_store_each_content_once(pg: None, tmp_path: Path) -> None:
    """Several ingests writing one catalog at once: the same content from many paths and
    many writers becomes one document, every path is linked to it."""
    url = postgres.database_for(tmp_path / "shared")
    Catalog(url, store_dir=tmp_path)  # migrate once
    writers = [Catalog(url, store_dir=tmp_path) for _ in range(4)]
    files = tmp_path / "files"
    files.mkdir()
    for i in range(8):
        (files / f"copy{i}.txt").write_text("same")

    def parsed(i: int) -> ParsedDocument:
        return ParsedDocument("document", [Item(Modality.TEXT, f"shared text {i % 2}")])

    def write(n: int) -> None:
        catalog = writers[n % len(writers)]
        path = files / f"copy{n % 8}.txt"
        catalog.store_document(FileStat.of(path, files), f"{n % 2:064d}", "txt", parsed(n))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(32)))
    with writers[0].session() as s:
        assert s.scalar(select(func.count(Document.id))) == 2
        assert s.scalar(select(func.count(FileRecord.id))) == 8
        assert (
            s.scalar(select(func.count(FileRecord.id)).where(FileRecord.document_id.is_(None))) == 0
        )
    for c in writers:
        c.close()
