"""Vector stores: one per embedding space, persisted in a directory.

The interface (`VectorStore`), its errors and settings live here; the implementations are
`index.faiss_store.FaissStore` (also importable from this module) and
`index.milvus_store.MilvusStore`, chosen by `index.backend` (see `index.stores`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import Field

from ingest.config import Section

if TYPE_CHECKING:  # index.config imports this module, and index.embedders imports index.config
    from index.embedders.base import ModelIdentity
    from index.faiss_store import FaissStore

Metric = Literal["ip", "l2"]


class VectorStoreError(RuntimeError):
    """Base class of the vector store's errors."""


class IndexCorruptError(VectorStoreError):
    """The files on disk are missing, truncated or do not match their manifest."""


class BackendMismatchError(VectorStoreError):
    """The index was built in another backend (FAISS, Milvus) than the one configured."""

    def __init__(self, directory: Path, stored: str, configured: str) -> None:
        self.stored, self.configured = stored, configured
        super().__init__(
            f"the index in {directory} is a {stored} store, but index.backend = "
            f"{configured!r} is configured; rebuild it there with `mmrag reindex` (the vectors "
            f"are embedded again from the catalog), or configure {stored!r} again"
        )


class ModelMismatchError(VectorStoreError):
    """The store was built with another embedding model than the one configured."""

    def __init__(self, directory: Path, stored: ModelIdentity, expected: ModelIdentity) -> None:
        self.stored, self.expected = stored, expected
        if (stored.name, stored.dim, stored.backend) == (
            expected.name,
            expected.dim,
            expected.backend,
        ):
            super().__init__(
                f"the index in {directory} embedded passages as {stored.passages!r}, but "
                f"{expected.passages!r} is configured; rebuild it with "
                f"`mmrag reindex --model {expected.name}`"
            )
            return
        super().__init__(
            f"the index in {directory} was built with {stored.backend} model {stored.name!r} "
            f"(dim {stored.dim}), but the configured model is {expected.backend} model "
            f"{expected.name!r} (dim {expected.dim}); vectors of different models cannot be "
            f"compared. Rebuild the index with `mmrag reindex --model {expected.name}`, or "
            f"configure {stored.name!r} again."
        )


class GpuSettings(Section):
    """How vector stores use a GPU (``index.store.gpu``; see index/gpu.py); ``use_gpu`` switches."""

    device: int = Field(default=0, ge=0, description="CUDA device of the FAISS indexes")
    memory_gb: float | None = Field(
        default=None,
        gt=0,
        description="GPU memory the indexes may take; None: 80% of what is free when one is "
        "copied. An index over it is searched on the CPU, with a message saying why",
    )
    float16: bool = Field(
        default=False,
        description="exact GPU copies in float16: half the memory and faster, scores to ~1e-3",
    )
    cagra_itopk: int = Field(
        default=128, ge=16, le=1024, description="CAGRA search breadth (recall against speed)"
    )
    cagra_build: bool = Field(
        default=True,
        description="build ANN indexes with CAGRA on the GPU (saved as HNSW) when FAISS has cuVS",
    )
    temp_memory_mb: int | None = Field(
        default=None, ge=0, description="FAISS scratch memory per device; None: FAISS's default"
    )


class VectorStoreSettings(Section):
    """Index choice and run-time knobs (defaults justified in benchmarks/results/faiss_scale.md)."""

    ann_threshold: int = Field(
        default=50_000, ge=1, description="live vectors beyond which an auto store goes ANN"
    )
    ann_factory: str = Field(
        default="HNSW32,Flat",
        description="FAISS factory string of the ANN index; '{nlist}' is filled from the size",
    )
    ef_search: int = Field(default=128, ge=1, description="HNSW search breadth")
    ef_construction: int = Field(default=40, ge=1, description="HNSW build breadth")
    nprobe: int = Field(default=32, ge=1, description="IVF lists visited per query")
    refine_k_factor: float = Field(
        default=4.0, ge=1.0, description="candidates re-ranked per result by ',RFlat' indexes"
    )
    filter_boost_max: float = Field(
        default=8.0, ge=1.0, description="cap on raising efSearch/nprobe for selective filters"
    )
    exact_filter_max: int = Field(
        default=20_000,
        ge=0,
        description="allowed_ids sets up to this size are searched exactly (never starve)",
    )
    compact_ratio: float = Field(
        default=0.25, gt=0, le=1, description="rebuild once this share of rows is deleted"
    )
    mmap_threshold_mb: float = Field(
        default=1024.0, ge=0, description="open(mmap=None) memory-maps index files this large"
    )
    verify_max_mb: float = Field(
        default=2048.0, ge=0, description="files up to this size are checksummed on open"
    )
    threads: int | None = Field(
        default=None, ge=1, description="FAISS OpenMP threads; default: $MMRAG_THREADS or all"
    )
    use_gpu: bool = Field(
        default=True, description="search (and build) on a GPU when FAISS sees one"
    )
    gpu: GpuSettings = Field(default_factory=GpuSettings)


