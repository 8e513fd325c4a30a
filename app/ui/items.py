"""Read-only catalog queries the pages need: item details, context, facets, library tables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from index.indexer import SPACES, Indexer
from ingest.catalog import Asset, Catalog, Chunk, Document, FileError, FileRecord
from ingest.catalog.store import best_paths
from ingest.paths import display_name
from retrieval.hydrate import hydrate
from retrieval.types import SearchResult


@dataclass(slots=True)
class ItemDetail(SearchResult):
    """A search result with what the item dialog adds: image metadata and neighbouring items."""

    ordinal: int = 0
    width: int | None = None
    height: int | None = None
    camera: str | None = None
    taken_at: str | None = None
    gps: tuple[float, float] | None = None
    exif: dict[str, Any] = field(default_factory=dict)
    before: list[str] = field(default_factory=list)  # texts of the previous items
    after: list[str] = field(default_factory=list)


def item_detail(catalog: Catalog, item_id: int, context: int = 1) -> ItemDetail | None:
    """Item ``item_id`` as :func:`hydrate` returns it, with ``context`` neighbours each side."""
    found = hydrate(catalog, [(int(item_id), 0.0)])
    if not found:
        return None
    base = found[0]
    with catalog.session() as s:
        c = s.scalar(select(Chunk).where(Chunk.id == base.id).options(selectinload(Chunk.asset)))
        if c is None:  # deleted in between
            return None
        around = s.execute(
            select(Chunk.ordinal, Chunk.text)
            .where(
                Chunk.document_id == c.document_id,
                Chunk.ordinal.between(c.ordinal - context, c.ordinal + context),
                Chunk.ordinal != c.ordinal,
                Chunk.modality == c.modality,
            )
            .order_by(Chunk.ordinal)
        ).all()
        a: Asset | None = c.asset
        return ItemDetail(
            **{f.name: getattr(base, f.name) for f in fields(SearchResult)},
            ordinal=c.ordinal,
            width=a.width if a else None,
            height=a.height if a else None,
            camera=a.camera if a else None,
            taken_at=a.taken_at.isoformat(sep=" ") if a and a.taken_at else None,
            gps=(a.gps_lat, a.gps_lon) if a and a.gps_lat is not None else None,
            exif=dict(a.exif or {}) if a else {},
            before=[t for o, t in around if o < c.ordinal and t],
            after=[t for o, t in around if o > c.ordinal and t],
        )


@dataclass(frozen=True, slots=True)
class Facets:
    """Values the search filters offer, from what the store holds."""

    file_types: list[str]
    folders: list[str]
    first_date: date | None
    last_date: date | None


def facets(catalog: Catalog) -> Facets:
    with catalog.session() as s:
        types = sorted(s.scalars(select(Document.file_type).distinct()))
        paths = list(s.scalars(select(FileRecord.path).where(FileRecord.document_id.isnot(None))))
        lo, hi = s.execute(select(func.min(Document.file_date), func.max(Document.file_date))).one()
        alo, ahi = s.execute(select(func.min(Asset.taken_at), func.max(Asset.taken_at))).one()
    folders = sorted({str(Path(p).parent) for p in paths})
    dates = [d for d in (lo, hi, alo, ahi) if d is not None]
    return Facets(
        types,
        folders,
        min(dates).date() if dates else None,
        max(dates).date() if dates else None,
    )


def any_title(catalog: Catalog) -> str | None:
    """The title of some document of the store (None when it holds none with a title)."""
    with catalog.session() as s:
        return s.scalar(
            select(Document.title).where(Document.title.isnot(None), Document.title != "").limit(1)
        )


def documents(catalog: Catalog) -> list[dict[str, Any]]:
    """One row per document for the Library table."""
    with catalog.session() as s:
        counts = dict(
            s.execute(select(Chunk.document_id, func.count()).group_by(Chunk.document_id)).all()
        )
        docs = s.scalars(select(Document).order_by(Document.id)).all()
        paths = best_paths(s, [d.id for d in docs])
    return [
        {
            "id": d.id,
            "name": display_name(paths.get(d.id, "")) or d.title or str(d.id),
            "title": d.title or "",
            "type": d.file_type,
            "kind": d.kind,
            "items": counts.get(d.id, 0),
            "pages": d.pages,
            "size_kb": round(d.size / 1024, 1),
            "date": d.file_date,
            "path": paths.get(d.id, ""),
        }
        for d in docs
    ]


def file_errors(catalog: Catalog, limit: int = 500) -> list[dict[str, Any]]:
    """Files that failed or were skipped, as their last record says (newest first)."""
    with catalog.session() as s:
        rows = s.execute(
            select(FileError.path, FileError.status, FileError.reason, FileError.created_at)
            .order_by(FileError.id.desc())
            .limit(limit)
        ).all()
    seen: set[str] = set()
    out = []
    for path, status, reason, when in rows:
        if path not in seen:
            seen.add(path)
            out.append({"path": path, "status": status, "reason": reason, "when": when})
    return out


def index_stats(indexer: Indexer) -> dict[str, dict[str, Any]]:
    """Vectors, model and size on disk of each index space."""
    out: dict[str, dict[str, Any]] = {}
    for space in SPACES:
        store = indexer.open(space)
        if store is None:
            continue
        directory = indexer.space_dir(space)
        size = sum(f.stat().st_size for f in directory.iterdir() if f.is_file())
        out[space] = {
            "vectors": len(store),
            "mb": round(size / 2**20, 2),
            "model": store.identity.name,
            "dim": store.identity.dim,
            "factory": store.factory,
        }
    return out


def disk_mb(path: Path) -> float:
    total = 0
    for dirpath, _, names in os.walk(path):
        for n in names:
            try:
                total += os.path.getsize(os.path.join(dirpath, n))
            except OSError:
                continue
    return round(total / 2**20, 1)
