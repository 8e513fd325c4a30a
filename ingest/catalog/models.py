"""SQLAlchemy 2.x models of the catalog. The schema is versioned by Alembic migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


class Document(Base):
    """One distinct file content (known by its SHA-256); may live at several paths."""

    __tablename__ = "documents"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - ids are never reused

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # document | image | audio | transcript
    file_type: Mapped[str] = mapped_column(String(16))  # pdf, docx, png, mp3 ...
    size: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    pages: Mapped[int | None] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float)
    file_date: Mapped[datetime | None]  # file modification time (UTC)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    paths: Mapped[list[FileRecord]] = relationship(back_populates="document")
    chunks: Mapped[list[Chunk]] = relationship(
        back_populates="document", cascade="all, delete-orphan", passive_deletes=True
    )


class FileRecord(Base):
    """A path on disk and what the last run learnt about it (fast unchanged detection)."""

    __tablename__ = "files"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    root: Mapped[str] = mapped_column(Text)  # the ingested root it was found under
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))  # ok | failed | skipped
    reason: Mapped[str | None] = mapped_column(Text)
    document_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id", ondelete="SET NULL"), index=True
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    document: Mapped[Document | None] = relationship(back_populates="paths")


class Chunk(Base):
    """A retrievable item: a text chunk, an audio window or an image (see :class:`Asset`)."""

    __tablename__ = "chunks"
    # ids are never reused (AUTOINCREMENT): a FAISS id always means the same item
    __table_args__ = (
        Index("ix_chunks_document_ordinal", "document_id", "ordinal"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(Integer)
    modality: Mapped[str] = mapped_column(String(8), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    page: Mapped[int | None] = mapped_column(Integer)
    page_end: Mapped[int | None] = mapped_column(Integer)
    section: Mapped[str | None] = mapped_column(Text)
    element_types: Mapped[list[str]] = mapped_column(default=list)
    char_start: Mapped[int | None] = mapped_column(Integer)
    char_end: Mapped[int | None] = mapped_column(Integer)
    t_start: Mapped[float | None] = mapped_column(Float)
    t_end: Mapped[float | None] = mapped_column(Float)
    language: Mapped[str | None] = mapped_column(String(8))
    token_count: Mapped[int | None] = mapped_column(Integer)

    document: Mapped[Document] = relationship(back_populates="chunks")
    asset: Mapped[Asset | None] = relationship(
        back_populates="chunk", cascade="all, delete-orphan", passive_deletes=True
    )


class Asset(Base):
    """Image details of an image chunk: the file itself or bytes extracted from a document."""

    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    chunk_id: Mapped[int] = mapped_column(ForeignKey("chunks.id", ondelete="CASCADE"), unique=True)
    path: Mapped[str] = mapped_column(Text)  # original file, or extracted copy in the store
    extracted: Mapped[bool] = mapped_column(default=False)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(16))
    thumbnail: Mapped[str | None] = mapped_column(Text)
    taken_at: Mapped[datetime | None]
    camera: Mapped[str | None] = mapped_column(Text)
    gps_lat: Mapped[float | None] = mapped_column(Float)
    gps_lon: Mapped[float | None] = mapped_column(Float)
    exif: Mapped[dict[str, Any]] = mapped_column(default=dict)

    chunk: Mapped[Chunk] = relationship(back_populates="asset")


class IngestRun(Base):
    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|done|interrupted
    roots: Mapped[list[str]] = mapped_column(default=list)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)


class FileError(Base):
    __tablename__ = "file_errors"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_runs.id", ondelete="SET NULL"))
    path: Mapped[str] = mapped_column(Text, index=True)
    status: Mapped[str] = mapped_column(String(16))  # failed | skipped
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
