"""What every reader gets: settings, where to write derived files, and the token counter."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ingest.config import IngestSettings
from ingest.tokens import TokenCounter, counter_for


@dataclass(slots=True)
class ReadContext:
    settings: IngestSettings
    store_dir: Path

    @property
    def assets_dir(self) -> Path:
        return self.store_dir / "assets"

    @property
    def thumbnails_dir(self) -> Path:
        return self.store_dir / "thumbnails"

    @property
    def counter(self) -> TokenCounter:
        return counter_for(self.settings.tokenizer)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def write_atomic(path: Path, data: bytes) -> Path:
    """Write bytes to ``path`` via a temp file and rename: readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return path  # content-addressed: same name, same bytes
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
