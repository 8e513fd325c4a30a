"""Turn item ids and scores into full :class:`SearchResult` s from the catalog."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ingest.catalog import Catalog, Chunk
from ingest.catalog.store import best_paths
from retrieval.types import SearchResult


def hydrate(catalog: Catalog, hits: Sequence[tuple[int, float]]) -> list[SearchResult]:
    """Results in the order of ``hits``; ids no longer in the catalog are dropped."""
    if not hits:
        return []
    ids = [i for i, _ in hits]
    with catalog.session() as s:
        chunks = {
            c.id: c
            for c in s.scalars(
                select(Chunk)
                .where(Chunk.id.in_(ids))
                .options(selectinload(Chunk.asset), selectinload(Chunk.document))
            )
        }
        paths = best_paths(s, {c.document_id for c in chunks.values()})
    out: list[SearchResult] = []
    for item_id, score in hits:
        c = chunks.get(item_id)
        if c is None:
            continue
        asset = c.asset
        out.append(
            SearchResult(
                id=c.id,
                score=float(score),
                modality=c.modality,
                source=paths.get(c.document_id, ""),
                text=c.text,
                page=c.page,
                page_end=c.page_end,
                t_start=c.t_start,
                t_end=c.t_end,
                title=c.document.title,
                section=c.section,
                thumbnail=asset.thumbnail if asset else None,
                image=asset.path if asset else None,
                file_type=c.document.file_type,
                document_id=c.document_id,
                language=c.language,
                char_start=c.char_start,
                char_end=c.char_end,
            )
        )
    return out
