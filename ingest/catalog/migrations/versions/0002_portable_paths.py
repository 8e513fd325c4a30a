"""portable paths: escaped file names, store-internal files relative to the store

Paths are now stored escaped (``ingest.paths``): a literal backslash is doubled. Extracted
images and thumbnails were stored as the reader wrote them (absolute, or relative to the
directory the ingest ran in); they become relative to the store, found by their
content-addressed layout (``assets|thumbnails/ab/<sha256>.<ext>``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 12:00:00
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_INTERNAL = re.compile(r"(?:^|/)((?:assets|thumbnails)/[0-9a-f]{2}/[0-9a-f]{64}\.[A-Za-z0-9]+)$")


def _internal(path: str | None) -> str | None:
    if not path:
        return path
    m = _INTERNAL.search(path.replace("\\", "/"))
    return m.group(1) if m else path


def _escape(path: str | None) -> str | None:
    return path.replace("\\", "\\\\") if path else path


def upgrade() -> None:
    conn = op.get_bind()
    for table, columns in (("files", ("path", "root")), ("file_errors", ("path",))):
        t = sa.table(table, sa.column("id"), *(sa.column(c) for c in columns))
        rows = conn.execute(
            sa.select(t).where(sa.or_(*(t.c[c].contains("\\", autoescape=True) for c in columns)))
        ).all()
        for row in rows:
            values = {c: _escape(getattr(row, c)) for c in columns}
            conn.execute(sa.update(t).where(t.c.id == row.id).values(**values))
    assets = sa.table(
        "assets", sa.column("id"), sa.column("path"), sa.column("thumbnail"), sa.column("extracted")
    )
    for row in conn.execute(sa.select(assets)).all():
        path = _internal(row.path) if row.extracted else _escape(row.path)
        thumbnail = _internal(row.thumbnail)
        if (path, thumbnail) != (row.path, row.thumbnail):
            conn.execute(
                sa.update(assets)
                .where(assets.c.id == row.id)
                .values(path=path, thumbnail=thumbnail)
            )


def downgrade() -> None:
    raise NotImplementedError("paths stay portable")
