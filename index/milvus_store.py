"""Milvus vector store: the `VectorStore` interface over one Milvus collection.

The same pymilvus code talks to Milvus Lite (``index.milvus.uri`` a ``.db`` path: an engine in
this process) and to a Milvus server or cluster (``http://host:19530``). Each generation of a
space (``indexes/<space>/gen-N``) is its own collection, named in that directory's manifest;
the alias ``<prefix>_<space>`` points at the live one and is swapped by ``mmrag reindex``
(``publish``). The manifest stays the store's pointer for mmrag's own processes, as for FAISS,
so following other processes and keeping a generation while a reader holds it work alike.

Filters (``allowed_ids``) become a boolean expression on the primary key; small sets (up to
``exact_filter_max``) are searched exactly over their vectors fetched by id, and so is any
filtered search that comes back short: a filter never starves the list.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import faiss
import numpy as np

from index import store_files as files
from index.embedders.base import ModelIdentity
from index.vector_store import (
    IndexCorruptError,
    Metric,
    MilvusSettings,
    ModelMismatchError,
    VectorStoreError,
    VectorStoreSettings,
    checked_rows,
)

FORMAT = "mmrag-milvus-store"
_PAGE = 16_384  # rows per query page (a Milvus server's limit per request)
_EXPR_MAX = 65_536  # ids per `id in [...]` expression before searching exactly instead
_clients: dict[tuple[str, str, str], list[Any]] = {}  # key -> [client, users]
_clients_lock = threading.Lock()
# A finalizer may run while its thread holds _clients_lock (a garbage collection inside
# acquire): there it only leaves a note of the user it ends, settled by the next call.
_orphans: list[MilvusSettings] = []
_holder = threading.local()


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    with _clients_lock:
        _holder.inside = True
        try:
            yield
        finally:
            _holder.inside = False


class _NoTimestampNoise(logging.Filter):
    """Milvus Lite does not implement AllocTimestamp: every query iterator logs a traceback and
    a warning before falling back to a client-side timestamp, which is what we want anyway."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, NotImplementedError):
            return False
        return "mvccTs" not in record.getMessage()


logging.getLogger("grpc._server").addFilter(_NoTimestampNoise())
logging.getLogger("pymilvus.client.iterator.query_iterator").addFilter(_NoTimestampNoise())


def _key(milvus: MilvusSettings) -> tuple[str, str, str]:
    return (milvus.uri, milvus.db_name, milvus.token or "")


def acquire(milvus: MilvusSettings) -> Any:
    """A MilvusClient, shared by every user in this process; `release` it when done.

    Milvus Lite runs one engine per file and locks the file for the process holding it: once
    its last user releases it, the engine stops and another process (an ingest beside a
    searcher that has closed its stores) can open the file."""
    try:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException
    except ImportError as e:
        raise RuntimeError(
            "index.backend = 'milvus' needs pymilvus (and milvus-lite for a .db file): "
            "pip install 'mmrag[milvus]'"
        ) from e

    with _locked():
        _stop(_settle_orphans_locked())  # before a new client: a stop ends its file's engine
        entry = _clients.get(_key(milvus))
        if entry is None:
            if milvus.is_lite:
                Path(milvus.uri).parent.mkdir(parents=True, exist_ok=True)
            try:
                c = MilvusClient(uri=milvus.uri, token=milvus.token or "", db_name=milvus.db_name)
            except (MilvusException, OSError) as e:
                hint = (
                    " (Milvus Lite serves one process at a time: close the other process, or "
                    "use a Milvus server, index.milvus.uri = 'http://host:19530')"
                    if milvus.is_lite
                    else ""
                )
                raise VectorStoreError(f"cannot open Milvus at {milvus.uri}: {e}{hint}") from e
            entry = _clients[_key(milvus)] = [c, 0]
        entry[1] += 1
        return entry[0]


def release(milvus: MilvusSettings) -> None:
    with _locked():
        stopped = _settle_orphans_locked()
        stopped += _release_locked(milvus)
    _stop(stopped)


