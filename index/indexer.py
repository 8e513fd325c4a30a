"""Keep one FAISS index per embedding space in step with the catalog.

The catalog is the source of truth. ``sync`` compares the ids each index holds with the ids
the catalog says it should hold, removes the stale, embeds the missing and saves atomically;
after a crash at any point, the next ``sync`` (or ``mmrag doctor``) makes them agree again.

Spaces:
  ``text``  sentence-transformers vectors of every text-bearing item (chunks, transcripts, OCR)
  ``clip``  the shared image-text space: images through the vision tower, text items through
            the text tower, so any modality can query any other

Other processes may change the store while this one reads it: ``follow`` notices (the
``CURRENT`` pointers, the manifests) and reloads. A generation replaced by ``reindex`` is
deleted only once no process has it open (``store_files.hold``), by the next reindex, sync or
check.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from PIL import Image
from sqlalchemy import Select, or_, select

from index import store_files as files
from index.config import EmbedSettings, IndexSettings
from index.embedders import ImageEmbedder, ModelIdentity, TextEmbedder
from index.embedders.factory import clip_embedder, text_embedder
from index.lexical.store import LexicalIndex, LexicalIndexError
from index.lexical.sync import lexical_ids_query, sync_lexical
from index.passage import CONTEXT_RECIPE, with_context
from index.stores import (
    close_store,
    create_store,
    drop_generation,
    open_store,
    publish,
    stored_backend,
)
from index.vector_store import (
    BackendMismatchError,
    IndexCorruptError,
    ModelMismatchError,
    VectorStore,
)
from ingest.catalog import Asset, Catalog, Chunk, Document
from ingest.catalog.health import Finding

log = logging.getLogger(__name__)
Space = Literal["text", "clip"]


class BulkEmbedding(Protocol):
    """Somewhere else to embed a sync's items (`index.ray_embed`: an actor pool on Ray)."""

    def open(
        self, embed: EmbedSettings, space: Space, expected: ModelIdentity
    ) -> AbstractContextManager[TextEmbedder | ImageEmbedder]:
        """An embedder of ``space`` with the model ``expected``, for one sync."""
        ...


SPACES: tuple[Space, ...] = ("text", "clip")
CURRENT = "CURRENT"
SAVE_EVERY = 4096  # vectors between intermediate saves: a killed sync loses little work

Progress = Callable[[str, int, int], None]  # (space, done, total)


@dataclass(slots=True)
class SyncReport:
    space: str  # a Space, or "lexical" for the BM25 index
    added: int
    removed: int
    total: int
    seconds: float


def space_ids_query(space: Space, embed_images: bool = True) -> Select[tuple[int]]:
    """Which catalog items belong in a space."""
    q = select(Chunk.id).order_by(Chunk.id)
    if space == "text":
        return q.where(or_(Chunk.modality != "image", Chunk.text != ""))
    return q if embed_images else q.where(Chunk.modality != "image")


@dataclass(frozen=True, slots=True)
class StoreState:
    """What other processes change in a store: the live generation of each space (a reindex)
    and when each index was last written (an ingest)."""

    generations: tuple[str, ...]
    written: tuple[tuple[int, int, int] | None, ...]


def store_state(root: Path) -> StoreState:
    """The state of the indexes under ``root`` (a few stat calls: cheap enough per query)."""

    def stamp(path: Path) -> tuple[int, int, int] | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    generations = []
    for space in SPACES:
        pointer = root / space / CURRENT
        generations.append(pointer.read_text().strip() if pointer.is_file() else "gen-1")
    written = [
        stamp(root / s / g / files.MANIFEST) for s, g in zip(SPACES, generations, strict=True)
    ]
    written.append(stamp(root / "lexical" / "meta.json"))
    return StoreState(tuple(generations), tuple(written))


def _generation_number(name: str) -> int:
    return int(re.sub(r"\D", "", name) or 0)


