"""Search filters, resolved to the set of catalog ids they allow."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import date, datetime, time

import numpy as np
from sqlalchemy import func, select

from ingest.catalog import Asset, Catalog, Chunk, Document, FileRecord
from ingest.paths import display

MODALITIES = ("text", "image", "audio")


@dataclass(frozen=True, slots=True)
class Filters:
    modalities: tuple[str, ...] = ()  # empty: all
    file_types: tuple[str, ...] = ()  # pdf, docx, png ...
    # matched against the full path as stored and as people read it, e.g. "*/reports/*"
    path_glob: str | None = None
    date_from: date | None = None  # EXIF date for photos, else the file's modification date
    date_to: date | None = None
    languages: tuple[str, ...] = ()
    exclude_ids: tuple[int, ...] = field(default=())

    @property
    def active(self) -> bool:
        return bool(self.restricts_beyond_modality or self.modalities)

    @property
    def restricts_beyond_modality(self) -> bool:
        return bool(
            self.file_types
            or self.path_glob
            or self.date_from
            or self.date_to
            or self.languages
            or self.exclude_ids
        )


def allowed_ids(catalog: Catalog, filters: Filters) -> np.ndarray | None:
    """Sorted ids passing ``filters``; None when nothing is filtered."""
    if not filters.active:
        return None
    q = select(Chunk.id).join(Document, Document.id == Chunk.document_id)
    if filters.modalities:
        q = q.where(Chunk.modality.in_(filters.modalities))
    if filters.file_types:
        q = q.where(Document.file_type.in_([t.lower().lstrip(".") for t in filters.file_types]))
    if filters.languages:
        q = q.where(func.coalesce(Chunk.language, Document.language).in_(filters.languages))
    if filters.date_from or filters.date_to:
        q = q.outerjoin(Asset, Asset.chunk_id == Chunk.id)
        when = func.coalesce(Asset.taken_at, Document.file_date)
        if filters.date_from:
            q = q.where(when >= datetime.combine(filters.date_from, time.min))
        if filters.date_to:
            q = q.where(when <= datetime.combine(filters.date_to, time.max))
    if filters.exclude_ids:
        q = q.where(Chunk.id.not_in(filters.exclude_ids))
    with catalog.session() as s:
        if filters.path_glob:
            pattern = filters.path_glob
            docs = [
                d
                for d, p in s.execute(select(FileRecord.document_id, FileRecord.path))
                if d is not None and (_matches(p, pattern) or _matches(display(p), pattern))
            ]
            q = q.where(Chunk.document_id.in_(set(docs)))
        return np.fromiter(s.scalars(q.order_by(Chunk.id)), dtype=np.int64)


def _matches(path: str, pattern: str) -> bool:
    # a bare word ("reports") finds it anywhere in the path, as people type it
    return fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, f"*{pattern}*")
