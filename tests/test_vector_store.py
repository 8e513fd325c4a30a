"""Vector stores: exactness, replace/remove semantics, filters, auto-upgrade, crash-safe files.

The behaviour every backend shares runs on FAISS and on Milvus (Milvus Lite, one engine for
the session); FAISS index types, compaction, memory-mapping and its files are FAISS's own.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np
import pytest

from index import store_files
from index.embedders.base import ModelIdentity
from index.faiss_store import FaissStore
from index.milvus_store import MilvusStore
from index.vector_store import (
    IndexCorruptError,
    MilvusSettings,
    ModelMismatchError,
    VectorStore,
    VectorStoreSettings,
    set_threads,
)

DIM = 32
IDENTITY = ModelIdentity("sentence-transformers", "builtin:test-model", DIM)


def unit_rows(n: int, seed: int = 0, dim: int = DIM, clusters: int = 20) -> np.ndarray:
    """Clustered unit vectors (neighbour structure like real embeddings)."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).standard_normal((clusters, dim))
    x = centres[rng.integers(0, clusters, n)] + 0.6 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def brute_force(
    base: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    scores = queries @ base.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, 1), ids[order]


def assert_valid_top_k(
    truth: np.ndarray, ids: np.ndarray, scores: np.ndarray, found: np.ndarray, tol: float = 1e-5
) -> None:
    """``found`` (with ``scores``) is a correct top k of ``truth`` (queries x items, higher is
    better, columns named by ``ids``): each score is its item's true one and the sequence is
    the best k. Order among near-ties is free: float noise differs between BLAS builds and CPUs.
    """
    k = found.shape[1]
    column = {int(i): c for c, i in enumerate(ids)}
    true_of_found = np.array(
        [[truth[r, column[int(i)]] for i in row] for r, row in enumerate(found)]
    )
    np.testing.assert_allclose(scores, true_of_found, atol=tol)
    np.testing.assert_allclose(scores, -np.sort(-truth, axis=1)[:, :k], atol=tol)
    assert all(len(set(row)) == k for row in found.tolist())


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = [
        len(set(f[f >= 0]) & set(t[t >= 0])) / max(1, (t >= 0).sum())
        for f, t in zip(found, truth, strict=True)
    ]
    return float(np.mean(hits))


# ANN variants under test: explicit factories and the automatic upgrade (tiny threshold)
ANN_CASES = {
    "hnsw": dict(factory="HNSW32,Flat"),
    "ivf": dict(factory="IVF{nlist},Flat"),
    "auto": dict(factory=None, ann_threshold=200),
}


BACKENDS = ["faiss", "milvus"]
MILVUS_INDEX = {"exact": "FLAT", "hnsw": "HNSW"}  # the cases Milvus has too


@pytest.fixture(scope="session")
def milvus(tmp_path_factory: pytest.TempPathFactory) -> MilvusSettings:
    """One Milvus Lite engine for the session (each store is its own collection); the Milvus
    cases skip, saying why, where it cannot start (milvus-lite has no wheel for every OS)."""
    from index.milvus_store import client
    from index.vector_store import VectorStoreError

    settings = MilvusSettings(uri=str(tmp_path_factory.mktemp("milvus") / "vectors.db"))
    try:
        with client(settings) as c:
            c.list_collections()
    except (ImportError, VectorStoreError) as e:
        pytest.skip(f"Milvus Lite cannot start here: {e}")
    return settings


@pytest.fixture
def new_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[..., FaissStore | MilvusStore]:
    """``new_store(backend, case, **settings)``: an empty store of that backend."""
    made = itertools.count(1)

    def make(backend: str, case: str = "exact", **settings: object) -> FaissStore | MilvusStore:
        if backend == "faiss":
            return make_store(case, **settings)
        m = request.getfixturevalue("milvus").model_copy(update={"index_type": MILVUS_INDEX[case]})
        s = VectorStoreSettings(ef_search=256, **settings)  # type: ignore[arg-type]
        directory = tmp_path / "indexes" / "text" / f"gen-{next(made)}"
        return MilvusStore.create(IDENTITY, milvus=m, settings=s, directory=directory)

    return make


