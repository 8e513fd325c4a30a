"""Stage 1: discover, parse and chunk files into the catalog.

>>> from ingest import Pipeline, IngestSettings, StoreSettings
>>> for result in Pipeline(IngestSettings(), StoreSettings(dir=".mmrag")).ingest(["~/Documents"]):
...     print(result.status, result.path)
"""

from ingest.config import IngestSettings, StoreSettings, TranscriberSettings
from ingest.pipeline import Pipeline
from ingest.types import FileResult, FileStatus, Item, Modality, ParsedDocument

__all__ = [
    "FileResult",
    "FileStatus",
    "IngestSettings",
    "Item",
    "Modality",
    "ParsedDocument",
    "Pipeline",
    "StoreSettings",
    "TranscriberSettings",
]
