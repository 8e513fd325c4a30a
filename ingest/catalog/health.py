"""Consistency checks of the catalog and the files it points at, with safe repairs."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select, text, update

from ingest.catalog.models import Asset, FileRecord, IngestRun, utcnow
from ingest.catalog.store import Catalog

STALE_TMP_S = 3600.0


@dataclass(slots=True)
class Finding:
    check: str
    ok: bool
    detail: str
    repaired: bool = False


def check_catalog(catalog: Catalog, store_dir: Path, repair: bool = True) -> list[Finding]:
    out: list[Finding] = []
    with catalog.engine.connect() as conn:
        if catalog.engine.dialect.name == "sqlite":
            result = conn.execute(text("PRAGMA integrity_check")).scalar()
            out.append(Finding("database integrity", result == "ok", str(result)))
            bad_fk = conn.execute(text("PRAGMA foreign_key_check")).all()
            out.append(Finding("foreign keys", not bad_fk, f"{len(bad_fk)} dangling reference(s)"))
    with catalog.session.begin() as s:
        dangling = s.scalars(
            select(FileRecord.path).where(
                FileRecord.status == "ok", FileRecord.document_id.is_(None)
            )
        ).all()
        if dangling and repair:  # forgetting them makes the next ingest read them again
            s.execute(delete(FileRecord).where(FileRecord.path.in_(dangling)))
        out.append(
            Finding(
                "files without document",
                not dangling,
                f"{len(dangling)} file record(s)",
                repaired=bool(dangling and repair),
            )
        )
        stuck = s.scalars(select(IngestRun.id).where(IngestRun.status == "running")).all()
        if stuck and repair:
            s.execute(
                update(IngestRun)
                .where(IngestRun.id.in_(stuck))
                .values(status="interrupted", finished_at=utcnow())
            )
        out.append(
            Finding(
                "unfinished ingest runs",
                not stuck,
                f"{len(stuck)} run(s) marked interrupted" if stuck else "none",
                repaired=bool(stuck and repair),
            )
        )
        missing_assets = [
            p for p in s.scalars(select(Asset.path)) if not catalog.resolve(p).is_file()
        ]
        out.append(
            Finding(
                "image files present",
                not missing_assets,
                f"{len(missing_assets)} missing (re-ingest or --prune)"
                if missing_assets
                else "all present",
            )
        )
    leftovers = [
        p
        for d in ("assets", "thumbnails")
        if (store_dir / d).is_dir()
        for p in (store_dir / d).rglob(".tmp-*")
        if time.time() - p.stat().st_mtime > STALE_TMP_S
    ]
    if leftovers and repair:
        for p in leftovers:
            p.unlink(missing_ok=True)
    out.append(
        Finding(
            "temporary files",
            not leftovers,
            f"{len(leftovers)} left by a crash",
            repaired=bool(leftovers and repair),
        )
    )
    return out
