"""Indexes follow the catalog: add, delete, persist, crash recovery, model identity, reindex."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.api import MMRag
from index.indexer import Indexer, check_indexes
from index.vector_store import ModelMismatchError

from .conftest import DATA, OFFLINE, ROOT, offline_settings, skip_on_milvus_lite

CONTRACT = {"id", "score", "modality", "source", "page", "t_start", "t_end", "title", "section",
            "text", "thumbnail"}  # fmt: skip


def _folder(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "bridges.md").write_text(
        "# Bridges\n\nThe footbridge over the river was inspected for corrosion in August.",
        encoding="utf-8",
    )
    (root / "cooking.md").write_text(
        "# Cooking\n\nSlow-roasted tomatoes with garlic and olive oil make a rich pasta sauce.",
        encoding="utf-8",
    )
    for name in ("red_circle.jpg", "yellow_star.png"):
        (root / name).write_bytes((DATA / "images" / name).read_bytes())
    return root


def _space_ids(rag: MMRag, space: str) -> set[int]:
    store = rag.indexer.open(space)  # type: ignore[arg-type]
    return set() if store is None else set(store.ids().tolist())


def _chunk_ids(rag: MMRag) -> set[int]:
    return {row.id for row in rag.catalog.iter_chunks()}


def test_ingest_indexes_every_item_and_prune_deletes(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "files")
    rag = MMRag(offline_settings(tmp_path / "store"))
    list(rag.ingest([folder]))
    ids = _chunk_ids(rag)
    assert _space_ids(rag, "clip") == ids  # images and text items share the CLIP space
    assert _space_ids(rag, "text") < ids  # photos without text have no passage vector

    top = rag.search("corrosion of a footbridge", k=1, modality="text")[0]
    assert top.source.endswith("bridges.md")
    (folder / "bridges.md").unlink()
    list(rag.ingest([folder], prune=True))
    assert top.id not in _space_ids(rag, "text") | _space_ids(rag, "clip")
    assert all(not r.source.endswith("bridges.md") for r in rag.search("footbridge", k=5))

    reopened = MMRag(offline_settings(tmp_path / "store"))  # persisted: a new process sees it
    assert _space_ids(reopened, "clip") == _chunk_ids(reopened)


def test_text_to_image_and_image_to_image(tmp_path: Path) -> None:
    rag = MMRag(offline_settings(tmp_path / "store"))
    list(rag.ingest([_folder(tmp_path / "files")]))
    hits = rag.search("a yellow star", k=2, modality="image")
    assert Path(hits[0].source).name == "yellow_star.png"
    assert hits[0].thumbnail and Path(hits[0].thumbnail).is_file()

    query = tmp_path / "query.jpg"  # the same scene, re-encoded at another size
    from PIL import Image

    with Image.open(DATA / "images" / "red_circle.jpg") as img:
        img.convert("RGB").resize((320, 240)).save(query, quality=70)
    assert Path(rag.search(image=query, k=1, modality="image")[0].source).name == "red_circle.jpg"


def test_search_json_contract_from_the_cli(tmp_path: Path) -> None:
    folder, store = _folder(tmp_path / "files"), tmp_path / "store"
    list(MMRag(offline_settings(store)).ingest([folder]))
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "search", "tomato pasta sauce", "--store", str(store),
         "--config", str(OFFLINE), "--k", "3", "--json"],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=300,
    ).stdout  # fmt: skip
    payload = json.loads(out)
    assert payload["query"] == "tomato pasta sauce"
    first = payload["results"][0]
    assert set(first) >= CONTRACT
    assert first["modality"] in ("text", "image", "audio")
    assert Path(first["source"]).name == "cooking.md" and Path(first["source"]).is_absolute()
    assert isinstance(first["score"], float)


def test_model_mismatch_is_refused_and_reindex_swaps(tmp_path: Path) -> None:
    store = tmp_path / "store"
    rag = MMRag(offline_settings(store))
    list(rag.ingest([_folder(tmp_path / "files")]))
    before = rag.indexer.space_dir("text")

    other = offline_settings(store, embed={"text_model": str(_minilm_copy(tmp_path))})
    indexer = Indexer(other.embed, other.index, rag.catalog, store)
    with pytest.raises(ModelMismatchError, match="mmrag reindex --model"):
        indexer.open("text")

    report = rag.reindex("text", other.embed.text_model)
    assert report.total == len(_space_ids(rag, "text"))
    assert rag.indexer.space_dir("text") != before  # a new generation beside the old one
    assert rag.search("corrosion", k=1, modality="text")[0].source.endswith("bridges.md")
    # the store remembers the model it now uses: opening it without a config file works
    again = MMRag.open(store)
    assert again.settings.embed.text_model == other.embed.text_model
    assert again.search("corrosion", k=1, modality="text")[0].source.endswith("bridges.md")
    # while an explicit config naming the old model is refused with the way out
    with pytest.raises(ModelMismatchError, match="mmrag reindex"):
        MMRag.open(store, config=OFFLINE).search("corrosion", k=1, modality="text")


def _cli(*args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_a_running_searcher_follows_other_processes(tmp_path: Path) -> None:
    """Like `mmrag ui` while `mmrag reindex` and `mmrag ingest` run in other processes: it
    takes the new model and the new items, and the generation it reads is not deleted
    under it."""
    skip_on_milvus_lite("a searcher stays open while other processes write")
    store, folder = tmp_path / "store", _folder(tmp_path / "files")
    built = MMRag(offline_settings(store))
    list(built.ingest([folder]))
    built.catalog.close()
    reader = MMRag.open(store)  # the store's own settings, as `mmrag ui --store` opens it
    assert reader.search("corrosion", k=1, modality="text")[0].source.endswith("bridges.md")
    old = reader.indexer.space_dir("text")
    other = str(_minilm_copy(tmp_path))

    _cli("reindex", "--model", other, "--store", str(store))
    assert old.is_dir()  # still open here: not deleted under this reader
    hits = reader.search("corrosion", k=1, modality="text")
    assert hits[0].source.endswith("bridges.md")
    assert reader.settings.embed.text_model == other
    assert reader.indexer.space_dir("text") != old

    (folder / "late.md").write_text("# Late\n\nA note about migrating birds in autumn.")
    _cli("ingest", str(folder), "--store", str(store), "--workers", "0")
    assert reader.search("migrating birds", k=1, modality="text")[0].source.endswith("late.md")
    assert not old.exists()  # that ingest deleted it: no process had it open any more


def _minilm_copy(tmp_path: Path) -> Path:
    """The same weights under another name: a 'different model' without a hub."""
    import shutil

    from ingest.models import resolve_model

    dst = tmp_path / "minilm-copy"
    shutil.copytree(resolve_model("builtin:all-MiniLM-L6-v2"), dst)
    return dst


_CRASH = """
import os, sys
from app.api import MMRag
from tests.conftest import offline_settings
import index.faiss_store as fs
import index.milvus_store as ms
rag = MMRag(offline_settings(__import__("pathlib").Path(sys.argv[1])))
def dying_save(self, *a, **k):
    os._exit(9)  # killed after the catalog committed, before any index reached disk
