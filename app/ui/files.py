"""What the UI may read from disk and what it accepts as uploads.

The UI serves a file only when (1) the catalog knows that exact path (an ingested file, an
image extracted from one, or its thumbnail) or it lies in the uploads folder, and (2) its real
location, symlinks resolved, lies inside one of the store's ingested roots, the store itself or
the uploads folder. Item ids, never paths, travel through URLs and widgets; paths come from the
catalog (escaped, see :mod:`ingest.paths`) and are checked again here before anything is read.
"""

from __future__ import annotations

import io
import os
import re
import time
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image
from sqlalchemy import or_, select

from ingest.catalog import Asset, Catalog, FileRecord
from ingest.detect import AUDIO_TYPES, EXTENSIONS, IMAGE_TYPES, TEXT_TYPES, detect
from ingest.paths import as_path, escape

MB = 1024 * 1024
INGEST_TYPES = frozenset(EXTENSIONS.values())
QUERY_IMAGE_TYPES = frozenset({"png", "jpeg", "webp", "gif", "bmp"})
MAX_QUERY_PIXELS = 40_000_000  # a decompression bomb is refused before it is decoded
MIME = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "tiff": "image/tiff",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "html": "text/html",
    "md": "text/markdown",
    "txt": "text/plain",
    "srt": "text/plain",
    "vtt": "text/vtt",
    "eml": "message/rfc822",
}


class Forbidden(PermissionError):
    """The path is not one the UI may serve."""


class UploadRejected(ValueError):
    """An upload that is too large, of an unsupported type, or not what it claims to be."""


def extensions_for(types: frozenset[str]) -> list[str]:
    """File-uploader extensions (without dots) for canonical types."""
    return sorted({e.lstrip(".") for e, t in EXTENSIONS.items() if t in types})


class FileGuard:
    """Decides which paths the UI may read; see the module docstring."""

    def __init__(self, catalog: Catalog, store_dir: Path, uploads_dir: Path) -> None:
        self.catalog = catalog
        self.store_dir = store_dir.resolve()
        self.uploads_dir = uploads_dir.resolve()
        self._roots: tuple[float, list[Path]] = (0.0, [])

    def roots(self) -> list[Path]:
        """The store, the uploads folder and every root ingested so far (resolved)."""
        stamp, roots = self._roots
        if time.monotonic() - stamp > 5:  # roots change only when something is ingested
            with self.catalog.session() as s:
                found = {as_path(r) for r in s.scalars(select(FileRecord.root).distinct())}
            roots = [self.store_dir, self.uploads_dir]
            roots += sorted({r.resolve() for r in found if r.is_absolute()})
            self._roots = (time.monotonic(), roots)
        return roots

    def forget_roots(self) -> None:
        self._roots = (0.0, [])

    def check(self, path: str | os.PathLike[str] | None) -> Path:
        """The real path of a servable file; raises :class:`Forbidden` otherwise."""
        if not path or "\x00" in str(path):
            raise Forbidden("no path")
        given = as_path(path) if isinstance(path, str) else Path(path)
        if not given.is_absolute() or ".." in given.parts:
            raise Forbidden(f"not an absolute, normalised path: {path}")
        try:
            real = given.resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            raise Forbidden(f"not found: {path}") from exc
        if not real.is_file():
            raise Forbidden(f"not a file: {path}")
        if not any(real.is_relative_to(root) for root in self.roots()):
            raise Forbidden(f"outside the store's folders: {path}")
        if not (real.is_relative_to(self.uploads_dir) or self._known(given, real)):
            raise Forbidden(f"not a file of this store: {path}")
        return real

    def allowed(self, path: str | None) -> Path | None:
        try:
            return self.check(path)
        except Forbidden:
            return None

    def read(self, path: str | None, limit: int = 512 * MB) -> bytes:
        real = self.check(path)
        if real.stat().st_size > limit:
            raise Forbidden(f"larger than {limit // MB} MB: {path}")
        return real.read_bytes()

    def _known(self, given: Path, real: Path) -> bool:
        names = {escape(given), escape(real)}
        # store-internal files (extracted images, thumbnails) are recorded relative to the store
        names |= {
            p.relative_to(self.store_dir).as_posix()
            for p in (given, real)
            if p.is_relative_to(self.store_dir)
        }
        with self.catalog.session() as s:
            hit = s.scalar(select(FileRecord.id).where(FileRecord.path.in_(names)).limit(1))
            if hit is None:
                hit = s.scalar(
                    select(Asset.id)
                    .where(or_(Asset.path.in_(names), Asset.thumbnail.in_(names)))
                    .limit(1)
                )
        return hit is not None


