"""Typed records that flow out of the ingest stage.

A parser turns one file into a :class:`ParsedDocument`: a list of retrievable
:class:`Item` s (text chunks, audio segments, images) each carrying exact provenance.
The pipeline stores them in the catalog and reports a :class:`FileResult` per file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ingest.paths import escape, readable


class Modality(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"


class FileStatus(StrEnum):
    INGESTED = "ingested"  # parsed and stored (new file)
    UPDATED = "updated"  # content changed: old items replaced
    UNCHANGED = "unchanged"  # same path, size and mtime, or same content hash at the same path
    MOVED = "moved"  # known content found at a new path: catalog updated, nothing parsed
    SKIPPED = "skipped"  # not attempted (too large, unsupported, sidecar, known failure)
    FAILED = "failed"  # attempted and could not be read
    REMOVED = "removed"  # gone from disk and pruned from the store


@dataclass(slots=True)
class Element:
    """One structural element of a document, as a parser saw it."""

    text: str
    type: str  # unstructured category: Title, NarrativeText, ListItem, Table, ...
    page: int | None = None
    depth: int = 0  # heading depth for titles (0 = top level)


@dataclass(slots=True)
class ImageInfo:
    """Image-specific facts of an IMAGE item."""

    asset_path: Path  # the original image file, or extracted bytes saved in the store
    width: int
    height: int
    format: str
    sha256: str
    thumbnail_path: Path | None = None
    taken_at: str | None = None  # EXIF DateTimeOriginal, ISO 8601
    camera: str | None = None
    gps: tuple[float, float] | None = None  # (lat, lon) in decimal degrees
    exif: dict[str, Any] = field(default_factory=dict)


SECTION_SEPARATOR = " > "  # between the headings of a section path ("Chapter 5 > 5.1. Setup")


@dataclass(slots=True)
class Item:
    """A retrievable unit: a text chunk, an audio window or an image."""

    modality: Modality
    text: str  # chunk text; OCR text for images; transcript for audio
    page: int | None = None
    page_end: int | None = None
    section: str | None = None  # heading path, SECTION_SEPARATOR between headings
    element_types: list[str] = field(default_factory=list)
    char_start: int | None = None  # offsets in the document's extracted text
    char_end: int | None = None
    t_start: float | None = None
    t_end: float | None = None
    language: str | None = None
    token_count: int | None = None
    image: ImageInfo | None = None


@dataclass(slots=True)
class ParsedDocument:
    """Everything one parser produced for one file."""

    kind: str  # document | image | audio | transcript
    items: list[Item]
    title: str | None = None
    language: str | None = None
    pages: int | None = None
    duration_s: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def reader_of(metadata: dict[str, Any] | None) -> int:
    """The version of the reader that produced a document's items (``metadata["reader"]``;
    documents stored before versions were recorded count as 1)."""
    return int((metadata or {}).get("reader", 1))


@dataclass(slots=True)
class FileResult:
    """The outcome of ingesting one file, as yielded by :meth:`ingest.Pipeline.ingest`."""

    path: Path
    status: FileStatus
    chunks: int = 0
    images: int = 0
    reason: str | None = None  # why it failed, was skipped or was read again
    document_id: int | None = None
    seconds: float = 0.0
    pages: int | None = None
    warnings: list[str] = field(default_factory=list)
    reread: bool = False  # unchanged content read again by a newer reader (kept if that failed)

    @property
    def ok(self) -> bool:
        return self.status not in (FileStatus.FAILED,)

    @property
    def name(self) -> str:
        """The file name for people (a name that is not UTF-8 decoded by guessing)."""
        return readable(self.path.name)

    def to_json(self) -> dict[str, Any]:
        """``path`` is exact (escaped like the catalog's, see ingest.paths); ``display`` is
        readable."""
        return {
            "path": escape(self.path),
            "display": readable(self.path),
            "status": self.status.value,
            "chunks": self.chunks,
            "images": self.images,
            "pages": self.pages,
            "reason": None if self.reason is None else readable(self.reason),
            "warnings": [readable(w) for w in self.warnings],
            "document_id": self.document_id,
            "seconds": round(self.seconds, 3),
            "reread": self.reread,
        }


class IngestError(Exception):
    """A file could not be ingested; the message is shown to the user as the reason."""
