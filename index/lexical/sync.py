"""Keep the lexical index in step with the catalog (called by ``Indexer.sync``).

Like the vector indexes it is derived data: ``sync`` diffs the ids the index holds against
the text-bearing items of the catalog, deletes the stale, tokenises and adds only the missing,
and commits; after a crash the next sync finishes the job. An index built with another
tokenizer, or unreadable, is rebuilt from the catalog.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import Select, select

from index.lexical.config import LexicalSettings
from index.lexical.store import LexicalIndex, LexicalIndexError, joined
from index.passage import context_parts
from ingest.catalog import Catalog, Chunk, Document

log = logging.getLogger(__name__)
BATCH = 1000
COMMIT_EVERY = 50_000  # rows between intermediate commits: a killed sync loses little work

Progress = Callable[[str, int, int], None]


@dataclass(slots=True)
class LexicalSync:
    added: int
    removed: int
    total: int
    seconds: float
    rebuilt: str | None = None  # why the index was rebuilt from scratch, if it was


def lexical_ids_query() -> Select[tuple[int]]:
    """The items the lexical index holds: every one with text (chunks, OCR, transcripts)."""
    return select(Chunk.id).where(Chunk.text != "").order_by(Chunk.id)


def open_or_rebuild(directory: Path, settings: LexicalSettings) -> tuple[LexicalIndex, str | None]:
    ident = settings.tokenizer_identity
    if not LexicalIndex.exists(directory):
        return LexicalIndex.create(directory, ident), None
    try:
        return LexicalIndex.open(directory, ident), None
    except LexicalIndexError as exc:
        log.warning("rebuilding the lexical index: %s", exc)
        return LexicalIndex.create(directory, ident), str(exc)


def sync_lexical(
    catalog: Catalog,
    directory: Path,
    settings: LexicalSettings,
    progress: Progress | None = None,
) -> LexicalSync:
    start = time.perf_counter()
    index, rebuilt = open_or_rebuild(directory, settings)
    with catalog.session() as s:
        wanted = np.fromiter(s.scalars(lexical_ids_query()), dtype=np.int64)
    have = index.ids()
    stale = np.setdiff1d(have, wanted, assume_unique=True)
    missing = np.setdiff1d(wanted, have, assume_unique=True)
    if not len(stale) and not len(missing):
        return LexicalSync(0, 0, len(have), time.perf_counter() - start, rebuilt)
    tok = settings.analyzer
    try:
        index.remove(stale)
        done = since_commit = 0
        if progress:
            progress("lexical", 0, len(missing))
        for lo in range(0, len(missing), BATCH):
            ids = missing[lo : lo + BATCH].tolist()
            with catalog.session() as s:
                rows = s.execute(
                    select(Chunk.id, Chunk.text, Chunk.section, Document.title)
                    .join(Document, Document.id == Chunk.document_id)
                    .where(Chunk.id.in_(ids))
                ).all()
            bodies = [joined(tok.tokens(r.text)) for r in rows]
            contexts = [
                joined(tok.tokens(" ".join(context_parts(r.title, r.section))))
                if settings.context
                else ""
                for r in rows
            ]
            index.add([r.id for r in rows], bodies, contexts)
            done += len(rows)
            since_commit += len(rows)
            if since_commit >= COMMIT_EVERY:
                index.commit()
                since_commit = 0
            if progress:
                progress("lexical", done, len(missing))
        index.commit()
    except BaseException:
        index.rollback()
        raise
    return LexicalSync(done, len(stale), len(index), time.perf_counter() - start, rebuilt)
