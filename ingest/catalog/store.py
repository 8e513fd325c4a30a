"""The catalog: documents, files, items and runs in any SQLAlchemy database (SQLite by default,
PostgreSQL for a shared catalog: ``store.database_url = "postgresql+psycopg://..."``).

Within one ingest only the main process writes; each file is stored in one transaction, so a
killed run leaves every file either fully stored or absent. Several ingests may write one
PostgreSQL catalog at once: a transaction that loses a race on the same content or path (a
unique key) is retried, and then finds the winner's row.

Paths of the user's files are stored absolute and escaped (:mod:`ingest.paths`: any file name,
UTF-8 or not, as valid text); files the store itself holds (extracted images, thumbnails) are
stored relative to the store directory and read back absolute, so a store can be copied, moved
or opened from any working directory.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ParamSpec, TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, delete, event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryContext, Session, joinedload, selectinload, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from ingest.catalog.models import (
    Asset,
    Chunk,
    Document,
    FileError,
    FileRecord,
    IngestRun,
    utcnow,
)
from ingest.paths import as_path, escape, readable
from ingest.types import ParsedDocument, reader_of

MIGRATIONS = Path(__file__).parent / "migrations"
_RACE_RETRIES = 3
P = ParamSpec("P")
R = TypeVar("R")


def _retry_races(write: Callable[P, R]) -> Callable[P, R]:
    """Run a write transaction again when another writer committed the same unique key first
    (two ingests storing one content or one path); the retry sees that row and links to it."""

    @functools.wraps(write)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(_RACE_RETRIES):
            try:
                return write(*args, **kwargs)
            except IntegrityError:
                if attempt == _RACE_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    return run


@dataclass(frozen=True, slots=True)
class FileStat:
    path: Path
    root: Path
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path, root: Path) -> FileStat:
        st = path.stat()
        return cls(path, root, st.st_size, st.st_mtime_ns)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _sqlite_store_dir(url: str) -> Path | None:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///")).resolve().parent
    return None


class Catalog:
    """Typed access to the catalog database.

    ``store_dir`` is where store-internal paths (extracted images, thumbnails) are relative
    to; by default the folder of a SQLite catalog file.
    """

    def __init__(self, url: str, *, create: bool = True, store_dir: Path | None = None) -> None:
        self.url = url
        self.store_dir = Path(store_dir).resolve() if store_dir else _sqlite_store_dir(url)
        self.engine = make_engine(url)
        if create:
            migrate(self.engine)
        self.session = sessionmaker(
            self.engine, expire_on_commit=False, info={"store_dir": self.store_dir}
        )

    def resolve(self, stored: str) -> Path:
        """The file a stored path names: store-internal ones are relative to the store."""
        path = as_path(stored)
        if path.is_absolute() or self.store_dir is None:
            return path
        return self.store_dir / path

    def _internal(self, path: Path | None) -> str | None:
        """How a file written by a reader is recorded: relative when it lies in the store."""
        if path is None:
            return None
        if self.store_dir is not None:
            real = Path(os.path.abspath(path))
            if real.is_relative_to(self.store_dir):
                return real.relative_to(self.store_dir).as_posix()
        return escape(path)

    def close(self) -> None:
        self.engine.dispose()

    # -- runs ----------------------------------------------------------------------------
    def begin_run(self, roots: Iterable[Path]) -> int:
        with self.session.begin() as s:
            s.execute(
                update(IngestRun)
                .where(IngestRun.status == "running")
                .values(status="interrupted", finished_at=utcnow())
            )
            run = IngestRun(roots=[escape(r) for r in roots])
            s.add(run)
            s.flush()
            return run.id

    def finish_run(self, run_id: int, status: str, counts: dict[str, int]) -> None:
        with self.session.begin() as s:
            s.execute(
                update(IngestRun)
                .where(IngestRun.id == run_id)
                .values(status=status, counts=counts, finished_at=utcnow())
            )

    # -- lookups -------------------------------------------------------------------------
    def file_record(self, path: Path) -> FileRecord | None:
        """The record of ``path`` with its document (one query: every file of a run asks)."""
        with self.session() as s:
            return s.scalar(
                select(FileRecord)
                .options(joinedload(FileRecord.document))
                .where(FileRecord.path == escape(path))
            )

    def document_id_by_hash(self, sha256: str) -> int | None:
        with self.session() as s:
            return s.scalar(select(Document.id).where(Document.sha256 == sha256))

    def document(self, document_id: int) -> Document | None:
        with self.session() as s:
            return s.get(Document, document_id, options=[selectinload(Document.paths)])

    def counts(self) -> dict[str, int]:
        with self.session() as s:
            by_modality = dict(
                s.execute(select(Chunk.modality, func.count()).group_by(Chunk.modality)).all()
            )
            return {
                "documents": s.scalar(select(func.count(Document.id))) or 0,
                "files": s.scalar(select(func.count(FileRecord.id))) or 0,
                "failed": s.scalar(
                    select(func.count(FileRecord.id)).where(FileRecord.status == "failed")
                )
                or 0,
                **{m: int(n) for m, n in by_modality.items()},
            }

    # -- writes --------------------------------------------------------------------------
    def _upsert_file(
        self,
        s: Session,
        st: FileStat,
        sha256: str,
        status: str,
        reason: str | None,
        document_id: int | None,
    ) -> int | None:
        """Point ``st.path`` at ``document_id``; returns the document it pointed at before."""
        path = escape(st.path)
        rec = s.scalar(select(FileRecord).where(FileRecord.path == path))
        previous = rec.document_id if rec else None
        if rec is None:
            rec = FileRecord(path=path)
            s.add(rec)
        rec.root, rec.size, rec.mtime_ns, rec.sha256 = escape(st.root), st.size, st.mtime_ns, sha256
        rec.status, rec.reason, rec.document_id = status, _text(reason), document_id
        return previous

    def _drop_if_orphan(self, s: Session, document_id: int | None) -> bool:
        if document_id is None:
            return False
        s.flush()
        still_used = s.scalar(
            select(func.count(FileRecord.id)).where(FileRecord.document_id == document_id)
        )
        if still_used:
            return False
        s.execute(delete(Document).where(Document.id == document_id))
        return True

    @_retry_races
    def store_document(
        self, st: FileStat, sha256: str, file_type: str, parsed: ParsedDocument
    ) -> tuple[int, bool, bool]:
        """Store a parsed file in one transaction; returns (document id, replaced older content
        at this path, read again).

        Content already stored by an older reader (``meta["reader"]`` lower than the parsed
        one's) is read again: filled anew in place, same document, new items (new ids, so the
        indexes drop the old vectors and embed the new ones on their next sync)."""
        with self.session.begin() as s:
            doc = s.scalar(select(Document).where(Document.sha256 == sha256))
            if doc is not None and reader_of(doc.meta) >= reader_of(parsed.metadata):
                # identical content stored meanwhile: only link the path
                previous = self._upsert_file(s, st, sha256, "ok", None, doc.id)
                if previous not in (None, doc.id):
                    self._drop_if_orphan(s, previous)
                return doc.id, False, False
            reread = doc is not None
            if doc is None:
                doc = Document(sha256=sha256)
            else:
                s.execute(delete(Chunk).where(Chunk.document_id == doc.id))  # assets cascade
                s.expire(doc, ["chunks"])
            doc.kind, doc.file_type, doc.size = parsed.kind, file_type, st.size
            doc.title, doc.language = _text(parsed.title), parsed.language
            doc.pages, doc.duration_s = parsed.pages, parsed.duration_s
            doc.file_date = datetime.fromtimestamp(st.mtime_ns / 1e9, UTC).replace(tzinfo=None)
            doc.meta = {
                **parsed.metadata,
                **({"warnings": [_text(w) for w in parsed.warnings]} if parsed.warnings else {}),
            }
            for ordinal, item in enumerate(parsed.items):
                chunk = Chunk(
                    ordinal=ordinal,
                    modality=item.modality.value,
                    text=_text(item.text) or "",
                    page=item.page,
                    page_end=item.page_end,
                    section=_text(item.section),
                    element_types=item.element_types,
                    char_start=item.char_start,
                    char_end=item.char_end,
                    t_start=item.t_start,
                    t_end=item.t_end,
                    language=item.language,
                    token_count=item.token_count,
                )
                if item.image is not None:
                    img = item.image
                    extracted = img.asset_path != st.path
                    chunk.asset = Asset(
                        path=self._internal(img.asset_path) if extracted else escape(st.path),
                        extracted=extracted,
                        sha256=img.sha256,
                        width=img.width,
                        height=img.height,
                        format=img.format,
                        thumbnail=self._internal(img.thumbnail_path),
                        taken_at=_parse_iso(img.taken_at),
                        camera=img.camera,
                        gps_lat=img.gps[0] if img.gps else None,
                        gps_lon=img.gps[1] if img.gps else None,
                        exif=img.exif,
                    )
                doc.chunks.append(chunk)
            s.add(doc)
            s.flush()
            previous = self._upsert_file(s, st, sha256, "ok", None, doc.id)
            replaced = previous is not None and previous != doc.id
            if replaced:
                self._drop_if_orphan(s, previous)
            return doc.id, replaced, reread

    @_retry_races
    def link_path(self, st: FileStat, sha256: str, document_id: int) -> None:
        """Known content at a (new) path: record it without parsing anything."""
        with self.session.begin() as s:
            previous = self._upsert_file(s, st, sha256, "ok", None, document_id)
            if previous != document_id:
                self._drop_if_orphan(s, previous)

    @_retry_races
    def record_problem(
        self, run_id: int | None, st: FileStat, sha256: str, status: str, reason: str
    ) -> None:
        """Remember a failed or skipped file (and drop what an older version of it left)."""
        with self.session.begin() as s:
            previous = self._upsert_file(s, st, sha256, status, reason, None)
            self._drop_if_orphan(s, previous)
            s.add(
                FileError(
                    run_id=run_id, path=escape(st.path), status=status, reason=_text(reason) or ""
                )
            )

    def prune(self, roots: Iterable[Path]) -> list[Path]:
        """Forget files under ``roots`` that are gone from disk; returns their paths."""
        removed: list[Path] = []
        with self.session.begin() as s:
            for root in roots:
                prefix = escape(root).rstrip(os.sep) + os.sep
                rows = s.scalars(
                    select(FileRecord).where(
                        (FileRecord.root == escape(root))
                        | FileRecord.path.startswith(prefix, autoescape=True)
                    )
                ).all()
                for rec in rows:
                    path = as_path(rec.path)
                    if not path.exists():
                        removed.append(path)
                        doc_id = rec.document_id
                        s.delete(rec)
                        self._drop_if_orphan(s, doc_id)
        return removed

    def delete_document(self, document_id: int) -> list[str]:
        """Remove a document and all its paths from the store; returns the forgotten paths."""
        with self.session.begin() as s:
            paths = list(
                s.scalars(select(FileRecord.path).where(FileRecord.document_id == document_id))
            )
            s.execute(delete(FileRecord).where(FileRecord.document_id == document_id))
            s.execute(delete(Document).where(Document.id == document_id))
            return paths

    # -- reading items -------------------------------------------------------------------
    def iter_chunks(self, batch: int = 1000, modality: str | None = None) -> Iterator[Chunk]:
        """Stream every item (with its asset), ordered by id, without loading all at once."""
        last = 0
        while True:
            with self.session() as s:
                q = select(Chunk).where(Chunk.id > last).order_by(Chunk.id).limit(batch)
                if modality:
                    q = q.where(Chunk.modality == modality)
                rows = s.scalars(q.options(selectinload(Chunk.asset))).all()
            if not rows:
                return
            yield from rows
            last = rows[-1].id


def _text(value: str | None) -> str | None:
    # NUL carries nothing searchable, and PostgreSQL text cannot hold it
    return None if value is None else readable(value).replace("\x00", "")


@event.listens_for(Asset, "load")
def _absolute_asset_paths(asset: Asset, context: QueryContext) -> None:
    """Store-internal paths are relative to the store: hand them out absolute."""
    store_dir = context.session.info.get("store_dir") if context.session else None
    if store_dir is None:
        return
    for key in ("path", "thumbnail"):
        value = getattr(asset, key)
        if value and not Path(value).is_absolute():
            set_committed_value(asset, key, escape(store_dir / value))


def _parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def best_paths(session: Session, document_ids: Iterable[int]) -> dict[int, str]:
    """One (escaped) path per document: an existing one, most recently seen first."""
    rows = session.execute(
        select(FileRecord.document_id, FileRecord.path)
        .where(FileRecord.document_id.in_(list(document_ids)))
        .order_by(FileRecord.updated_at.desc())
    ).all()
    out: dict[int, str] = {}
    for doc_id, path in rows:
        if doc_id not in out or (not as_path(out[doc_id]).exists() and as_path(path).exists()):
            out[doc_id] = path
    return out
