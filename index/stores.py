"""Which vector store backs a space: FAISS files or a Milvus collection (``index.backend``).

The indexer opens, creates and drops generations through these functions only; a generation
directory's manifest says which backend wrote it, and a store is never opened by the other.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from index import store_files as files
from index.config import IndexSettings
from index.embedders.base import ModelIdentity
from index.milvus_store import FORMAT as MILVUS_FORMAT
from index.vector_store import BackendMismatchError, MilvusSettings, VectorStore


def stored_backend(directory: Path) -> str | None:
    """The backend that wrote a generation (None: no readable manifest)."""
    try:
        manifest = json.loads((directory / files.MANIFEST).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    return "milvus" if manifest.get("format") == MILVUS_FORMAT else "faiss"


def milvus_settings(settings: IndexSettings, store_dir: Path) -> MilvusSettings:
    return settings.milvus.resolved(store_dir)


def open_store(
    directory: Path, settings: IndexSettings, store_dir: Path, expect: ModelIdentity | None
) -> VectorStore:
    """A saved generation, by the configured backend (BackendMismatchError otherwise)."""
    stored = stored_backend(directory)
    if stored is not None and stored != settings.backend:
        raise BackendMismatchError(directory, stored, settings.backend)
    if settings.backend == "milvus":
        from index.milvus_store import MilvusStore

        return MilvusStore.open(
            directory,
            milvus=milvus_settings(settings, store_dir),
            expect=expect,
            settings=settings.store,
        )
    from index.faiss_store import FaissStore

    return FaissStore.open(directory, expect=expect, settings=settings.store)


def create_store(
    identity: ModelIdentity, directory: Path, settings: IndexSettings, store_dir: Path
) -> VectorStore:
    """A new, empty generation in the configured backend."""
    if settings.backend == "milvus":
        from index.milvus_store import MilvusStore

        return MilvusStore.create(
            identity,
            milvus=milvus_settings(settings, store_dir),
            settings=settings.store,
            directory=directory,
        )
    from index.faiss_store import FaissStore

    return FaissStore.create(
        identity.dim, identity, settings.factory, settings=settings.store, directory=directory
    )


def drop_generation(directory: Path, settings: IndexSettings, store_dir: Path) -> None:
    """Delete a generation: its files, and its Milvus collection when it has one."""
    if stored_backend(directory) == "milvus":
        from index.milvus_store import drop

        drop(directory, milvus_settings(settings, store_dir))
    shutil.rmtree(directory, ignore_errors=True)


def publish(store: VectorStore, space: str) -> None:
    """Make a live store findable by other clients of its backend (a Milvus alias)."""
    publish_alias = getattr(store, "publish", None)
    if publish_alias is not None:
        publish_alias(space)


def close_store(store: VectorStore) -> None:
    """Let go of a store now (a Milvus Lite engine stops once its last store is closed)."""
    close = getattr(store, "close", None)
    if close is not None:
        close()