fs.FaissStore.save = ms.MilvusStore.save = dying_save
list(rag.ingest([sys.argv[2]]))
"""


def test_kill_between_catalog_and_index_writes_is_repaired(tmp_path: Path) -> None:
    skip_on_milvus_lite("an ingest in another process is killed between its writes")
    store, folder = tmp_path / "store", _folder(tmp_path / "files")
    rag = MMRag(offline_settings(store))
    list(rag.ingest([folder]))
    rag.catalog.close()
    (folder / "late.md").write_text("# Late\n\nA note about migrating birds in autumn.")
    proc = subprocess.run(
        [sys.executable, "-c", _CRASH, str(store), str(folder)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.returncode == 9, proc.stderr[-2000:]

    rag = MMRag(offline_settings(store))
    assert _space_ids(rag, "clip") != _chunk_ids(rag)  # the catalog is ahead of the index
    findings = rag.doctor(repair=True)
    assert any(f.repaired for f in findings)
    assert _space_ids(rag, "clip") == _chunk_ids(rag)
    assert rag.search("migrating birds", k=1, modality="text")[0].source.endswith("late.md")
    assert all(f.ok or f.repaired for f in rag.doctor(repair=True))


def test_embeddings_are_normalised_and_batched_consistently(tmp_path: Path) -> None:
    rag = MMRag(offline_settings(tmp_path / "store"))
    text = rag.indexer.embedder("text")
    texts = ["a short sentence", "ein anderer Satz", "日本語の文です。"] * 11
    one_batch = text.embed_texts(texts, kind="passage")
    assert one_batch.shape == (33, text.identity.dim) and one_batch.dtype == np.float32
    assert np.allclose(np.linalg.norm(one_batch, axis=1), 1, atol=1e-4)
    singles = np.vstack([text.embed_texts([t], kind="passage") for t in texts[:3]])
    assert np.allclose(singles, one_batch[:3], atol=1e-4)


def test_milvus_backend_end_to_end(tmp_path: Path) -> None:
    """index.backend = "milvus" (Milvus Lite in the store): search, the space's alias on the
    live collection, doctor counting against the catalog and repairing, a FAISS config refused."""
    pytest.importorskip("milvus_lite", reason="milvus-lite is not installed")
    from index.milvus_store import alias_name, client

    store, folder = tmp_path / "store", _folder(tmp_path / "files")
    rag = MMRag(offline_settings(store, index={"backend": "milvus"}))
    list(rag.ingest([folder]))
    assert rag.search("corrosion of a footbridge", k=1, modality="text")[0].source.endswith(
        "bridges.md"
    )
    live = rag.indexer.open("text")
    assert live is not None and live.factory.startswith("milvus:")
    lost = int(live.ids()[0])
    live.remove(np.array([lost]))  # a vector lost behind mmrag's back
    with client(live.milvus) as c:  # type: ignore[attr-defined]
        target = c.describe_alias(alias_name(live.milvus, "text"))["collection_name"]  # type: ignore[attr-defined]
        assert target == live.collection  # type: ignore[attr-defined]
    findings = {f.check: f for f in check_indexes(rag.indexer, repair=False)}
    assert not findings["text index vs catalog"].ok
    assert "1 missing" in findings["text index vs catalog"].detail
    check_indexes(rag.indexer, repair=True)
    assert all(f.ok for f in check_indexes(rag.indexer, repair=False))
    assert lost in _space_ids(rag, "text")

    faiss_config = offline_settings(store, index={"backend": "faiss"})
    faiss = Indexer(faiss_config.embed, faiss_config.index, rag.catalog, store)
    findings = check_indexes(faiss, repair=False)
    assert any(f.check == "text index backend" and not f.ok for f in findings)
