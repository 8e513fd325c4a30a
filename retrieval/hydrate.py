"""Turn item ids and scores into full :class:`SearchResult` s from the catalog."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from ingest.catalog import Asset, Catalog, Chunk, Document
from ingest.catalog.store import best_paths
from ingest.paths import escape
from retrieval.types import SearchResult

# one flat query (no ORM objects): a search hydrates a hundred candidates or more
_COLUMNS = (
    Chunk.id,
    Chunk.modality,
    Chunk.text,
    Chunk.page,
    Chunk.page_end,
    Chunk.t_start,
    Chunk.t_end,
    Chunk.section,
    Chunk.document_id,
    Chunk.language,
    Chunk.char_start,
    Chunk.char_end,
    Document.title,
    Document.file_type,
    Asset.path.label("asset_path"),
    Asset.thumbnail,
)


def hydrate(catalog: Catalog, hits: Sequence[tuple[int, float]]) -> list[SearchResult]:
    """Results in the order of ``hits``; ids no longer in the catalog are dropped."""
    if not hits:
        return []
    with catalog.session() as s:
        rows = {
            r.id: r
            for r in s.execute(
                select(*_COLUMNS)
                .join(Document, Document.id == Chunk.document_id)
                .outerjoin(Asset, Asset.chunk_id == Chunk.id)
                .where(Chunk.id.in_([i for i, _ in hits]))
            )
        }
        paths = best_paths(s, {r.document_id for r in rows.values()})
    out: list[SearchResult] = []
    for item_id, score in hits:
        r = rows.get(item_id)
        if r is None:
            continue
        out.append(
            SearchResult(
                id=r.id,
                score=float(score),
                modality=r.modality,
                source=paths.get(r.document_id, ""),
                text=r.text,
                page=r.page,
                page_end=r.page_end,
                t_start=r.t_start,
                t_end=r.t_end,
                title=r.title,
                section=r.section,
                thumbnail=_in_store(catalog, r.thumbnail),
                image=_in_store(catalog, r.asset_path),
                file_type=r.file_type,
                document_id=r.document_id,
                language=r.language,
                char_start=r.char_start,
                char_end=r.char_end,
            )
        )
    return out


def _in_store(catalog: Catalog, stored: str | None) -> str | None:
    """Store-internal files are recorded relative to the store: hand them out absolute."""
    return escape(catalog.resolve(stored)) if stored else None
