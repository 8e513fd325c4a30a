"""Crash-safe files of a vector store directory.

Data files get fresh names per save (``index.<gen>.faiss``), each written to a temporary name,
fsynced and renamed; ``manifest.json`` is replaced last and names the files of the current
generation with their size and CRC-32. A crash at any point leaves either the old or the new
generation readable, and a truncated or altered file is caught by its size or checksum.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from index.vector_store import IndexCorruptError

MANIFEST = "manifest.json"
LOCK = ".lock"
READERS = ".readers"  # shared-locked by every process that has the store open
FORMAT = "mmrag-vector-store"
FORMAT_VERSION = 1
DATA_PREFIXES = ("index.", "labels.", "raw.")
DATA_SUFFIXES = (".faiss", ".npy")
STALE_TMP_S = 3600.0  # temp files older than this are leftovers of a crashed writer


@dataclass(slots=True)
class _ChecksumWriter:
    """File-like sink that counts and checksums what passes through it."""

    file: BinaryIO
    size: int = 0
    crc: int = 0

    def write(self, data: bytes | memoryview) -> int:
        self.file.write(data)
        self.size += len(data)
        self.crc = zlib.crc32(data, self.crc)
        return len(data)

    def entry(self, name: str) -> dict[str, object]:
        return {"name": name, "bytes": self.size, "crc32": f"{self.crc:08x}"}


def fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform/filesystem can fsync a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[_ChecksumWriter]:
    """Write `path` via a temp file in the same directory, fsync and rename it into place."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            writer = _ChecksumWriter(f)
            yield writer
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def new_generation() -> str:
    return f"{time.time_ns():x}{uuid.uuid4().hex[:4]}"


def write_manifest(directory: Path, manifest: dict[str, object]) -> None:
    with atomic_file(directory / MANIFEST) as w:
        w.write(json.dumps(manifest, indent=2).encode())


def read_manifest(directory: Path, fmt: str = FORMAT) -> dict:
    """A generation's manifest, checked to be a ``fmt`` one this mmrag can read."""
    path = directory / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"no vector store in {directory} ({MANIFEST} is missing)")
    try:
        manifest = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise IndexCorruptError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(manifest, dict) or manifest.get("format") != fmt:
        raise IndexCorruptError(f"{path} is not a {fmt} manifest")
    if manifest.get("version", 0) > FORMAT_VERSION:
        raise IndexCorruptError(
            f"{path} has format version {manifest.get('version')}; this mmrag reads up to "
            f"{FORMAT_VERSION} (upgrade mmrag)"
        )
    return manifest


@contextlib.contextmanager
def writer_lock(directory: Path) -> Iterator[None]:
    """One writer per store directory: a concurrent save could delete the other's new files."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks, rely on a single writer
        yield
        return
    with open(directory / LOCK, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def hold(directory: Path) -> BinaryIO | None:
    """Mark ``directory`` as read by this process for as long as the returned file stays open
    (a shared lock): a generation of an index is never deleted under a process that reads it.

    Raises FileNotFoundError when the directory is gone. None where there are no locks.
    """
    try:
        import fcntl
    except ImportError:
        return None
    f = open(directory / READERS, "a+b")  # noqa: SIM115 - kept open by the store on purpose
    try:
        fcntl.flock(f, fcntl.LOCK_SH)
    except BaseException:
        f.close()
        raise
    return f


@contextlib.contextmanager
def if_unused(directory: Path) -> Iterator[bool]:
    """Yields True, holding it exclusively, when no process holds ``directory``
    (see :func:`hold`); False when one does. Without locks: always True."""
    try:
        import fcntl
    except ImportError:
        yield True
        return
    try:
        f = open(directory / READERS, "a+b")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        yield True
        return
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def check_file(directory: Path, entry: dict, *, verify: bool | None, verify_max: int) -> Path:
    """Raise IndexCorruptError unless the file has its recorded size (and checksum)."""
    try:
        path, expected_size, expected_crc = (
            directory / entry["name"],
            entry["bytes"],
            entry["crc32"],
        )
    except (KeyError, TypeError) as e:
        raise IndexCorruptError(f"{directory / MANIFEST} has a bad file entry: {entry!r}") from e
    if not path.is_file():
        raise IndexCorruptError(f"{path} is missing")
    size = path.stat().st_size
    if size != expected_size:
        raise IndexCorruptError(
            f"{path} has {size} bytes, the manifest records {expected_size} (truncated write?)"
        )
    if verify or (verify is None and size <= verify_max):
        crc = 0
        with open(path, "rb") as f:
            while chunk := f.read(1 << 22):
                crc = zlib.crc32(chunk, crc)
        if f"{crc:08x}" != expected_crc:
            raise IndexCorruptError(f"{path} does not match its checksum (corrupted)")
    return path


def remove_stale(directory: Path, keep: set[str]) -> None:
    """Delete data files of older generations and temp files of crashed writers."""
    now = time.time()
    for path in directory.iterdir():
        name = path.name
        stale_tmp = name.endswith(".tmp") and now - path.stat().st_mtime > STALE_TMP_S
        old_data = (
            name.startswith(DATA_PREFIXES)
            and name.endswith(DATA_SUFFIXES)
            and name.count(".") == 2
            and name not in keep
        )
        if stale_tmp or old_data:
            with contextlib.suppress(OSError):  # e.g. still mapped on platforms that lock it
                path.unlink()