# -- uploads -------------------------------------------------------------------------------
_UNSAFE = re.compile(r"[^\w.\- ()\[\]+]", re.UNICODE)


def safe_name(name: str) -> str:
    """A plain file name from whatever the browser sent: no folders, no control characters."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem = stem[:120] or "upload"
    return f"{stem}.{ext[:12]}" if ext else stem


@dataclass(frozen=True, slots=True)
class SavedUpload:
    path: Path
    type: str
    size: int
    warning: str | None = None


def save_upload(
    uploads_dir: Path,
    name: str,
    data: bytes,
    *,
    max_bytes: int,
    types: frozenset[str] = INGEST_TYPES,
) -> SavedUpload:
    """Check an uploaded file (size, extension, real content) and keep it under ``uploads_dir``.

    Each upload gets a folder of its own, so equal names never overwrite each other.
    """
    if len(data) > max_bytes:
        raise UploadRejected(f"{name}: {len(data) / MB:.1f} MB exceeds {max_bytes / MB:.0f} MB")
    if not data:
        raise UploadRejected(f"{name}: empty file")
    clean = safe_name(name)
    by_ext = EXTENSIONS.get(Path(clean).suffix.lower())
    if by_ext is None or by_ext not in types:
        raise UploadRejected(f"{name}: unsupported file type")
    folder = uploads_dir / f"{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True, exist_ok=False)
    target = folder / clean
    try:
        target.write_bytes(data)
        found = detect(target)
        if found.type is None or found.type not in types:
            raise UploadRejected(f"{name}: the content is not a supported file")
        if _family(found.type) != _family(by_ext):
            raise UploadRejected(f"{name}: the content is {found.type}, not {by_ext}")
        if found.type in IMAGE_TYPES:
            _check_image(data, name)
    except BaseException:
        target.unlink(missing_ok=True)
        folder.rmdir()
        raise
    return SavedUpload(target, found.type, len(data), found.warning)


def _family(kind: str) -> str:
    """Types that may stand in for each other: any image, any audio/video, any plain text."""
    if kind in IMAGE_TYPES:
        return "image"
    if kind in AUDIO_TYPES:
        return "audio"
    if kind in TEXT_TYPES:
        return "text"
    return kind


def _check_image(data: bytes, name: str) -> None:
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_QUERY_PIXELS:
                raise UploadRejected(f"{name}: {img.width}x{img.height} pixels is too large")
            img.verify()
    except UploadRejected:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise UploadRejected(f"{name}: not a readable image ({exc})") from exc


def query_image(data: bytes, name: str, max_bytes: int) -> Image.Image:
    """An uploaded query image, checked and decoded in memory (never written to disk)."""
    if len(data) > max_bytes:
        raise UploadRejected(f"{name}: {len(data) / MB:.1f} MB exceeds {max_bytes / MB:.0f} MB")
    by_ext = EXTENSIONS.get(Path(safe_name(name)).suffix.lower())
    if by_ext not in QUERY_IMAGE_TYPES:
        raise UploadRejected(f"{name}: not a supported image type")
    _check_image(data, name)
    with Image.open(io.BytesIO(data)) as img:
        img.seek(0)
        return img.convert("RGB")


def mime_of(path: str | Path, file_type: str | None = None) -> str:
    kind = file_type or EXTENSIONS.get(Path(path).suffix.lower(), "")
    return MIME.get(kind, "application/octet-stream")
