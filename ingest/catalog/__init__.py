"""The catalog database (SQLAlchemy) behind every mmrag store."""

from ingest.catalog.models import Asset, Chunk, Document, FileError, FileRecord, IngestRun
from ingest.catalog.store import Catalog, FileStat

__all__ = [
    "Asset",
    "Catalog",
    "Chunk",
    "Document",
    "FileError",
    "FileRecord",
    "FileStat",
    "IngestRun",
]
