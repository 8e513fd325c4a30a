"""A 2-D picture of a store: its embeddings projected with PCA or t-SNE (scikit-learn)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from sqlalchemy import select

from index.indexer import Indexer, Space
from ingest.catalog import Catalog, Chunk, Document
from ingest.catalog.store import best_paths

Method = Literal["pca", "tsne"]


@dataclass(slots=True)
class Projection:
    ids: np.ndarray
    xy: np.ndarray  # (n, 2)
    modality: list[str]
    file_type: list[str]
    folder: list[str]
    name: list[str]
    preview: list[str]  # short text shown on hover
    explained: float | None = None  # PCA: variance kept by the two axes


def stored_vectors(indexer: Indexer, space: Space) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of every item in a space's live index."""
    store = indexer.open(space)
    if store is None or len(store) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 2), dtype=np.float32)
    ids = store.ids()
    if hasattr(store, "vectors"):  # the public accessor, where the vector store has one
        return ids, np.asarray(store.vectors(ids), dtype=np.float32)
    # FaissStore keeps rows by position; it offers no public read-back yet
    positions = store._idmap.lookup(ids)
    return ids, np.asarray(store._rows(positions), dtype=np.float32)


def project(vectors: np.ndarray, method: Method, seed: int = 0) -> tuple[np.ndarray, float | None]:
    n = len(vectors)
    if n == 0:
        return np.zeros((0, 2), dtype=np.float32), None
    if n < 3:
        return np.column_stack([np.arange(n, dtype=np.float32), np.zeros(n, np.float32)]), None
    from sklearn.decomposition import PCA

    if method == "tsne" and n >= 5:
        from sklearn.manifold import TSNE

        reduced = PCA(n_components=min(50, n - 1, vectors.shape[1]), random_state=seed)
        pre = reduced.fit_transform(vectors)
        tsne = TSNE(
            n_components=2,
            perplexity=float(min(30, max(2, (n - 1) // 3))),
            init="pca",
            random_state=seed,
            metric="cosine",
        )
        return tsne.fit_transform(pre).astype(np.float32), None
    pca = PCA(n_components=2, random_state=seed)
    xy = pca.fit_transform(vectors).astype(np.float32)
    return xy, float(pca.explained_variance_ratio_.sum())


def build(
    catalog: Catalog,
    indexer: Indexer,
    space: Space,
    method: Method,
    limit: int = 5000,
    seed: int = 0,
) -> Projection:
    """Project up to ``limit`` items (an even sample of larger stores)."""
    ids, vectors = stored_vectors(indexer, space)
    if len(ids) > limit:
        keep = np.random.default_rng(seed).choice(len(ids), limit, replace=False)
        keep.sort()
        ids, vectors = ids[keep], vectors[keep]
    with catalog.session() as s:
        rows = {
            r.id: r
            for r in s.execute(
                select(Chunk.id, Chunk.modality, Chunk.text, Chunk.document_id, Document.file_type)
                .join(Document, Document.id == Chunk.document_id)
                .where(Chunk.id.in_(ids.tolist()))
            )
        }
        paths = best_paths(s, {r.document_id for r in rows.values()})
    known = np.array([int(i) in rows for i in ids], dtype=bool)
    ids, vectors = ids[known], vectors[known]
    xy, explained = project(vectors, method, seed)
    meta = [rows[int(i)] for i in ids]
    sources = [paths.get(r.document_id, "") for r in meta]
    return Projection(
        ids=ids,
        xy=xy,
        modality=[r.modality for r in meta],
        file_type=[r.file_type for r in meta],
        folder=[Path(p).parent.name or "/" for p in sources],
        name=[Path(p).name for p in sources],
        preview=[_preview(r.text) for r in meta],
        explained=explained,
    )


def _preview(text: str, width: int = 140) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
