"""A 2-D picture of a store: its embeddings projected with PCA or t-SNE (scikit-learn).

Projections are computed in a background thread and kept per index generation, in memory and
in the store (``ui-cache/``), so the Map page draws at once, also after a restart. When the
index changes a little (some items added or removed), PCA places the new items with the axes
already fitted instead of starting over; t-SNE is recomputed, and the page shows the PCA
picture meanwhile.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from sqlalchemy import select

from index.indexer import Indexer, Space
from index.stores import close_store, open_store
from ingest.catalog import Catalog, Chunk, Document
from ingest.catalog.store import best_paths
from ingest.paths import display_name

log = logging.getLogger(__name__)
Method = Literal["pca", "tsne"]
CACHE_DIR = "ui-cache"
LIMIT = 5000  # items drawn at most (an even sample of larger stores)
REFIT = 0.25  # PCA is refitted when more than this share of the items is new


@dataclass(slots=True)
class Layout:
    """Where each item lies, and how it was computed (what a cache file holds)."""

    ids: np.ndarray
    xy: np.ndarray  # (n, 2)
    generation: str
    explained: float | None = None  # PCA: variance kept by the two axes
    mean: np.ndarray | None = None  # PCA: the fitted centre and axes, to place new items
    axes: np.ndarray | None = None


@dataclass(slots=True)
class Projection:
    ids: np.ndarray
    xy: np.ndarray  # (n, 2)
    modality: list[str]
    file_type: list[str]
    folder: list[str]
    name: list[str]
    preview: list[str]  # short text shown on hover
    explained: float | None = None
    generation: str = ""
    incremental: bool = field(default=False)  # new items placed on earlier axes


def generation(indexer: Indexer, space: Space) -> str | None:
    """A stamp of a space's live index that changes whenever it is saved; None: no index."""
    directory = indexer.space_dir(space)
    try:
        st = (directory / "manifest.json").stat()
    except OSError:
        return None
    return f"{directory.name}:{st.st_mtime_ns}:{st.st_size}"


def stored_vectors(indexer: Indexer, space: Space) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of every item in a space's live index (no model is loaded)."""
    directory = indexer.space_dir(space)
    if not (directory / "manifest.json").is_file():
        return np.zeros(0, dtype=np.int64), np.zeros((0, 2), dtype=np.float32)
    store = open_store(directory, indexer.settings, indexer.root.parent, None)
    try:
        if len(store) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 2), dtype=np.float32)
        return store.vectors(store.ids())
    finally:
        close_store(store)


def project(vectors: np.ndarray, method: Method, seed: int = 0) -> tuple[np.ndarray, float | None]:
    xy, explained, _, _ = _project(vectors, method, seed)
    return xy, explained


def _project(
    vectors: np.ndarray, method: Method, seed: int
) -> tuple[np.ndarray, float | None, np.ndarray | None, np.ndarray | None]:
    """(xy, explained variance, PCA centre, PCA axes)."""
    n = len(vectors)
    if n == 0:
        return np.zeros((0, 2), dtype=np.float32), None, None, None
    if n < 3:
        xy = np.column_stack([np.arange(n, dtype=np.float32), np.zeros(n, np.float32)])
        return xy, None, None, None
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
        return tsne.fit_transform(pre).astype(np.float32), None, None, None
    pca = PCA(n_components=2, random_state=seed)
    xy = pca.fit_transform(vectors).astype(np.float32)
    explained = float(pca.explained_variance_ratio_.sum())
    return xy, explained, pca.mean_.astype(np.float32), pca.components_.astype(np.float32)


def layout(
    vectors: np.ndarray,
    ids: np.ndarray,
    method: Method,
    gen: str,
    previous: Layout | None = None,
    seed: int = 0,
) -> tuple[Layout, bool]:
    """Lay out ``vectors``; with a ``previous`` PCA layout of mostly the same items, keep their
    places and put the new ones on the same axes. Returns (layout, whether incremental)."""
    if method == "pca" and previous is not None and previous.axes is not None and len(ids):
        old = {int(i): k for k, i in enumerate(previous.ids)}
        kept = np.array([int(i) in old for i in ids], dtype=bool)
        new = int((~kept).sum())
        if kept.any() and new <= REFIT * len(ids):
            xy = np.empty((len(ids), 2), dtype=np.float32)
            xy[kept] = previous.xy[[old[int(i)] for i in ids[kept]]]
            if new:
                xy[~kept] = (vectors[~kept] - previous.mean) @ previous.axes.T
            return Layout(
                ids, xy, gen, previous.explained, previous.mean, previous.axes
            ), new > 0 or len(ids) != len(previous.ids)
    xy, explained, mean, axes = _project(vectors, method, seed)
    return Layout(ids, xy, gen, explained, mean, axes), False


def describe(catalog: Catalog, lay: Layout, incremental: bool = False) -> Projection:
    """The layout with what the page shows of each item (catalog rows; deleted items left
    out)."""
    with catalog.session() as s:
        rows = {
            r.id: r
            for r in s.execute(
                select(Chunk.id, Chunk.modality, Chunk.text, Chunk.document_id, Document.file_type)
                .join(Document, Document.id == Chunk.document_id)
                .where(Chunk.id.in_(lay.ids.tolist()))
            )
        }
        paths = best_paths(s, {r.document_id for r in rows.values()})
    known = np.array([int(i) in rows for i in lay.ids], dtype=bool)
    ids, xy = lay.ids[known], lay.xy[known]
    meta = [rows[int(i)] for i in ids]
    sources = [paths.get(r.document_id, "") for r in meta]
    return Projection(
        ids=ids,
        xy=xy,
        modality=[r.modality for r in meta],
        file_type=[r.file_type for r in meta],
        folder=[display_name(os.path.dirname(p)) or "/" for p in sources],
        name=[display_name(p) for p in sources],
        preview=[_preview(r.text) for r in meta],
        explained=lay.explained,
        generation=lay.generation,
        incremental=incremental,
    )