class MilvusSettings(Section):
    """Where a Milvus vector store lives (``index.backend = "milvus"``)."""

    uri: str = Field(
        default="milvus.db",
        description="a file path ending in .db runs Milvus Lite in this process (relative: "
        "inside the store directory); http://host:19530 a Milvus server or cluster",
    )
    token: str | None = Field(default=None, description="'user:password' or an API key")
    db_name: str = Field(default="", description="Milvus database; empty: the default one")
    prefix: str = Field(
        default="mmrag",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="collection and alias names start with it: one prefix per store on a "
        "shared server",
    )
    index_type: str = Field(
        default="HNSW", description="Milvus index type: HNSW, IVF_FLAT, FLAT, DISKANN (server)"
    )
    hnsw_m: int = Field(default=32, ge=4, description="HNSW graph degree (as FAISS HNSW32)")
    nlist: int = Field(default=1024, ge=1, description="IVF lists")
    batch: int = Field(default=2000, ge=1, description="rows per upsert request")

    @property
    def is_lite(self) -> bool:
        return not self.uri.startswith(("http://", "https://", "tcp://", "unix:"))

    def resolved(self, store_dir: Path) -> MilvusSettings:
        """These settings with a Milvus Lite path made absolute (relative to the store)."""
        if not self.is_lite or Path(self.uri).is_absolute():
            return self
        return self.model_copy(update={"uri": str((store_dir / self.uri).resolve())})


@runtime_checkable
class VectorStore(Protocol):
    """Nearest-neighbour search over (int64 id, unit vector) rows of one embedding space."""

    @property
    def identity(self) -> ModelIdentity: ...

    @property
    def factory(self) -> str: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert rows; an id that is already stored is replaced."""
        ...

    def remove(self, ids: np.ndarray) -> int:
        """Delete rows by id (unknown ids are ignored); returns how many were removed."""
        ...

    def search(
        self, queries: np.ndarray, k: int, *, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query, best first, padded with id -1."""
        ...

    def ids(self) -> np.ndarray:
        """The stored ids, sorted."""
        ...

    def vectors(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the stored ones of ``ids``, their vectors as float32 rows)."""
        ...

    def __len__(self) -> int: ...

    def save(self, directory: str | Path | None = None) -> Path:
        """Write the store atomically; returns the directory."""
        ...


def checked_rows(
    ids: np.ndarray, vectors: np.ndarray, dim: int, *, copy: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``ids`` as int64 and ``vectors`` as C-contiguous float32 rows of width ``dim``, checked
    against each other; of an id given twice the last row is kept. ``copy``: the vectors are
    always a private copy (for a store that keeps the array)."""
    ids = np.asarray(ids, dtype=np.int64).ravel()
    vectors = (
        np.array(vectors, dtype=np.float32, order="C", copy=True)
        if copy
        else np.ascontiguousarray(vectors, dtype=np.float32)
    )
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise ValueError(f"vectors must be (n, {dim}), got {vectors.shape}")
    if len(ids) != len(vectors):
        raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
    if len(ids) and ids.min() < 0:
        raise ValueError("ids must be >= 0 (-1 marks an empty result)")
    if len(np.unique(ids)) != len(ids):  # keep the last occurrence of each id
        _, last = np.unique(ids[::-1], return_index=True)
        keep = np.sort(len(ids) - 1 - last)
        ids, vectors = ids[keep], np.ascontiguousarray(vectors[keep])
    return ids, vectors


def set_threads(threads: int | None = None) -> int:
    """Apply the FAISS thread count (argument, else $MMRAG_THREADS); returns the count in use."""
    import faiss

    if threads is None and os.environ.get("MMRAG_THREADS", "").strip():
        threads = int(os.environ["MMRAG_THREADS"])
    if threads is not None:
        faiss.omp_set_num_threads(max(1, threads))
    return faiss.omp_get_max_threads()


def __getattr__(name: str) -> object:
    # FaissStore is re-exported lazily: faiss_store imports this module
    if name == "FaissStore":
        from index.faiss_store import FaissStore

        return FaissStore
    raise AttributeError(name)


__all__ = [
    "BackendMismatchError",
    "FaissStore",
    "IndexCorruptError",
    "Metric",
    "MilvusSettings",
    "ModelMismatchError",
    "VectorStore",
    "VectorStoreError",
    "VectorStoreSettings",
    "checked_rows",
    "set_threads",
]