def make_store(case: str, **settings: object) -> FaissStore:
    if case == "exact":
        return FaissStore.create(DIM, IDENTITY, settings=VectorStoreSettings(**settings))
    kw = dict(ANN_CASES[case])
    factory = kw.pop("factory")
    # wide search so that recall is near 1 on small data; compaction left to explicit tests
    s = VectorStoreSettings(ef_search=256, nprobe=64, compact_ratio=1.0, **settings)
    return FaissStore.create(DIM, IDENTITY, factory, settings=s, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", BACKENDS)
def test_exact_store_matches_brute_force(backend: str, new_store: Callable) -> None:
    base, queries = unit_rows(500), unit_rows(20, seed=1)
    ids = np.arange(1000, 1500, dtype=np.int64)
    store = new_store(backend)
    store.add(ids, base)
    assert isinstance(store, VectorStore)
    assert store.factory == {"faiss": "Flat", "milvus": "milvus:FLAT"}[backend]
    assert len(store) == 500
    scores, found = store.search(queries, 10)
    assert_valid_top_k(queries @ base.T, ids, scores, found)
    np.testing.assert_array_equal(store.ids(), ids)
    # a single 1-d query works, and k beyond the size pads with -1
    s1, f1 = store.search(queries[0], 600)
    assert f1.shape == (1, 600) and (f1[0, :500] >= 0).all() and (f1[0, 500:] == -1).all()
    assert np.isneginf(s1[0, 500:]).all()


def test_l2_metric_matches_brute_force() -> None:
    base, queries = unit_rows(300), unit_rows(5, seed=1)
    store = FaissStore.create(DIM, IDENTITY, metric="l2")
    store.add(np.arange(300), base)
    dist, found = store.search(queries, 5)
    d2 = ((queries[:, None, :] - base[None]) ** 2).sum(-1)
    assert_valid_top_k(-d2, np.arange(300), -dist, found, tol=1e-4)
    # the exact path used under filters agrees with faiss
    fdist, filtered = store.search(queries, 5, allowed_ids=np.arange(300))
    assert_valid_top_k(-d2, np.arange(300), -fdist, filtered, tol=1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_store_and_validation(backend: str, new_store: Callable) -> None:
    store = new_store(backend)
    scores, found = store.search(unit_rows(2), 3)
    assert (found == -1).all() and found.shape == (2, 3) and np.isneginf(scores).all()
    with pytest.raises(ValueError, match="vectors must be"):
        store.add(np.arange(2), np.zeros((2, DIM + 1), np.float32))
    with pytest.raises(ValueError, match=">= 0"):
        store.add(np.array([-5]), unit_rows(1))
    with pytest.raises(ValueError, match="columns"):
        store.search(np.zeros((1, 3), np.float32), 1)
    with pytest.raises(ValueError, match="dim"):
        FaissStore.create(DIM + 1, IDENTITY)


@pytest.mark.parametrize("backend", BACKENDS)
def test_readd_replaces_vector(backend: str, new_store: Callable) -> None:
    base = unit_rows(100)
    store = new_store(backend)
    store.add(np.arange(100), base)
    new = unit_rows(1, seed=7)
    store.add(np.array([5]), new)
    assert len(store) == 100
    _, found = store.search(new, 100)
    assert found[0, 0] == 5
    assert (found == 5).sum() == 1  # the old row of id 5 is gone, not duplicated
    scores, found = store.search(base[5], 100)
    assert scores[0, list(found[0]).index(5)] == pytest.approx(float(base[5] @ new[0]), abs=1e-5)
    # duplicates within one batch: the last one wins
    a, b = unit_rows(2, seed=8)
    store.add(np.array([7, 7]), np.stack([a, b]))
    _, found = store.search(b, 1)
    assert found[0, 0] == 7 and len(store) == 100


@pytest.mark.parametrize(
    ("backend", "case"),
    [*(("faiss", c) for c in ["exact", *ANN_CASES]), *(("milvus", c) for c in MILVUS_INDEX)],
)
def test_vectors_read_back(backend: str, case: str, new_store: Callable) -> None:
    """What the map draws: the stored rows by id, unknown and removed ids left out."""
    base = unit_rows(50)
    store = new_store(backend, case)
    store.add(np.arange(50), base)
    store.remove(np.array([3]))
    ids, vectors = store.vectors(np.array([1, 3, 7, 99]))
    assert ids.tolist() == [1, 7]
    np.testing.assert_allclose(vectors, base[[1, 7]], atol=1e-5)
    assert store.vectors(np.array([99]))[0].size == 0


@pytest.mark.parametrize(
    ("backend", "case"),
    [*(("faiss", c) for c in ["exact", *ANN_CASES]), *(("milvus", c) for c in MILVUS_INDEX)],
)
def test_removed_ids_never_returned(backend: str, case: str, new_store: Callable) -> None:
    base, queries = unit_rows(1500), unit_rows(50, seed=1)
    ids = np.arange(1500, dtype=np.int64) * 3
    store = new_store(backend, case)
    store.add(ids, base)
    if case == "auto":
        assert store.factory == "HNSW32,Flat"  # upgraded past the threshold
    removed = ids[::2]
    assert store.remove(np.concatenate([removed, [999_999]])) == len(removed)
    assert store.remove(removed[:5]) == 0
    live = np.setdiff1d(ids, removed)
    assert len(store) == len(live)
    np.testing.assert_array_equal(store.ids(), live)
    _, found = store.search(queries, 20)
    assert not np.isin(found, removed).any()
    assert (found >= 0).all()  # the tombstones did not starve the result lists
    _, truth = brute_force(base[~np.isin(ids, removed)], live, queries, 20)
    assert recall(found, truth) > 0.9
    # asking for everything returns exactly the live rows
    _, everything = store.search(queries[:2], 2000)
    for row in everything:
        np.testing.assert_array_equal(np.sort(row[row >= 0]), live)


@pytest.mark.parametrize("case", ["exact", "hnsw", "ivf"])
def test_compaction_drops_deleted_rows(case: str) -> None:
    base, queries = unit_rows(1200), unit_rows(20, seed=1)
    store = make_store(case)
    store.settings = store.settings.model_copy(update={"compact_ratio": 0.3})
    store.add(np.arange(1200), base)
    store.remove(np.arange(300))  # 25 %: below the ratio, kept as tombstones
    assert store.deleted_rows == 300
    store.remove(np.arange(300, 500))  # 41 %: rebuilt
    assert store.deleted_rows == 0 and len(store) == 700
    _, found = store.search(queries, 10)
    assert (found >= 500).all()
    _, truth = brute_force(base[500:], np.arange(500, 1200), queries, 10)
    assert recall(found, truth) > 0.9
    store.remove(np.arange(1200))
    assert len(store) == 0
    assert (store.search(queries, 3)[1] == -1).all()
    store.add(np.array([1]), base[:1])
    assert store.search(base[0], 1)[1][0, 0] == 1


@pytest.mark.parametrize(
    ("backend", "case"),
    [*(("faiss", c) for c in ["exact", "hnsw", "ivf"]), *(("milvus", c) for c in MILVUS_INDEX)],
)
def test_allowed_ids_fill_k(backend: str, case: str, new_store: Callable) -> None:
    base, queries = unit_rows(3000), unit_rows(30, seed=1)
    ids = np.arange(3000, dtype=np.int64) + 10
    # exact_filter_max=0 forces the filtered ANN path (no exact shortcut)
    store = new_store(backend, case, exact_filter_max=0)
    store.add(ids, base)
    store.remove(ids[:100])
    rng = np.random.default_rng(5)
    for size in (50, 400):  # 1.7 % and 13 % of the rows
        allowed = rng.choice(ids[100:], size=size, replace=False)
        extra = np.array([ids[0], ids[1], 10**9])  # removed and unknown ids are ignored
        _, found = store.search(queries, 10, allowed_ids=np.concatenate([allowed, extra]))
        assert (found >= 0).all(), "a filter must not starve the result list"
        assert np.isin(found, allowed).all()
        mask = np.isin(ids, allowed)
        _, truth = brute_force(base[mask], ids[mask], queries, 10)
        assert recall(found, truth) > 0.9
    # fewer allowed ids than k: all of them, then padding
    _, found = store.search(queries[:3], 10, allowed_ids=ids[[200, 300, 400]])
    assert (np.sort(found[:, :3], axis=1) == ids[[200, 300, 400]]).all()
    assert (found[:, 3:] == -1).all()
    assert (store.search(queries[:2], 5, allowed_ids=np.array([], np.int64))[1] == -1).all()


def test_allowed_ids_on_index_without_selector_support() -> None:
    """An index type that takes no IDSelector (here PCA + flat) is over-fetched instead."""
    base, queries = unit_rows(2000), unit_rows(10, seed=1)
    settings = VectorStoreSettings(exact_filter_max=0)
    store = FaissStore.create(DIM, IDENTITY, "PCA16,Flat", settings=settings)
    store.add(np.arange(2000), base)
    store.remove(np.arange(0, 2000, 3))
    allowed = np.arange(0, 2000, 7)
    _, found = store.search(queries, 10, allowed_ids=allowed)
    kept = allowed[allowed % 3 != 0]
    assert np.isin(found, kept).all() and (found >= 0).all()


def test_auto_upgrade_past_threshold(tmp_path: Path) -> None:
    base, queries = unit_rows(1000), unit_rows(30, seed=1)
    ids = np.arange(1000, dtype=np.int64)
    settings = VectorStoreSettings(ann_threshold=400, ef_search=200)
    store = FaissStore.create(DIM, IDENTITY, settings=settings)
    store.add(ids[:400], base[:400])
    assert store.is_exact
    store.add(ids[400:], base[400:])
    assert store.factory == settings.ann_factory and not store.is_exact
    np.testing.assert_array_equal(store.ids(), ids)
    _, found = store.search(queries, 10)
    assert recall(found, brute_force(base, ids, queries, 10)[1]) > 0.95
    store.save(tmp_path)
    again = FaissStore.open(tmp_path, settings=settings)
    assert again.factory == settings.ann_factory
    # shrinking below the threshold and compacting returns to exact search
    again.remove(ids[:800])
    again.compact()
    assert again.is_exact and len(again) == 200
    scores, found = again.search(queries, 10)
    assert_valid_top_k(queries @ base[800:].T, ids[800:], scores, found)


def test_auto_upgrade_to_ivf_keeps_raw_vectors(tmp_path: Path) -> None:
    base, queries = unit_rows(2000), unit_rows(20, seed=1)
    ids = np.arange(2000, dtype=np.int64)
    settings = VectorStoreSettings(ann_threshold=500, ann_factory="IVF{nlist},Flat", nprobe=64)
    store = FaissStore.create(DIM, IDENTITY, settings=settings)
    store.add(ids, base)
    assert store.factory.startswith("IVF") and store.factory.endswith(",Flat")
    store.save(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert set(manifest["files"]) == {"index", "labels"}  # IVF,Flat gives rows back
    again = FaissStore.open(tmp_path, settings=settings)
    exp = brute_force(base, ids, queries, 10)[1]
    assert recall(again.search(queries, 10)[1], exp) > 0.95
    # the exact filtered path reads the raw vectors
    scores, found = again.search(queries, 10, allowed_ids=ids[::2])
    assert_valid_top_k(queries @ base[::2].T, ids[::2], scores, found)


@pytest.mark.parametrize("case", ["exact", "hnsw", "ivf"])
@pytest.mark.parametrize("mmap", [False, True])
def test_save_open_round_trip(tmp_path: Path, case: str, mmap: bool) -> None:
    base, queries = unit_rows(1000), unit_rows(10, seed=1)
    store = make_store(case)
    store.add(np.arange(1000), base)
    store.remove(np.arange(0, 1000, 4))
    before = store.search(queries, 10)
    assert store.save(tmp_path) == tmp_path
    again = FaissStore.open(tmp_path, mmap=mmap, settings=store.settings)
    assert again.identity == IDENTITY and again.factory == store.factory
    assert len(again) == len(store) == 750
    np.testing.assert_array_equal(again.ids(), store.ids())
    after = again.search(queries, 10)
    np.testing.assert_array_equal(after[1], before[1])
    np.testing.assert_allclose(after[0], before[0], rtol=1e-6)
    # mutating a (possibly memory-mapped) store copies it into memory first
    again.add(np.array([5000]), queries[:1])
    assert again.search(queries[0], 1)[1][0, 0] == 5000
    again.save()  # back into the directory it came from, over the mapped files
    third = FaissStore.open(tmp_path, mmap=mmap)
    assert len(third) == 751 and third.search(queries[0], 1)[1][0, 0] == 5000
    names = {p.name for p in tmp_path.iterdir()}  # the old generation was cleaned up
    entries = json.loads((tmp_path / "manifest.json").read_text())["files"].values()
    assert names == {e["name"] for e in entries} | {"manifest.json", ".lock", ".readers"}


def test_manifest_contents(tmp_path: Path) -> None:
    store = FaissStore.create(DIM, IDENTITY)
    store.add(np.arange(10), unit_rows(10))
    store.save(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["identity"] == IDENTITY.to_json()
    assert manifest["factory"] == "Flat" and manifest["count"] == 10
    assert manifest["version"] == store_files.FORMAT_VERSION
    entry = manifest["files"]["index"]
    assert (tmp_path / entry["name"]).stat().st_size == entry["bytes"]
    assert len(entry["crc32"]) == 8


def test_a_milvus_store_collected_while_its_thread_holds_the_client_lock(
    milvus: MilvusSettings, new_store: Callable
) -> None:
    """A garbage collection inside `acquire` finalizes a store: it must not wait for the lock
    its own thread holds (it leaves a note settled by the next call), and elsewhere a dropped
    store lets go of its client at once."""
    import threading

    from index import milvus_store

    def finalize_inside_the_lock() -> None:
        store = new_store("milvus")
        with milvus_store._locked():  # as when a collection runs inside acquire()
            store.__del__()

    worker = threading.Thread(target=finalize_inside_the_lock, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "deadlock: a finalizer waited for its own thread's lock"
    assert milvus_store._orphans == [milvus.model_copy(update={"index_type": "FLAT"})]
    with milvus_store.client(milvus) as c:  # the next call settles the note
        c.list_collections()
    assert milvus_store._orphans == []
    users = {k: v[1] for k, v in milvus_store._clients.items()}
    new_store("milvus").__del__()  # outside the lock: released at once
    assert {k: v[1] for k, v in milvus_store._clients.items()} == users


def test_milvus_store_round_trip_alias_and_drop(
    tmp_path: Path, milvus: MilvusSettings, new_store: Callable
) -> None:
    """A generation directory names its collection: reopened by it, published under the
    space's alias, refused for another model, dropped with it."""
    from index.milvus_store import alias_name, client, drop

    base, queries = unit_rows(400), unit_rows(5, seed=1)
    store = new_store("milvus", "hnsw")
    store.add(np.arange(400), base)
    store.remove(np.arange(0, 400, 4))
    before = store.search(queries, 10)
    directory = store.save()
    again = MilvusStore.open(directory, milvus=milvus, expect=IDENTITY)
    np.testing.assert_array_equal(again.ids(), store.ids())
    after = again.search(queries, 10)
    np.testing.assert_array_equal(after[1], before[1])
    np.testing.assert_allclose(after[0], before[0], atol=1e-5)
    assert json.loads((directory / "manifest.json").read_text())["count"] == 300
    other = ModelIdentity("sentence-transformers", "intfloat/multilingual-e5-small", 384)
    with pytest.raises(ModelMismatchError, match="mmrag reindex"):
        MilvusStore.open(directory, milvus=milvus, expect=other)
    again.publish("text")
    with client(milvus) as c:
        alias = alias_name(milvus, "text")
        assert c.describe_alias(alias)["collection_name"] == store.collection
        successor = new_store("milvus")
        successor.publish("text")  # the swap: one alter_alias
        assert c.describe_alias(alias)["collection_name"] == successor.collection
        drop(directory, milvus)
        assert not c.has_collection(store.collection)
    with pytest.raises(IndexCorruptError, match="missing"):
        MilvusStore.open(directory, milvus=milvus)


def test_model_mismatch_refused(tmp_path: Path) -> None:
    store = FaissStore.create(DIM, IDENTITY)
    store.add(np.arange(10), unit_rows(10))
    store.save(tmp_path)
    FaissStore.open(tmp_path, expect=IDENTITY)  # same model: fine
    other = ModelIdentity("sentence-transformers", "intfloat/multilingual-e5-small", 384)
    with pytest.raises(ModelMismatchError) as err:
        FaissStore.open(tmp_path, expect=other)
    msg = str(err.value)
    assert "builtin:test-model" in msg and "intfloat/multilingual-e5-small" in msg
    assert "mmrag reindex --model intfloat/multilingual-e5-small" in msg
    same_name_other_dim = ModelIdentity(IDENTITY.backend, IDENTITY.name, DIM * 2)
    with pytest.raises(ModelMismatchError):
        FaissStore.open(tmp_path, expect=same_name_other_dim)


def saved_store(directory: Path, n: int = 200) -> tuple[FaissStore, dict]:
    store = FaissStore.create(DIM, IDENTITY)
    store.add(np.arange(n), unit_rows(n))
    store.save(directory)
    return store, json.loads((directory / "manifest.json").read_text())


def test_truncated_index_detected(tmp_path: Path) -> None:
    _, manifest = saved_store(tmp_path)
    path = tmp_path / manifest["files"]["index"]["name"]
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)
    with pytest.raises(IndexCorruptError, match="truncated"):
        FaissStore.open(tmp_path)


def test_altered_bytes_detected(tmp_path: Path) -> None:
    _, manifest = saved_store(tmp_path)
    path = tmp_path / manifest["files"]["index"]["name"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match="checksum"):
        FaissStore.open(tmp_path)
    FaissStore.open(tmp_path, verify=False)  # the size check alone cannot see a flipped byte


def test_missing_file_and_bad_manifest(tmp_path: Path) -> None:
    _, manifest = saved_store(tmp_path)
    (tmp_path / manifest["files"]["labels"]["name"]).unlink()
    with pytest.raises(IndexCorruptError, match="missing"):
        FaissStore.open(tmp_path)
    (tmp_path / "manifest.json").write_text('{"format": "mmrag-vector-st')
    with pytest.raises(IndexCorruptError, match="JSON"):
        FaissStore.open(tmp_path)
    with pytest.raises(FileNotFoundError):
        FaissStore.open(tmp_path / "nowhere")


def test_crash_before_manifest_keeps_previous_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = saved_store(tmp_path, n=100)
    store.add(np.arange(100, 150), unit_rows(50, seed=3))

    def crash(*_: object) -> None:
        raise KeyboardInterrupt  # killed after the data files, before the manifest switch

    monkeypatch.setattr(store_files, "write_manifest", crash)
    with pytest.raises(KeyboardInterrupt):
        store.save(tmp_path)
    monkeypatch.undo()
    # a writer killed mid-file leaves a temp file behind
    stray = tmp_path / ".index.deadbeef.faiss.1234abcd.tmp"
    stray.write_bytes(b"half an index")
    old = FaissStore.open(tmp_path)
    assert len(old) == 100  # the previous generation, intact
    # the next save removes the orphans of the crashed one (and old temp files)
    os.utime(stray, (time.time() - 2 * store_files.STALE_TMP_S,) * 2)
    store.save(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    names = {e["name"] for e in manifest["files"].values()} | {"manifest.json", ".lock", ".readers"}
    assert {p.name for p in tmp_path.iterdir()} == names
    assert len(FaissStore.open(tmp_path)) == 150


@pytest.mark.parametrize("mmap", [False, True])
def test_lossy_index_keeps_raw_copy(tmp_path: Path, mmap: bool) -> None:
    """PQ codes cannot give vectors back: a raw copy serves rebuilds and exact filters."""
    base, queries = unit_rows(3000), unit_rows(10, seed=1)
    ids = np.arange(3000, dtype=np.int64)
    store = FaissStore.create(DIM, IDENTITY, "PQ8x4np")
    store.add(ids[:2000], base[:2000])
    store.add(ids[2000:], base[2000:])
    store.save(tmp_path)
    assert set(json.loads((tmp_path / "manifest.json").read_text())["files"]) == {
        "index",
        "labels",
        "raw",
    }
    again = FaissStore.open(tmp_path, mmap=mmap)
    scores, found = again.search(queries, 10, allowed_ids=ids[1::3])
    assert_valid_top_k(queries @ base[1::3].T, ids[1::3], scores, found)
    again.add(np.array([9999]), queries[:1])
    again.remove(ids[:1500])  # 50 % deleted: rebuilt from the raw rows
    assert again.deleted_rows == 0 and len(again) == 1501
    _, found = again.search(queries, 5, allowed_ids=np.r_[ids[2000:2100], 9999])
    assert found[0, 0] == 9999 and np.isin(found, np.r_[ids[2000:2100], 9999]).all()


def test_untrained_factory_trains_at_first_add(tmp_path: Path) -> None:
    store = FaissStore.create(DIM, IDENTITY, "IVF16,Flat")
    assert len(store) == 0 and (store.search(unit_rows(1), 2)[1] == -1).all()
    store.save(tmp_path)  # an empty, untrained store persists too
    again = FaissStore.open(tmp_path)
    again.add(np.arange(1000), unit_rows(1000))
    assert again.factory == "IVF16,Flat" and len(again) == 1000


def test_thread_count(monkeypatch: pytest.MonkeyPatch) -> None:
    before = faiss.omp_get_max_threads()
    try:
        assert set_threads(1) == 1
        monkeypatch.setenv("MMRAG_THREADS", "2")
        assert set_threads() == 2
        FaissStore.create(DIM, IDENTITY, settings=VectorStoreSettings(threads=1))
        assert faiss.omp_get_max_threads() == 1
    finally:
        faiss.omp_set_num_threads(before)
