"""A store keeps working copied, moved, or opened from another working directory.

The sample-store search tests of tests/test_retrieval.py run here again, unchanged, on a copy of
the sample store opened from another directory (``sample_store`` is overridden below).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.api import MMRag
from tests import corpus
from tests.conftest import BACKENDS, OFFLINE, offline_settings
from tests.test_retrieval import (  # noqa: F401 - collected again, on the copied store
    rag,
    test_filters_combine_with_every_retriever_and_do_not_starve,
    test_hybrid_leaves_out_a_text_model_that_cannot_read_the_query,
    test_image_queries_search_the_clip_space,
    test_modes_find_keywords_meanings_and_japanese_inflections,
)

# a PostgreSQL catalog lives in its server, not in the store directory: a copy has none
pytestmark = pytest.mark.skipif(
    BACKENDS["catalog"] == "postgresql",
    reason="about copying a store directory; a PostgreSQL catalog is not in it",
)


@pytest.fixture(scope="module")
def sample_store(sample_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the session's sample store, used from another working directory."""
    base = tmp_path_factory.mktemp("relocated")
    copy = base / "moved" / "store"
    shutil.copytree(sample_store, copy)
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    cwd = os.getcwd()
    os.chdir(elsewhere)
    try:
        yield copy
    finally:
        os.chdir(cwd)


def test_copied_store_serves_its_own_images(sample_store: Path) -> None:
    from app.ui.files import FileGuard

    copy = MMRag.open(os.path.relpath(sample_store), OFFLINE)  # a relative path, from elsewhere
    hits = copy.search("a picture", k=100, modality="image")
    extracted = [h for h in hits if Path(h.image or "/").is_relative_to(sample_store)]
    assert extracted, "no image extracted from a document was found in the copy"
    guard = FileGuard(copy.catalog, sample_store, sample_store / "uploads")
    for hit in hits:
        assert hit.thumbnail and Path(hit.thumbnail).is_relative_to(sample_store), hit.thumbnail
        assert guard.check(hit.thumbnail).is_file()
        assert guard.check(hit.image).is_file()
    assert all(f.ok for f in copy.doctor(repair=False) if f.check == "image files present")


def test_store_built_from_a_relative_path_moves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Images extracted from a PPTX were recorded relative to the ingest's working directory;
    an older store with such paths is migrated when it is opened."""
    files = tmp_path / "files"
    corpus.pptx(
        files / "deck.pptx",
        [corpus.Slide("Shapes", ["A red circle"], image=corpus.scene_image("circle", "red"))],
    )
    monkeypatch.chdir(tmp_path)
    built = MMRag(offline_settings(Path("store")))  # relative, as `mmrag ingest --store store`
    assert all(r.status == "ingested" for r in built.ingest([files]))
    built.catalog.close()
    with sqlite3.connect(tmp_path / "store" / "catalog.sqlite3") as db:
        rows = db.execute("select path, thumbnail, extracted from assets").fetchall()
        assert rows and all(not Path(p).is_absolute() for r in rows for p in r[:2])
        # an older mmrag wrote them relative to the working directory: migrate those
        db.execute("update assets set path = 'store/' || path, thumbnail = 'store/' || thumbnail")
        db.execute("update alembic_version set version_num = '0001'")
    shutil.move(tmp_path / "store", tmp_path / "moved")
    monkeypatch.chdir(files)
    moved = MMRag.open(tmp_path / "moved", OFFLINE)
    hit = moved.search("red circle", k=1, modality="image")[0]
    assert Path(hit.image).is_file() and Path(hit.image).is_relative_to(tmp_path / "moved")
    assert Path(hit.thumbnail).is_file()
