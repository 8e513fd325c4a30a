"""FAISS vector store: exact search while small, ANN beyond a threshold, crash-safe on disk.

Layout of the FAISS index: rows are addressed by *position* (0..ntotal-1, in insertion order)
and ``labels[pos]`` holds the caller's int64 id, or -1 once the row is deleted or replaced.
Keeping the id map here instead of in ``IndexIDMap2`` makes deletes uniform across index
types: HNSW cannot ``remove_ids`` and an id map cannot tell a replaced row from its successor,
while a bitmap of live positions (``IDSelectorBitmap``) filters any of them inside the search.
Deleted rows are dropped for good when the store is rebuilt past ``compact_ratio``.

Raw vectors stay available for rebuilds and exact fallbacks: read back from the flat storage
of ``Flat``, ``HNSW..,Flat`` and ``..,RFlat`` indexes, or kept in ``raw.<gen>.npy`` for
index types that do not store them (IVF, PQ...).

On a machine where FAISS sees a GPU, searches run on a GPU copy and ANN rebuilds on CAGRA
(see index/gpu.py); what is written to disk is always the CPU index.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from pathlib import Path
from typing import BinaryIO

import faiss
import numpy as np

from index import gpu
from index import store_files as files
from index.embedders.base import ModelIdentity
from index.vector_store import (
    IndexCorruptError,
    Metric,
    ModelMismatchError,
    VectorStoreSettings,
    checked_rows,
    set_threads,
)

log = logging.getLogger(__name__)

EXACT_FACTORY = "Flat"
_METRICS = {"ip": faiss.METRIC_INNER_PRODUCT, "l2": faiss.METRIC_L2}
_EXACT_CHUNK = 65_536  # rows per block in the numpy exact search
_ADD_CHUNK = 65_536


def nlist_for(n: int) -> int:
    """IVF list count for n vectors: ~4*sqrt(n) as a power of two, >= 39 points per list."""
    target = 2 ** round(math.log2(max(1.0, 4 * math.sqrt(n))))
    return max(1, min(target, n // 39))


def _float_rows(index: faiss.Index | None) -> np.ndarray | None:
    """Zero-copy (ntotal, d) view of the float32 rows, if the index keeps them verbatim."""
    if isinstance(index, faiss.IndexHNSW):
        index = faiss.downcast_index(index.storage)
    elif isinstance(index, faiss.IndexRefine):
        index = faiss.downcast_index(index.refine_index)
    if not isinstance(index, faiss.IndexFlat):
        return None
    if index.ntotal == 0:
        return np.empty((0, index.d), dtype=np.float32)
    return faiss.rev_swig_ptr(index.get_xb(), index.ntotal * index.d).reshape(-1, index.d)


def _keeps_floats(index: faiss.Index | None) -> bool:
    """Whether the index can give back its rows exactly (else a raw copy is kept)."""
    return _float_rows(index) is not None or isinstance(index, faiss.IndexIVFFlat)


class _IdMap:
    """External id -> position as two sorted arrays: vectorised lookups, 16 bytes a row."""

    def __init__(self, labels: np.ndarray) -> None:
        pos = np.flatnonzero(labels >= 0)
        order = np.argsort(labels[pos], kind="stable")
        self.keys, self.pos = labels[pos][order], pos[order]

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """Positions of `ids` (-1 where absent)."""
        if len(self.keys) == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.keys, ids), len(self.keys) - 1)
        return np.where(self.keys[at] == ids, self.pos[at], -1)

    def insert(self, ids: np.ndarray, pos: np.ndarray) -> None:
        """Add absent ids."""
        order = np.argsort(ids, kind="stable")
        at = np.searchsorted(self.keys, ids[order])
        self.keys = np.insert(self.keys, at, ids[order])
        self.pos = np.insert(self.pos, at, pos[order])

    def delete(self, ids: np.ndarray) -> None:
        """Drop present ids."""
        at = np.searchsorted(self.keys, ids)
        self.keys, self.pos = np.delete(self.keys, at), np.delete(self.pos, at)


class FaissStore:
    """A `VectorStore` over FAISS; see the module docstring for the layout."""

    def __init__(
        self,
        identity: ModelIdentity,
        *,
        template: str | None,
        metric: Metric,
        settings: VectorStoreSettings,
        index: faiss.Index | None = None,
        factory: str | None = None,
        labels: np.ndarray | None = None,
        raw: np.ndarray | None = None,
        trained_on: int = 0,
        mmapped: bool = False,
        directory: Path | None = None,
    ) -> None:
        """Use `create` or `open`. `template` None means automatic (exact, then ANN)."""
        if metric not in _METRICS:
            raise ValueError(f"metric must be one of {sorted(_METRICS)}, not {metric!r}")
        self._identity, self._template, self._metric = identity, template, metric
        self.settings = settings
        self._index, self._factory = index, factory or template or EXACT_FACTORY
        self._labels = labels if labels is not None else np.empty(0, dtype=np.int64)
        self._idmap = _IdMap(self._labels)
        self._raw_parts: list[np.ndarray] = [] if raw is None else [raw]
        self._trained_on, self._mmapped, self.directory = trained_on, mmapped, directory
        self._lock = threading.RLock()
        self._live_bits: np.ndarray | None = None  # cached bitmap of live positions
        self._gpu: faiss.Index | None = None  # the GPU copy (index/gpu.py), same positions
        self._gpu_kind: str | None = None  # "flat" | "cagra" | "ivf"
        self._gpu_tried = False  # placed (or found unplaceable) since the last change
        self._gpu_note = ""  # why the index is where it is
        self._gpu_filters = True  # False once the GPU was seen to ignore an id selector
        self._warned: set[str] = set()
        self._hold: BinaryIO | None = None  # while open, its directory is not deleted
        set_threads(settings.threads)

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        dim: int,
        identity: ModelIdentity,
        factory: str | None = None,
        metric: Metric = "ip",
        *,
        settings: VectorStoreSettings | None = None,
        ann_threshold: int | None = None,
        directory: str | Path | None = None,
    ) -> FaissStore:
        """An empty store. `factory` None: exact search, rebuilt as `settings.ann_factory`
        once it holds more than `ann_threshold` vectors; otherwise that FAISS factory string
        (``{nlist}`` is filled from the size at the first add and on rebuilds). `directory`
        is where `save()` without an argument writes."""
        if dim != identity.dim:
            raise ValueError(f"dim {dim} differs from the model's dim {identity.dim}")
        settings = settings or VectorStoreSettings()
        if ann_threshold is not None:
            settings = settings.model_copy(update={"ann_threshold": ann_threshold})
        store = cls(identity, template=factory, metric=metric, settings=settings)
        store.directory = None if directory is None else Path(directory)
        if factory is None or "{" not in factory:
            index = store._new_index(store._factory)
            store._index = index if index.is_trained else None  # else trained at the first add
        return store

    @classmethod
    def open(
        cls,
        directory: str | Path,
        mmap: bool | None = None,
        *,
        expect: ModelIdentity | None = None,
        settings: VectorStoreSettings | None = None,
        verify: bool | None = None,
    ) -> FaissStore:
        """Load a saved store. `mmap` None maps index files above `settings.mmap_threshold_mb`
        (the first mutation then copies it into memory). `expect` refuses another model
        (`ModelMismatchError`); a damaged store raises `IndexCorruptError`. `verify` None
        checksums files up to `settings.verify_max_mb`; sizes are always checked."""
        directory = Path(directory)
        settings = settings or VectorStoreSettings()
        hold = files.hold(directory)  # before reading: a writer may be deleting it right now
        try:
            store = cls._open(directory, mmap, expect, settings, verify)
        except BaseException:
            if hold is not None:
                hold.close()
            raise
        store._hold = hold
        return store

    @classmethod
    def _open(
        cls,
        directory: Path,
        mmap: bool | None,
        expect: ModelIdentity | None,
        settings: VectorStoreSettings,
        verify: bool | None,
    ) -> FaissStore:
        manifest = files.read_manifest(directory)
        try:
            identity = ModelIdentity(**manifest["identity"])
            entries: dict[str, dict] = manifest["files"]
            ntotal, metric = int(manifest["ntotal"]), manifest["metric"]
            if "labels" not in entries:
                raise KeyError("files.labels")
        except (KeyError, TypeError, ValueError) as e:
            raise IndexCorruptError(f"{directory / files.MANIFEST} is incomplete: {e!r}") from e
        fields = ("name", "dim", "backend", "passages")
        if expect is not None and any(getattr(expect, f) != getattr(identity, f) for f in fields):
            raise ModelMismatchError(directory, identity, expect)

        paths = {
            role: files.check_file(
                directory, e, verify=verify, verify_max=int(settings.verify_max_mb * 2**20)
            )
            for role, e in entries.items()
        }
        labels = _load_npy(paths["labels"], mmap=False)
        if labels.dtype != np.int64 or labels.shape != (ntotal,):
            raise IndexCorruptError(f"{paths['labels']} does not hold {ntotal} int64 labels")
        index, mapped = None, False
        if "index" in paths:
            if mmap is None:
                mmap = paths["index"].stat().st_size >= settings.mmap_threshold_mb * 2**20
            index, mapped = _read_index(paths["index"], mmap=mmap)
            if index.ntotal != ntotal or index.d != identity.dim:
                raise IndexCorruptError(f"{paths['index']} does not match its manifest")
        raw = _load_npy(paths["raw"], mmap=bool(mmap)) if "raw" in paths else None
        if raw is not None and raw.shape != (ntotal, identity.dim):
            raise IndexCorruptError(f"{paths['raw']} does not match its manifest")
        return cls(
            identity,
            template=manifest.get("template"),
            metric=metric,
            settings=settings,
            index=index,
            factory=manifest.get("factory"),
            labels=labels,
            raw=raw,
            trained_on=int(manifest.get("trained_on", 0)),
            mmapped=mapped,
            directory=directory,
        )

    # -- properties --------------------------------------------------------------------------

    @property
    def identity(self) -> ModelIdentity:
        return self._identity

    @property
    def factory(self) -> str:
        """The FAISS factory string of the current index (templates resolved)."""
        return self._factory

    @property
    def metric(self) -> Metric:
        return self._metric

    @property
    def is_exact(self) -> bool:
        return self._factory == EXACT_FACTORY

    @property
    def deleted_rows(self) -> int:
        """Rows still in the index but no longer live (removed until the next rebuild)."""
        return len(self._labels) - len(self._idmap.keys)

    def __len__(self) -> int:
        return len(self._idmap.keys)

    def ids(self) -> np.ndarray:
        return self._idmap.keys.copy()

    def vectors(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the stored ones of ``ids``, their vectors)."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        with self._lock:
            positions = self._idmap.lookup(ids)
            keep = positions >= 0
            if not keep.any():
                return np.empty(0, np.int64), np.empty((0, self._identity.dim), np.float32)
            return ids[keep], np.asarray(self._rows(positions[keep]), dtype=np.float32)

    def __repr__(self) -> str:
        return (
            f"FaissStore({self._identity.name!r}, dim={self._identity.dim}, "
            f"factory={self._factory!r}, n={len(self)})"
        )

    # -- mutation ----------------------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert rows; an id already stored is replaced (the last one wins within a batch)."""
        ids, vectors = checked_rows(ids, vectors, self._identity.dim, copy=True)
        if len(ids) == 0:
            return
        with self._lock:
            self._forget(ids)
            if self._index is None:  # a trained factory waits for data: build it on this batch
                self._rebuild_from(vectors, ids, self._template or EXACT_FACTORY)
            else:
                self._materialize()
                start = len(self._labels)
                if not _keeps_floats(self._index):
                    self._raw_parts.append(vectors)
                for lo in range(0, len(vectors), _ADD_CHUNK):
                    self._index.add(vectors[lo : lo + _ADD_CHUNK])
                self._labels = np.concatenate([self._labels, ids])
                self._idmap.insert(ids, np.arange(start, start + len(ids), dtype=np.int64))
                self._changed(keep_gpu=self._extend_gpu(vectors))
            self._maybe_rebuild()

    def remove(self, ids: np.ndarray) -> int:
        """Delete rows by id; unknown ids are ignored. Returns how many rows were removed."""
        ids = np.unique(np.asarray(ids, dtype=np.int64).ravel())
        with self._lock:
            removed = self._forget(ids)
            if removed:
                self._changed(keep_gpu=True)  # rows stay in place: the live bitmap hides them
                self._maybe_rebuild()
            return removed

    def compact(self) -> None:
        """Rebuild without deleted rows, choosing the index type for the current size."""
        with self._lock:
            self._rebuild(self._target_template())

    def _forget(self, ids: np.ndarray) -> int:
        pos = self._idmap.lookup(ids)
        present = pos >= 0
        if present.any():
            self._labels[pos[present]] = -1
            self._idmap.delete(ids[present])
        return int(present.sum())

    def _changed(self, keep_gpu: bool = False) -> None:
        self._live_bits = None
        if not keep_gpu:
            self._gpu, self._gpu_kind, self._gpu_tried = None, None, False

    def _target_template(self) -> str:
        if self._template is not None:
            return self._template
        big = len(self) > self.settings.ann_threshold
        return self.settings.ann_factory if big else EXACT_FACTORY

    def _maybe_rebuild(self) -> None:
        target = self._target_template()
        upgrade = self._template is None and self.is_exact and target != EXACT_FACTORY
        # IVF lists sized for a much smaller store get long and slow: retrain at 4x growth
        regrow = "{nlist}" in target and len(self) > 4 * max(1, self._trained_on)
        too_sparse = self.deleted_rows > self.settings.compact_ratio * max(1, len(self._labels))
        if upgrade or regrow or too_sparse:
            self._rebuild(target)

    def _rebuild(self, template: str) -> None:
        live = np.flatnonzero(self._labels >= 0)
        if len(live) == 0:  # nothing to train on: start over empty
            index = self._new_index(template.replace("{nlist}", "1"))
            self._index = index if index.is_trained else None
            self._factory, self._labels, self._raw_parts = template, live, []
            self._idmap = _IdMap(self._labels)
            self._changed()
            return
        vectors = self._rows(live)
        self._rebuild_from(vectors, self._labels[live], template)

    def _rebuild_from(self, vectors: np.ndarray, labels: np.ndarray, template: str) -> None:
        n = len(vectors)
        factory = template.replace("{nlist}", str(nlist_for(n)))
        built = self._build_on_gpu(vectors, factory)
        if built is not None:
            index = built[0]
        else:
            index = self._new_index(factory)
            if not index.is_trained:
                sample = np.random.default_rng(0).choice(n, size=min(n, 100_000), replace=False)
                try:
                    index.train(vectors[np.sort(sample)])
                except RuntimeError as e:
                    raise ValueError(f"cannot train {factory!r} on {n} vectors: {e}") from e
            for lo in range(0, n, _ADD_CHUNK):
                index.add(vectors[lo : lo + _ADD_CHUNK])
        self._index, self._factory, self._trained_on, self._mmapped = index, factory, n, False
        self._raw_parts = [] if _keeps_floats(index) else [vectors]
        self._labels = labels.copy()
        self._idmap = _IdMap(self._labels)
        self._changed()
        if built is not None:  # the CAGRA graph it was made from serves the searches
            self._gpu, self._gpu_kind, self._gpu_tried = built[1], "cagra", True
            self._gpu_note = f"built with CAGRA on GPU {self.settings.gpu.device}"

    def _build_on_gpu(
        self, vectors: np.ndarray, factory: str
    ) -> tuple[faiss.Index, faiss.Index] | None:
        """An HNSW factory built as a CAGRA graph on the GPU: (the CPU ``IndexHNSWCagra`` to
        save, the GPU index to search), or None to build on the CPU."""
        s = self.settings
        if not re.fullmatch(r"HNSW\d*(,Flat)?", factory) or len(vectors) < gpu.CAGRA_MIN_ROWS:
            return None
        if not (s.gpu.cagra_build and gpu.active(s) and gpu.has_cagra()):
            return None
        m, d, metric = gpu.hnsw_m(factory), self._identity.dim, _METRICS[self._metric]
        try:
            need = gpu.cagra_bytes(len(vectors), d, 2 * m, building=True)
            gpu.check_budget(need, f"a CAGRA build of {len(vectors)} vectors", s)
            on_gpu = gpu.build_cagra(vectors, metric, m, s)
            cpu = gpu.cagra_to_hnsw(on_gpu, d, m, metric)
        except (gpu.GpuMemoryError, RuntimeError) as e:
            log.warning("%s; building %s on the CPU", e, factory)
            return None
        cpu.hnsw.efConstruction = s.ef_construction
        cpu.hnsw.efSearch = s.ef_search
        return cpu, on_gpu

    def _new_index(self, factory: str) -> faiss.Index:
        try:
            index = faiss.index_factory(self._identity.dim, factory, _METRICS[self._metric])
        except RuntimeError as e:
            raise ValueError(f"invalid FAISS factory string {factory!r}: {e}") from e
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efConstruction = self.settings.ef_construction
            index.hnsw.efSearch = self.settings.ef_search
        if ivf := faiss.try_extract_index_ivf(index):
            ivf.nprobe = self.settings.nprobe
        if isinstance(index, faiss.IndexRefine):
            index.k_factor = self.settings.refine_k_factor
        if isinstance(index, faiss.IndexIVFFlat):
            index.make_direct_map()  # positions -> rows, for rebuilds and exact fallbacks
        return index

    def _materialize(self) -> None:
        """Swap a memory-mapped (read-only) index for an in-memory copy before mutating it:
        FAISS aborts the process on writes to a mapped array."""
        if self._mmapped and self._index is not None:
            self._index = faiss.deserialize_index(faiss.serialize_index(self._index))
            self._raw_parts = [np.array(p) for p in self._raw_parts]
            self._mmapped = False

    # -- search ------------------------------------------------------------------------------

    def search(
        self, queries: np.ndarray, k: int, *, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k per query: (scores (nq, k) float32, ids (nq, k) int64), best first, padded
        with id -1 (score -inf, or inf for "l2"). Scores are inner products (metric "ip") or
        squared L2 distances ("l2").
        `allowed_ids` restricts the results; as long as at least k allowed ids are stored,
        k results come back."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if q.shape[1] != self._identity.dim:
            raise ValueError(f"queries must have {self._identity.dim} columns, got {q.shape[1]}")
        if k < 1:
            raise ValueError("k must be >= 1")
        with self._lock:
            scores, pos = self._search_positions(q, k, allowed_ids)
            # faiss pads with ±FLT_MAX; make padding unmistakable
            scores[pos < 0] = -np.inf if self._metric == "ip" else np.inf
            if len(self._labels) == 0:
                return scores, pos
            ids = np.where(pos >= 0, self._labels[np.maximum(pos, 0)], -1)
        return scores, ids

    def _search_positions(
        self, q: np.ndarray, k: int, allowed_ids: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        ntotal = len(self._labels)
        on_gpu = self._gpu_index() is not None
        if allowed_ids is not None:
            allowed = self._idmap.lookup(np.unique(np.asarray(allowed_ids, dtype=np.int64)))
            allowed = np.sort(allowed[allowed >= 0])
            small = len(allowed) <= self.settings.exact_filter_max
            # an exact GPU copy filters with a bitmap faster than rows can be gathered
            gpu_bitmap = self._gpu_kind == "flat" and self._gpu_filters
            if len(allowed) <= k or (small and not gpu_bitmap):
                return self._exact(q, k, allowed)
            mask = np.zeros(ntotal, dtype=bool)
            mask[allowed] = True
            bits, n_ok = np.packbits(mask, bitorder="little"), len(allowed)
        elif self.deleted_rows:
            if self._live_bits is None:
                self._live_bits = np.packbits(self._labels >= 0, bitorder="little")
            bits, n_ok = self._live_bits, len(self)
        else:
            bits, n_ok = None, len(self)
        if n_ok == 0 or self._index is None:
            return self._exact(q, k, np.empty(0, dtype=np.int64))

        sel = None if bits is None else faiss.IDSelectorBitmap(ntotal, faiss.swig_ptr(bits))
        boost = min(ntotal / n_ok, 1e9)
        found = self._gpu_search(q, k, sel, bits, boost) if on_gpu else None
        if found is not None:
            scores, pos = found
        else:
            params = self._params(self._index, sel, boost=boost)
            if params is None and sel is not None:  # index type without selector support
                scores, pos = self._overfetch(q, k, bits)
            else:
                scores, pos = self._index.search(q, k, params=params)
        del sel  # the selector reads `bits`: keep both alive until here

        # a graph or list walk can come back short under a selective filter: redo those rows
        short = (pos >= 0).sum(axis=1) < min(k, n_ok)
        if short.any():
            if bits is None:
                candidates = np.flatnonzero(self._labels >= 0)
            else:
                candidates = np.flatnonzero(np.unpackbits(bits, count=ntotal, bitorder="little"))
            scores[short], pos[short] = self._exact(q[short], k, candidates)
        return scores, pos

    def _params(
        self, index: faiss.Index, sel: faiss.IDSelector | None, boost: float
    ) -> faiss.SearchParameters | None:
        """Search parameters carrying the selector, with the breadth raised for filters
        (a filter that keeps 1/b of the rows gets sqrt(b) times the breadth, capped)."""
        s = self.settings
        factor = 1.0 if sel is None else min(math.sqrt(boost), s.filter_boost_max)
        if isinstance(index, faiss.IndexHNSW):
            return faiss.SearchParametersHNSW(sel=sel, efSearch=math.ceil(s.ef_search * factor))
        if isinstance(index, faiss.IndexIVF):
            nprobe = min(index.nlist, math.ceil(s.nprobe * factor))
            return faiss.SearchParametersIVF(sel=sel, nprobe=nprobe)
        if isinstance(index, faiss.IndexFlatCodes):
            return None if sel is None else faiss.SearchParameters(sel=sel)
        if isinstance(index, faiss.IndexRefine):
            base = self._params(faiss.downcast_index(index.base_index), sel, boost)
            if base is None and sel is not None:
                return None
            return faiss.IndexRefineSearchParameters(
                k_factor=index.k_factor, base_index_params=base
            )
        return None

    def _overfetch(self, q: np.ndarray, k: int, bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For index types without selectors: fetch more, drop what the filter rejects."""
        ntotal = len(self._labels)
        ok = np.unpackbits(bits, count=ntotal, bitorder="little").astype(bool)
        fetch = min(ntotal, 4 * k)
        while True:
            scores, pos = self._index.search(q, fetch)
            keep = pos >= 0
            keep[keep] = ok[pos[keep]]
            if fetch >= ntotal or (keep.sum(axis=1) >= min(k, int(ok.sum()))).all():
                break
            fetch = min(ntotal, fetch * 4)
        out_s, out_p = _empty(len(q), k, self._metric)
        for row in range(len(q)):
            found = np.flatnonzero(keep[row])[:k]
            out_s[row, : len(found)], out_p[row, : len(found)] = scores[row, found], pos[row, found]
        return out_s, out_p

    def _exact(self, q: np.ndarray, k: int, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Brute force over the given positions, in blocks (bounded memory)."""
        if len(positions) >= gpu.GPU_EXACT_MIN and self._gpu_index() is not None:
            found = self._gpu_exact(q, k, positions)
            if found is not None:
                return found
        best_s, best_p = _empty(len(q), k, self._metric)
        if len(positions) == 0:
            return best_s, best_p
        sign = 1.0 if self._metric == "ip" else -1.0  # rank by larger-is-better
        best_s *= sign
        q_sq = (q * q).sum(axis=1, keepdims=True)
        for lo in range(0, len(positions), _EXACT_CHUNK):
            chunk = positions[lo : lo + _EXACT_CHUNK]
            x = self._rows(chunk)
            s = q @ x.T
            if self._metric == "l2":
                s = -(q_sq - 2 * s + (x * x).sum(axis=1))
            cat_s = np.concatenate([best_s, s], axis=1)
            cat_p = np.concatenate([best_p, np.broadcast_to(chunk, s.shape)], axis=1)
            top = np.argpartition(-cat_s, k - 1, axis=1)[:, :k] if cat_s.shape[1] > k else None
            if top is not None:
                cat_s, cat_p = np.take_along_axis(cat_s, top, 1), np.take_along_axis(cat_p, top, 1)
            order = np.argsort(-cat_s, axis=1, kind="stable")
            best_s, best_p = (
                np.take_along_axis(cat_s, order, 1),
                np.take_along_axis(cat_p, order, 1),
            )
        return (best_s * sign).astype(np.float32), best_p

    def _rows(self, positions: np.ndarray) -> np.ndarray:
        """A copy of the rows at these positions."""
        view = _float_rows(self._index)
        if view is not None:
            return view[positions]
        if isinstance(self._index, faiss.IndexIVFFlat):
            return self._index.reconstruct_batch(positions)
        return self._raw()[positions]

    def _raw(self) -> np.ndarray:
        """The raw copy of all rows (index types that do not keep them)."""
        if len(self._raw_parts) > 1:
            self._raw_parts = [np.concatenate(self._raw_parts)]
        if not self._raw_parts:
            return np.empty((0, self._identity.dim), dtype=np.float32)
        return self._raw_parts[0]

    # -- GPU (index/gpu.py) -----------------------------------------------------------------

    def placement(self) -> str:
        """Where this index is searched, and why (for `mmrag doctor` and the store page).

        Reports the plan without making a GPU copy when none was made yet."""
        with self._lock:
            n = f"{len(self):,} vectors"
            if self._gpu is not None:
                kind, note, later = self._gpu_kind, self._gpu_note, ""
            elif not self._gpu_tried:
                (kind, note), later = self._gpu_plan(), ", copied at the first search"
            else:
                kind, note, later = None, self._gpu_note, ""
            if kind is None:
                return f"CPU: {self._factory}, {n}" + (f" ({note})" if note else "")
            where = {"flat": "exact (GpuIndexFlat)", "cagra": "CAGRA graph"}.get(
                kind, self._factory
            )
            text = f"GPU {self.settings.gpu.device}: {where}, {n}{later}"
            if not self.is_exact:
                text += f"; saved as {self._factory}" + (f" ({note})" if note else "")
            if not self._gpu_filters:
                text += "; filtered searches on the CPU (FAISS ignored an id selector on the GPU)"
            return text

    def _gpu_plan(self) -> tuple[str | None, str]:
        """Which GPU copy suits the index ("flat", "cagra", "ivf" or None) and why."""
        s, idx = self.settings, self._index
        if idx is None or len(self._labels) == 0:
            return None, ""
        if not s.use_gpu:
            return None, "index.store.use_gpu is off"
        if gpu.gpu_count() <= s.gpu.device:
            return None, "FAISS sees no GPU" if gpu.has_gpu_support() else "faiss-cpu build"
        n, d = len(self._labels), self._identity.dim
        if isinstance(idx, faiss.IndexFlat):
            kind, need, note = "flat", gpu.flat_bytes(n, d, s.gpu.float16), ""
        elif isinstance(idx, faiss.IndexHNSW) and _float_rows(idx) is not None:
            m = idx.hnsw.nb_neighbors(1)
            if gpu.has_cagra() and n >= gpu.CAGRA_MIN_ROWS:
                kind, need, note = "cagra", gpu.cagra_bytes(n, d, 2 * m), ""
            else:
                kind, need = "flat", gpu.flat_bytes(n, d, s.gpu.float16)
                note = "exact over the HNSW rows: " + (
                    "too few rows for CAGRA" if gpu.has_cagra() else "this FAISS has no CAGRA"
                )
        elif isinstance(idx, faiss.IndexIVF):
            kind, need, note = "ivf", n * (idx.code_size + 8), ""
        else:
            return None, f"FAISS has no GPU version of {self._factory}"
        try:
            gpu.check_budget(need, f"the {self._factory} index ({n} rows)", s)
        except gpu.GpuMemoryError as e:
            return None, str(e)
        return kind, note

    def _gpu_index(self) -> faiss.Index | None:
        """The GPU copy, made on first use after a change; None: search on the CPU."""
        if self._gpu_tried:
            return self._gpu
        self._gpu_tried = True
        kind, self._gpu_note = self._gpu_plan()
        if kind is None:
            if self._gpu_note and gpu.gpu_count() > 0:
                self._warn(f"{self._identity.name} index on the CPU: {self._gpu_note}")
            return None
        s, idx, metric = self.settings, self._index, _METRICS[self._metric]
        try:
            if kind == "cagra":
                rows = _float_rows(idx)
                self._gpu = gpu.build_cagra(rows, metric, idx.hnsw.nb_neighbors(1), s)
            elif kind == "flat" and not isinstance(idx, faiss.IndexFlat):
                self._gpu = gpu.flat_on_gpu(_float_rows(idx), metric, s)
            else:
                self._gpu = gpu.to_gpu(idx, s)
        except RuntimeError as e:  # CUDA out of memory, an unsupported option...
            self._gpu_note = f"the GPU copy failed: {e}"
            self._warn(f"{self._identity.name} index on the CPU: {self._gpu_note}")
            return None
        self._gpu_kind = kind
        return self._gpu

    def _warn(self, message: str) -> None:
        """Log a fallback to the CPU once per reason, not at every search."""
        if message not in self._warned:
            self._warned.add(message)
            log.warning("%s", message)

    def _extend_gpu(self, vectors: np.ndarray) -> bool:
        """Append new rows to an exact GPU copy (True), rather than copying it all again."""
        if self._gpu is None or self._gpu_kind != "flat":
            return False
        try:
            need = gpu.flat_bytes(len(self._labels), self._identity.dim, self.settings.gpu.float16)
            gpu.check_budget(need, f"the {self._factory} index", self.settings)
            with gpu.lock:
                self._gpu.add(vectors)
        except (gpu.GpuMemoryError, RuntimeError) as e:
            self._warn(f"{self._identity.name} index: {e}")
            return False
        return True

    def _gpu_search(
        self,
        q: np.ndarray,
        k: int,
        sel: faiss.IDSelector | None,
        bits: np.ndarray | None,
        boost: float,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Search the GPU copy with the filter bitmap; None: the CPU must answer (logged)."""
        s, kind = self.settings, self._gpu_kind
        if sel is not None and not self._gpu_filters:
            return None
        if kind == "cagra" and k > gpu.CAGRA_MAX_K:
            self._warn(f"k={k} is over CAGRA's {gpu.CAGRA_MAX_K}: searched on the CPU")
            return None
        factor = 1.0 if sel is None else min(math.sqrt(boost), s.filter_boost_max)
        if kind == "cagra":
            params = gpu.cagra_params(sel, k, s, factor)
        elif kind == "ivf":
            nprobe = min(self._index.nlist, math.ceil(s.nprobe * factor))
            params = faiss.SearchParametersIVF(sel=sel, nprobe=nprobe)
        else:
            params = None if sel is None else faiss.SearchParameters(sel=sel)
        try:
            with gpu.lock:
                scores, pos = self._gpu.search(q, k, params=params)
        except RuntimeError as e:
            self._warn(f"GPU search failed ({e}): searched on the CPU")
            return None
        if bits is not None and sel is not None:
            hit = pos[pos >= 0]
            if not ((bits[hit >> 3] >> (hit & 7)) & 1).all():  # an old build ignores selectors
                self._gpu_filters = False
                self._warn(
                    "this FAISS build ignores id selectors on the GPU: filtered searches of the "
                    f"{self._identity.name} index run on the CPU"
                )
                return None
        return scores, pos

    def _gpu_exact(
        self, q: np.ndarray, k: int, positions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Brute force over gathered rows on the GPU (filters too selective for the graph)."""
        d = self._identity.dim
        try:
            gpu.check_budget(gpu.flat_bytes(len(positions), d), "an exact search", self.settings)
            kk = min(k, len(positions))
            scores, found = gpu.knn(
                q, self._rows(positions), kk, _METRICS[self._metric], self.settings
            )
        except (gpu.GpuMemoryError, RuntimeError) as e:
            self._warn(f"exact search on the CPU: {e}")
            return None
        out_s, out_p = _empty(len(q), k, self._metric)
        ok = found >= 0
        out_s[:, :kk] = np.where(ok, scores, out_s[:, :kk])
        out_p[:, :kk] = np.where(ok, positions[np.maximum(found, 0)], -1)
        return out_s, out_p

    # -- persistence -------------------------------------------------------------------------

    def save(self, directory: str | Path | None = None) -> Path:
        """Write a new generation of files, then switch the manifest to it (atomic)."""
        target = Path(directory) if directory is not None else self.directory
        if target is None:
            raise ValueError("save() needs a directory for a store that was never saved")
        target.mkdir(parents=True, exist_ok=True)
        gen = files.new_generation()
        entries: dict[str, dict] = {}
        with self._lock, files.writer_lock(target):
            if self._index is not None:
                name = f"index.{gen}.faiss"
                with files.atomic_file(target / name) as w:
                    faiss.write_index(self._index, faiss.PyCallbackIOWriter(w.write))
                entries["index"] = w.entry(name)
            arrays = {"labels": self._labels}
            if self._index is not None and not _keeps_floats(self._index):
                arrays["raw"] = self._raw()
            for role, array in arrays.items():
                name = f"{role}.{gen}.npy"
                with files.atomic_file(target / name) as w:
                    np.save(w, array)  # type: ignore[arg-type]  # a write()-only sink suffices
                entries[role] = w.entry(name)
            manifest = {
                "format": files.FORMAT,
                "version": files.FORMAT_VERSION,
                "identity": self._identity.to_json(),
                "metric": self._metric,
                "factory": self._factory,
                "template": self._template,
                "auto": self._template is None,
                "count": len(self),
                "ntotal": len(self._labels),
                "trained_on": self._trained_on,
                "faiss_version": faiss.__version__,
                "files": entries,
            }
            files.write_manifest(target, manifest)
            files.remove_stale(target, keep={e["name"] for e in entries.values()})
            self.directory = target
        return target


def _empty(nq: int, k: int, metric: Metric) -> tuple[np.ndarray, np.ndarray]:
    fill = -np.inf if metric == "ip" else np.inf
    return np.full((nq, k), fill, dtype=np.float32), np.full((nq, k), -1, dtype=np.int64)


def _load_npy(path: Path, *, mmap: bool) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise IndexCorruptError(f"{path} cannot be read: {e}") from e


def _read_index(path: Path, *, mmap: bool) -> tuple[faiss.Index, bool]:
    """Read an index, memory-mapped (read-only) when asked and the type allows it."""
    # IO_FLAG_MMAP_IFC (faiss >= 1.10) maps flat codes and IVF lists; IO_FLAG_MMAP is the
    # older, IVF-only way. They do not combine. Types that cannot be mapped are read normally.
    modes = [getattr(faiss, "IO_FLAG_MMAP_IFC", None), faiss.IO_FLAG_MMAP] if mmap else []
    for mode in modes:
        if mode is None:
            continue
        try:
            return faiss.read_index(str(path), mode | faiss.IO_FLAG_READ_ONLY), True
        except RuntimeError:
            continue
    try:
        return faiss.read_index(str(path)), False
    except RuntimeError as e:
        raise IndexCorruptError(f"{path} cannot be read by FAISS: {e}") from e