def _release_locked(milvus: MilvusSettings) -> list[tuple[Any, MilvusSettings]]:
    """One user fewer; the client to stop when it was the last user of a Lite file."""
    entry = _clients.get(_key(milvus))
    if entry is None:
        return []
    entry[1] -= 1
    if entry[1] > 0 or not milvus.is_lite:
        return []  # a server connection is cheap to keep; a Lite engine holds its file
    del _clients[_key(milvus)]
    return [(entry[0], milvus)]


def _settle_orphans_locked() -> list[tuple[Any, MilvusSettings]]:
    stopped = []
    while _orphans:
        stopped += _release_locked(_orphans.pop())
    return stopped


def _stop(clients: list[tuple[Any, MilvusSettings]]) -> None:
    """Close clients and stop their Milvus Lite engines (outside the lock: it takes time)."""
    for c, milvus in clients:
        c.close()
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(milvus.uri)


@contextlib.contextmanager
def client(milvus: MilvusSettings) -> Iterator[Any]:
    """A client for a few calls (see `acquire`)."""
    c = acquire(milvus)
    try:
        yield c
    finally:
        release(milvus)


def alias_name(milvus: MilvusSettings, space: str) -> str:
    return f"{milvus.prefix}_{space}"


class MilvusStore:
    """A `VectorStore` over one Milvus collection; see the module docstring."""

    def __init__(
        self,
        identity: ModelIdentity,
        collection: str,
        *,
        milvus: MilvusSettings,
        settings: VectorStoreSettings,
        directory: Path | None = None,
    ) -> None:
        """Use `create` or `open`."""
        self._identity, self.collection = identity, collection
        self.milvus, self.settings, self.directory = milvus, settings, directory
        self._client = acquire(milvus)
        self._released = False
        self._hold: BinaryIO | None = None  # while open, its generation is not dropped

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        identity: ModelIdentity,
        *,
        milvus: MilvusSettings,
        settings: VectorStoreSettings | None = None,
        directory: str | Path | None = None,
        metric: Metric = "ip",
    ) -> MilvusStore:
        """A new, empty collection (named from the prefix, the space and a unique suffix)."""
        from pymilvus import DataType, MilvusClient

        if metric != "ip":
            raise ValueError("the Milvus store keeps unit vectors compared by inner product")
        settings = settings or VectorStoreSettings()
        directory = None if directory is None else Path(directory)
        space = directory.parent.name if directory is not None else "space"
        name = f"{milvus.prefix}_{_safe(space)}_{uuid.uuid4().hex[:12]}"
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=identity.dim)
        store = cls(identity, name, milvus=milvus, settings=settings, directory=directory)
        params = store._client.prepare_index_params()
        params.add_index("vector", **_index_spec(milvus, settings))
        store._client.create_collection(
            name, schema=schema, index_params=params, consistency_level="Strong"
        )
        if directory is not None:
            store.save(directory)
        return store

    @classmethod
    def open(
        cls,
        directory: str | Path,
        *,
        milvus: MilvusSettings,
        expect: ModelIdentity | None = None,
        settings: VectorStoreSettings | None = None,
    ) -> MilvusStore:
        """The collection a generation directory's manifest names.

        Raises FileNotFoundError without a manifest, ModelMismatchError when ``expect`` differs
        from the stored identity, IndexCorruptError when the collection is gone."""
        directory = Path(directory)
        manifest = files.read_manifest(directory, FORMAT)
        try:
            identity = ModelIdentity(**manifest["identity"])
            collection = str(manifest["collection"])
        except (KeyError, TypeError, ValueError) as e:
            raise IndexCorruptError(f"{directory / files.MANIFEST} is incomplete: {e!r}") from e
        fields = ("name", "dim", "backend", "passages")
        if expect is not None and any(getattr(expect, f) != getattr(identity, f) for f in fields):
            raise ModelMismatchError(directory, identity, expect)
        hold = files.hold(directory)
        store = cls(
            identity,
            collection,
            milvus=milvus,
            settings=settings or VectorStoreSettings(),
            directory=directory,
        )
        store._hold = hold
        if not store._client.has_collection(collection):
            store.close()
            raise IndexCorruptError(
                f"Milvus collection {collection!r} (named in {directory}) is missing at "
                f"{milvus.uri}"
            )
        store._client.load_collection(collection)  # searchable (a restarted engine starts cold)
        return store

    # -- properties --------------------------------------------------------------------------

    @property
    def identity(self) -> ModelIdentity:
        return self._identity

    @property
    def factory(self) -> str:
        return f"milvus:{self.milvus.index_type}"

    @property
    def metric(self) -> Metric:
        return "ip"

    def __len__(self) -> int:
        rows = self._client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def ids(self) -> np.ndarray:
        found = np.fromiter((i for page in self._pages(["id"]) for i in page["id"]), dtype=np.int64)
        return np.sort(found)

    def __repr__(self) -> str:
        return f"MilvusStore({self._identity.name!r}, collection={self.collection!r})"

    # -- mutation ----------------------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert rows; an id already stored is replaced (the last one wins within a batch)."""
        ids, vectors = checked_rows(ids, vectors, self._identity.dim)
        step = self.milvus.batch
        for lo in range(0, len(ids), step):
            rows = [
                {"id": int(i), "vector": v}
                for i, v in zip(ids[lo : lo + step], vectors[lo : lo + step], strict=True)
            ]
            self._client.upsert(self.collection, rows)

    def remove(self, ids: np.ndarray) -> int:
        """Delete rows by id; unknown ids are ignored. Returns how many rows were removed."""
        ids = np.unique(np.asarray(ids, dtype=np.int64).ravel())
        removed = 0
        for lo in range(0, len(ids), _PAGE):
            chunk = ids[lo : lo + _PAGE].tolist()
            present = [r["id"] for r in self._client.get(self.collection, ids=chunk)]
            if present:
                self._client.delete(self.collection, ids=present)
                removed += len(present)
        return removed

    # -- search ------------------------------------------------------------------------------

    def search(
        self, queries: np.ndarray, k: int, *, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k per query: (scores (nq, k) float32 inner products, ids (nq, k) int64), best
        first, padded with id -1 and score -inf. With `allowed_ids`, k results come back as
        long as at least k allowed ids are stored."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if q.shape[1] != self._identity.dim:
            raise ValueError(f"queries must have {self._identity.dim} columns, got {q.shape[1]}")
        if k < 1:
            raise ValueError("k must be >= 1")
        expr = ""
        if allowed_ids is not None:
            allowed = np.unique(np.asarray(allowed_ids, dtype=np.int64))
            allowed = allowed[allowed >= 0]
            small = len(allowed) <= max(k, self.settings.exact_filter_max)
            if small or len(allowed) > _EXPR_MAX:
                return self._exact(q, k, allowed)
            expr = f"id in [{','.join(map(str, allowed.tolist()))}]"
        hits = self._client.search(
            self.collection,
            data=list(q),
            limit=k,
            filter=expr,
            search_params={"metric_type": "IP", "params": self._search_params(expr)},
        )
        scores, ids = _empty(len(q), k)
        for row, found in enumerate(hits):
            n = min(k, len(found))
            ids[row, :n] = [h["id"] for h in found[:n]]
            scores[row, :n] = [h["distance"] for h in found[:n]]
        if expr:  # a graph walk under a selective filter can come back short: redo exactly
            short = (ids >= 0).sum(axis=1) < min(k, len(allowed))
            if short.any():
                scores[short], ids[short] = self._exact(q[short], k, allowed)
        return scores, ids

    def _search_params(self, expr: str) -> dict[str, int]:
        s, kind = self.settings, self.milvus.index_type.upper()
        boost = s.filter_boost_max if expr else 1.0  # filters get a wider walk, as in FAISS
        if kind.startswith("HNSW"):
            return {"ef": int(s.ef_search * boost)}
        if kind.startswith("IVF"):
            return {"nprobe": min(self.milvus.nlist, int(s.nprobe * boost))}
        if kind == "DISKANN":
            return {"search_list": int(s.ef_search * boost)}
        return {}

    def _exact(self, q: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Brute force over the allowed rows' vectors, fetched by id."""
        scores, ids = _empty(len(q), k)
        have, vectors = self.vectors(allowed)
        if len(have) == 0:
            return scores, ids
        n = min(k, len(have))
        s, pos = faiss.knn(q, vectors, n, metric=faiss.METRIC_INNER_PRODUCT)
        scores[:, :n], ids[:, :n] = s, np.where(pos >= 0, have[np.maximum(pos, 0)], -1)
        return scores, ids

    def vectors(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the stored ones of ``ids``, their vectors)."""
        found_ids: list[int] = []
        rows: list[Any] = []
        ids = np.asarray(ids, dtype=np.int64)
        for lo in range(0, len(ids), _PAGE):
            got = self._client.get(
                self.collection, ids=ids[lo : lo + _PAGE].tolist(), output_fields=["vector"]
            )
            found_ids += [r["id"] for r in got]
            rows += [r["vector"] for r in got]
        if not rows:
            return np.empty(0, np.int64), np.empty((0, self._identity.dim), np.float32)
        return np.asarray(found_ids, np.int64), np.asarray(rows, dtype=np.float32)

    def _pages(self, fields: list[str]) -> Iterator[dict[str, list]]:
        """Every row's ``fields``, a page at a time."""
        it = self._client.query_iterator(
            self.collection, batch_size=_PAGE, filter="", output_fields=fields
        )
        try:
            while page := it.next():
                yield {f: [r[f] for r in page] for f in fields}
        finally:
            it.close()

    # -- persistence -------------------------------------------------------------------------

    def save(self, directory: str | Path | None = None) -> Path:
        """Flush the collection, then write the generation's manifest (atomic) naming it."""
        target = Path(directory) if directory is not None else self.directory
        if target is None:
            raise ValueError("save() needs a directory for a store that was never saved")
        target.mkdir(parents=True, exist_ok=True)
        self._client.flush(self.collection)
        with files.writer_lock(target):
            files.write_manifest(
                target,
                {
                    "format": FORMAT,
                    "version": files.FORMAT_VERSION,
                    "identity": self._identity.to_json(),
                    "metric": "ip",
                    "collection": self.collection,
                    # where it lives, for people: a Milvus Lite file is named relative to
                    # the store (which may move), a server by its address
                    "uri": Path(self.milvus.uri).name if self.milvus.is_lite else self.milvus.uri,
                    "index_type": self.milvus.index_type,
                    "count": len(self),
                },
            )
        self.directory = target
        return target

    def publish(self, space: str) -> None:
        """Point the space's alias at this collection (atomic in Milvus)."""
        alias = alias_name(self.milvus, space)
        if alias not in self._client.list_aliases().get("aliases", []):
            self._client.create_alias(self.collection, alias)
        elif self._client.describe_alias(alias).get("collection_name") != self.collection:
            self._client.alter_alias(self.collection, alias)

    def close(self) -> None:
        """Let go of the generation and the client (a Milvus Lite file, once unused)."""
        if self._hold is not None:
            self._hold.close()
            self._hold = None
        if not self._released:
            self._released = True
            release(self.milvus)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown: modules may be gone
            if self._hold is not None:
                self._hold.close()
                self._hold = None
            if getattr(_holder, "inside", False):
                if not self._released:
                    self._released = True
                    _orphans.append(self.milvus)  # this thread holds the lock: see _orphans
            else:
                self.close()


def drop(directory: Path, milvus: MilvusSettings) -> None:
    """Drop the collection a generation directory names (its files are the caller's)."""
    try:
        collection = files.read_manifest(directory, FORMAT)["collection"]
    except (OSError, IndexCorruptError, KeyError):
        return
    with client(milvus) as c:
        if c.has_collection(collection):
            c.drop_collection(collection)


def _index_spec(milvus: MilvusSettings, settings: VectorStoreSettings) -> dict[str, Any]:
    kind = milvus.index_type.upper()
    params: dict[str, Any] = {}
    if kind.startswith("HNSW"):
        params = {"M": milvus.hnsw_m, "efConstruction": settings.ef_construction}
    elif kind.startswith("IVF"):
        params = {"nlist": milvus.nlist}
    return {"index_type": kind, "metric_type": "IP", "params": params}


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def _empty(nq: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((nq, k), -np.inf, dtype=np.float32), np.full((nq, k), -1, dtype=np.int64)