class Indexer:
    """``reload`` gives the embedding settings anew when another process switched models
    (``mmrag reindex``); ``seen`` is the store's state those settings were read in."""

    def __init__(
        self,
        embed: EmbedSettings,
        settings: IndexSettings,
        catalog: Catalog,
        store_dir: Path,
        *,
        reload: Callable[[], EmbedSettings] | None = None,
        seen: StoreState | None = None,
        bulk: BulkEmbedding | None = None,
    ) -> None:
        self.embed = embed
        self.settings = settings
        self.catalog = catalog
        self.root = store_dir / "indexes"
        self.version = 0  # bumps whenever the store changed under this process
        self._reload = reload
        self.bulk = bulk  # None: embed in this process
        self._seen = seen if seen is not None else store_state(self.root)
        self._follow_lock = threading.Lock()

    def follow(self) -> int:
        """Catch up with other processes; returns ``version``, which changes when they did.

        Another model (a switched generation) reloads ``embed``; anything else written only
        bumps ``version``, so searchers know to reopen the indexes.
        """
        state = store_state(self.root)
        with self._follow_lock:
            if state != self._seen:
                switched = state.generations != self._seen.generations
                self._seen = state
                if switched and self._reload is not None:
                    self.embed = self._reload()
                self.version += 1
            return self.version

    # -- layout --------------------------------------------------------------------------
    def space_dir(self, space: Space) -> Path:
        """The live generation of a space (``indexes/<space>/CURRENT`` names it)."""
        base = self.root / space
        pointer = base / CURRENT
        name = pointer.read_text().strip() if pointer.is_file() else "gen-1"
        return base / name

    def switch_generation(self, space: Space, generation: str) -> None:
        """Atomically make ``generation`` the live index of ``space``."""
        base = self.root / space
        base.mkdir(parents=True, exist_ok=True)
        tmp = base / f".{CURRENT}.tmp"
        tmp.write_text(generation)
        os.replace(tmp, base / CURRENT)
        if stored_backend(base / generation) == "milvus":  # its alias follows (atomic there too)
            store = open_store(base / generation, self.settings, self.root.parent, None)
            try:
                publish(store, space)
            finally:
                close_store(store)

    def lexical_dir(self) -> Path:
        return self.root / "lexical"

    def open_lexical(self) -> LexicalIndex | None:
        """The BM25 index for searching; None when disabled or never built.

        Raises LexicalIndexError (or LexicalMismatchError) when it cannot be used as it is.
        """
        if not self.settings.lexical.enabled or not LexicalIndex.exists(self.lexical_dir()):
            return None
        return LexicalIndex.open(self.lexical_dir(), self.settings.lexical.tokenizer_identity)

    # -- models and stores ---------------------------------------------------------------
    def embedder(self, space: Space) -> TextEmbedder | ImageEmbedder:
        return text_embedder(self.embed) if space == "text" else clip_embedder(self.embed)

    def identity(self, space: Space) -> ModelIdentity:
        """What the space's vectors are: the model, and for text how passages were composed."""
        identity = self.embedder(space).identity
        if space == "text" and self.settings.passage_context:
            return replace(identity, passages=CONTEXT_RECIPE)
        return identity

    def open(self, space: Space) -> VectorStore | None:
        """The space's index for searching; None when it was never built.

        Raises ModelMismatchError when it was built with another model than configured.
        """
        directory = self.space_dir(space)
        if not (directory / "manifest.json").is_file():
            return None
        try:
            return open_store(directory, self.settings, self.root.parent, self.identity(space))
        except FileNotFoundError:
            if self.space_dir(space) == directory:
                raise
            return self.open(space)  # switched and deleted while being opened: the new one

    def _open_or_create(self, space: Space, directory: Path) -> VectorStore:
        identity = self.identity(space)
        if (directory / "manifest.json").is_file():
            return open_store(directory, self.settings, self.root.parent, identity)
        return create_store(identity, directory, self.settings, self.root.parent)

    def drop_generation(self, directory: Path) -> None:
        """Delete a generation of an index (files, and a Milvus collection)."""
        drop_generation(directory, self.settings, self.root.parent)

    # -- sync ----------------------------------------------------------------------------
    def sync(
        self,
        progress: Progress | None = None,
        spaces: tuple[Space, ...] = SPACES,
        directory: dict[Space, Path] | None = None,
        lexical: bool = True,
    ) -> list[SyncReport]:
        reports = [
            self._sync_space(space, progress, (directory or {}).get(space)) for space in spaces
        ]
        for space in spaces:
            self.collect_generations(space)
        if lexical and self.settings.lexical.enabled:
            reports.append(self.sync_lexical(progress))
        return reports

    def sync_lexical(self, progress: Progress | None = None) -> SyncReport:
        """Bring the BM25 index in step with the catalog (rebuilt if made another way)."""
        r = sync_lexical(self.catalog, self.lexical_dir(), self.settings.lexical, progress)
        return SyncReport("lexical", r.added, r.removed, r.total, r.seconds)

    def reindex(
        self,
        space: Space,
        embed: EmbedSettings,
        progress: Progress | None = None,
        before_switch: Callable[[], None] | None = None,
    ) -> SyncReport:
        """Rebuild ``space`` with the models of ``embed`` beside the live index, then swap.

        The live generation keeps serving searches while the new one is built; the switch is
        one atomic rename of the ``CURRENT`` pointer, so a crash leaves either index in place.
        ``before_switch`` runs once the new one is built (record the new models there: other
        processes reload them when they see the switch). The old generation is deleted when
        no process reads it any more (now, or by a later reindex, sync or check).
        """
        live = self.space_dir(space)
        target = self.root / space / f"gen-{_generation_number(live.name) + 1}"
        self.drop_generation(target)  # a half-built earlier attempt
        builder = Indexer(embed, self.settings, self.catalog, self.root.parent, bulk=self.bulk)
        report = builder._sync_space(space, progress, target)
        if before_switch is not None:
            before_switch()
        self.switch_generation(space, target.name)
        with self._follow_lock:  # our own switch: nothing to reload, but searchers reopen
            self.embed = embed
            self._seen = store_state(self.root)
            self.version += 1
        self.collect_generations(space)
        return report

    def collect_generations(self, space: Space) -> list[str]:
        """Delete the generations older than the live one that no process has open."""
        base = self.root / space
        live = _generation_number(self.space_dir(space).name)
        removed = []
        old = [d for d in base.glob("gen-*") if d.is_dir() and _generation_number(d.name) < live]
        for directory in old:
            with files.if_unused(directory) as unused:
                if unused:
                    self.drop_generation(directory)
                    removed.append(directory.name)
        return removed

    def _sync_space(
        self, space: Space, progress: Progress | None, directory: Path | None
    ) -> SyncReport:
        start = time.perf_counter()
        target = directory or self.space_dir(space)
        with self.catalog.session() as s:
            wanted = np.fromiter(
                s.scalars(space_ids_query(space, self.settings.embed_images)), dtype=np.int64
            )
        store = None
        have = np.zeros(0, dtype=np.int64)
        if (target / "manifest.json").is_file() or len(wanted):
            store = self._open_or_create(space, target)
            have = store.ids()
        stale = np.setdiff1d(have, wanted, assume_unique=True)
        missing = np.setdiff1d(wanted, have, assume_unique=True)
        if store is None or (not len(stale) and not len(missing)):
            return SyncReport(space, 0, 0, len(have), time.perf_counter() - start)
        if len(stale):
            store.remove(stale)
        done = since_save = 0
        if progress:
            progress(space, 0, len(missing))
        with self._bulk_embedder(space) as embedder:
            for ids, vectors in self._embed_batches(space, missing, embedder):
                store.add(ids, vectors)
                done += len(ids)
                since_save += len(ids)
                if since_save >= SAVE_EVERY:
                    store.save(target)
                    since_save = 0
                if progress:
                    progress(space, done, len(missing))
        store.save(target)
        if target == self.space_dir(space):
            publish(store, space)
        return SyncReport(space, done, len(stale), len(store), time.perf_counter() - start)

    @contextlib.contextmanager
    def _bulk_embedder(self, space: Space) -> Iterator[TextEmbedder | ImageEmbedder]:
        local = self.embedder(space)
        if self.bulk is None:
            yield local
            return
        with self.bulk.open(self.embed, space, local.identity) as embedder:
            yield embedder

    def _embed_batches(
        self,
        space: Space,
        ids: np.ndarray,
        embedder: TextEmbedder | ImageEmbedder,
        batch: int = 256,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for lo in range(0, len(ids), batch):
            chunk_ids = ids[lo : lo + batch].tolist()
            with self.catalog.session() as s:
                rows = s.execute(
                    select(
                        Chunk.id,
                        Chunk.modality,
                        Chunk.text,
                        Chunk.section,
                        Document.title,
                        Asset.thumbnail,
                        Asset.path,
                    )
                    .join(Document, Document.id == Chunk.document_id)
                    .outerjoin(Asset, Asset.chunk_id == Chunk.id)
                    .where(Chunk.id.in_(chunk_ids))
                ).all()
            context = space == "text" and self.settings.passage_context
            texts = [
                (r.id, with_context(r.text, r.title, r.section) if context else r.text)
                for r in rows
                if space == "text" or r.modality != "image"
            ]
            images = [
                (r.id, r.thumbnail, r.path)
                for r in rows
                if space == "clip" and r.modality == "image"
            ]
            if texts:
                vecs = embedder.embed_texts([t for _, t in texts], kind="passage")
                yield np.array([i for i, _ in texts], dtype=np.int64), vecs
            if images:
                assert isinstance(embedder, ImageEmbedder)
                ok_ids, pics = [], []
                for item_id, *paths in images:
                    pic = _load_picture([self.catalog.resolve(p) for p in paths if p])
                    if pic is not None:
                        ok_ids.append(item_id)
                        pics.append(pic)
                if pics:
                    yield np.array(ok_ids, dtype=np.int64), embedder.embed_images(pics)


def _load_picture(candidates: list[Path]) -> Image.Image | None:
    """The first readable of (thumbnail, original): the thumbnail is enough for CLIP (224 px)
    and far faster to decode than a photo."""
    for candidate in candidates:
        if candidate.is_file():
            try:
                with Image.open(candidate) as img:
                    img.seek(0)
                    return img.convert("RGB")
            except OSError as exc:
                log.warning("cannot read image %s: %s", candidate, exc)
    return None


def check_indexes(indexer: Indexer, repair: bool = True) -> list[Finding]:
    """Per space: readable, built with the configured model, in step with the catalog."""
    out: list[Finding] = []
    for space in SPACES:
        try:
            store = indexer.open(space)
        except ModelMismatchError as exc:
            out.append(Finding(f"{space} index model", False, str(exc)))
            continue
        except BackendMismatchError as exc:
            out.append(Finding(f"{space} index backend", False, str(exc)))
            continue
        except IndexCorruptError as exc:
            if repair:  # the catalog holds everything needed to rebuild it
                indexer.drop_generation(indexer.space_dir(space))
            out.append(
                Finding(
                    f"{space} index files",
                    False,
                    f"unreadable ({exc})" + ("; rebuilt from the catalog" if repair else ""),
                    repair,
                )
            )
            store = None
        if repair:
            report = indexer.sync(spaces=(space,), lexical=False)[0]
            changed = bool(report.added or report.removed)
            out.append(
                Finding(
                    f"{space} index vs catalog",
                    not changed,
                    f"{report.total} vectors; added {report.added}, removed {report.removed}",
                    changed,
                )
            )
            continue
        with indexer.catalog.session() as s:
            wanted = np.fromiter(s.scalars(space_ids_query(space)), dtype=np.int64)
        have = store.ids() if store is not None else np.zeros(0, dtype=np.int64)
        missing, extra = len(np.setdiff1d(wanted, have)), len(np.setdiff1d(have, wanted))
        out.append(
            Finding(
                f"{space} index vs catalog",
                not (missing or extra),
                f"{len(have)} vectors; {missing} missing, {extra} stale",
            )
        )
    if indexer.settings.lexical.enabled:
        out += check_lexical(indexer, repair)
    return out


def check_lexical(indexer: Indexer, repair: bool = True) -> list[Finding]:
    """The BM25 index: readable, built with the configured tokenizer, in step with the catalog."""
    try:
        index = indexer.open_lexical()
    except LexicalIndexError as exc:
        if not repair:
            return [Finding("lexical index", False, str(exc))]
        report = indexer.sync_lexical()  # rebuilds it from the catalog
        return [Finding("lexical index", False, f"{exc}; rebuilt ({report.total})", True)]
    if repair:
        report = indexer.sync_lexical()
        changed = bool(report.added or report.removed)
        detail = f"{report.total} items; added {report.added}, removed {report.removed}"
        return [Finding("lexical index vs catalog", not changed, detail, changed)]
    with indexer.catalog.session() as s:
        wanted = np.fromiter(s.scalars(lexical_ids_query()), dtype=np.int64)
    have = index.ids() if index is not None else np.zeros(0, dtype=np.int64)
    missing, extra = len(np.setdiff1d(wanted, have)), len(np.setdiff1d(have, wanted))
    detail = f"{len(have)} items; {missing} missing, {extra} stale"
    return [Finding("lexical index vs catalog", not (missing or extra), detail)]