def build(
    catalog: Catalog,
    indexer: Indexer,
    space: Space,
    method: Method,
    limit: int = LIMIT,
    seed: int = 0,
) -> Projection:
    """Project up to ``limit`` items (an even sample of larger stores), from scratch."""
    ids, vectors = _sample(*stored_vectors(indexer, space), limit, seed)
    lay, _ = layout(vectors, ids, method, generation(indexer, space) or "", seed=seed)
    return describe(catalog, lay)


def _sample(
    ids: np.ndarray, vectors: np.ndarray, limit: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    if len(ids) <= limit:
        return ids, vectors
    keep = np.random.default_rng(seed).choice(len(ids), limit, replace=False)
    keep.sort()
    return ids[keep], vectors[keep]


def _preview(text: str, width: int = 140) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


class MapCache:
    """The projections of one store, computed in the background and kept per generation."""

    def __init__(self, catalog: Catalog, indexer: Indexer, store_dir: Path) -> None:
        self.catalog = catalog
        self.indexer = indexer
        self.dir = store_dir / CACHE_DIR
        self._ready: dict[tuple[str, str], Projection] = {}
        self._busy: set[tuple[str, str]] = set()
        self._failed: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def get(self, space: Space, method: Method, start: bool = True) -> Projection | None:
        """The projection of the live index, or None while it is computed (``start``: begin
        computing it in the background if nobody has)."""
        gen = generation(self.indexer, space)
        key = (space, method)
        if gen is None:
            return describe(self.catalog, Layout(np.zeros(0, np.int64), np.zeros((0, 2)), ""))
        ready = self._ready.get(key)
        if ready is not None and ready.generation == gen:
            return ready
        cached = self._load(space, method)
        if cached is not None and cached.generation == gen:
            proj = describe(self.catalog, cached)
            self._ready[key] = proj
            return proj
        if start:
            self._start(space, method, gen)
        return None

    def error(self, space: Space, method: Method) -> str | None:
        return self._failed.get((space, method))

    def prepare(self, *keys: tuple[Space, Method]) -> None:
        """Compute these projections now, in the calling thread (the app's warm-up)."""
        for space, method in keys:
            gen = generation(self.indexer, space)
            missing = gen is not None and self.get(space, method, start=False) is None
            if missing and self._claim(space, method):
                self._compute(space, method, gen, True)  # type: ignore[arg-type]

    def _claim(self, space: Space, method: Method) -> bool:
        """Whether the caller may compute this projection (nobody else is)."""
        with self._lock:
            if (space, method) in self._busy:
                return False
            self._busy.add((space, method))
            return True

    def _start(self, space: Space, method: Method, gen: str) -> None:
        if not self._claim(space, method):
            return
        threading.Thread(
            target=self._compute,
            args=(space, method, gen, True),
            name=f"map-{space}-{method}",
            daemon=True,
        ).start()

    def _compute(self, space: Space, method: Method, gen: str, claimed: bool = False) -> None:
        key = (space, method)
        try:
            ids, vectors = _sample(*stored_vectors(self.indexer, space), LIMIT, 0)
            lay, incremental = layout(vectors, ids, method, gen, self._load(space, method))
            self._save(space, method, lay)
            self._ready[key] = describe(self.catalog, lay, incremental)
            self._failed.pop(key, None)
        except Exception as exc:
            log.warning("map projection %s/%s failed", space, method, exc_info=True)
            self._failed[key] = f"{type(exc).__name__}: {exc}"
        finally:
            if claimed:
                with self._lock:
                    self._busy.discard(key)

    # -- the files in ui-cache/ -------------------------------------------------------------
    def _path(self, space: str, method: str) -> Path:
        return self.dir / f"map-{space}-{method}.npz"

    def _load(self, space: str, method: str) -> Layout | None:
        try:
            with np.load(self._path(space, method), allow_pickle=False) as f:
                meta = json.loads(str(f["meta"]))
                return Layout(
                    ids=f["ids"],
                    xy=f["xy"],
                    generation=meta["generation"],
                    explained=meta.get("explained"),
                    mean=f["mean"] if "mean" in f.files else None,
                    axes=f["axes"] if "axes" in f.files else None,
                )
        except FileNotFoundError:
            return None
        except Exception:
            log.warning("ignoring %s", self._path(space, method), exc_info=True)
            return None

    def _save(self, space: str, method: str, lay: Layout) -> None:
        arrays = {"ids": lay.ids, "xy": lay.xy}
        if lay.mean is not None and lay.axes is not None:
            arrays |= {"mean": lay.mean, "axes": lay.axes}
        meta = json.dumps({"generation": lay.generation, "explained": lay.explained})
        target = self._path(space, method)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{threading.get_ident()}.tmp")
            with open(tmp, "wb") as f:
                np.savez(f, meta=np.array(meta), **arrays)
            os.replace(tmp, target)
        except OSError:  # a read-only store still gets its map, computed per process
            log.info("could not keep the map layout in %s", self.dir, exc_info=True)
