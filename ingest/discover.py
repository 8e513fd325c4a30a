"""Walk paths lazily, applying include/exclude globs and pairing media with transcripts."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.detect import AUDIO_TYPES, EXTENSIONS, TRANSCRIPT_TYPES
from ingest.readers.audio import find_sidecar

_MEDIA_EXTS = tuple(e for e, t in EXTENSIONS.items() if t in AUDIO_TYPES)
_TRANSCRIPT_EXTS = tuple(e for e, t in EXTENSIONS.items() if t in TRANSCRIPT_TYPES)
IGNORE_FILE = ".mmragignore"


@dataclass(frozen=True, slots=True)
class Candidate:
    path: Path  # absolute
    root: Path  # the ingested root it was found under
    sidecar: Path | None = None  # transcript to use instead of transcribing


def _match(rel: str, patterns: list[str]) -> bool:
    # "**/x" also matches "x" at the top level, as users expect from gitignore-style globs
    return any(
        fnmatch.fnmatch(rel, p) or (p.startswith("**/") and fnmatch.fnmatch(rel, p[3:]))
        for p in patterns
    )


def _is_sidecar(path: Path) -> bool:
    """A transcript that a media file of the same stem will use (it is read with the media)."""
    if path.suffix.lower() not in _TRANSCRIPT_EXTS:
        return False
    base = path.name[: -len(path.suffix)]
    stems = {base, base.rpartition(".")[0]} - {""}  # "talk.srt" and "talk.en.srt"
    for stem in stems:
        for ext in _MEDIA_EXTS:
            for media in (path.parent / f"{stem}{ext}", path.parent / f"{stem}{ext.upper()}"):
                if media.is_file() and find_sidecar(media) == path:
                    return True
    return False


def ignore_patterns(root: Path) -> list[str]:
    """Exclude globs from ``root/.mmragignore`` (one per line, ``#`` comments, --exclude syntax).

    A trailing ``/`` names a folder and everything under it.
    """
    path = root / IGNORE_FILE
    if not path.is_file():
        return []
    patterns = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            patterns.append(line + "**" if line.endswith("/") else line)
    return patterns


def discover(
    paths: Iterable[Path], include: list[str] | None = None, exclude: list[str] | None = None
) -> Iterator[Candidate]:
    """Yield candidate files in a stable order, never holding the whole tree in memory."""
    include, exclude = include or [], exclude or []
    for given in paths:
        given = Path(given).expanduser().resolve()
        if given.is_file():
            root = given.parent
            if not _is_sidecar(given):
                yield Candidate(given, root, find_sidecar(given))
            continue
        if not given.is_dir():
            raise FileNotFoundError(f"no such file or directory: {given}")
        excluded = [*exclude, IGNORE_FILE, *ignore_patterns(given)]
        for dirpath, dirnames, filenames in os.walk(given):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, given)
            dirnames[:] = [
                d
                for d in dirnames
                if not _match(os.path.normpath(os.path.join(rel_dir, d)) + "/", excluded)
                and not _match(os.path.normpath(os.path.join(rel_dir, d, "x")), excluded)
            ]
            for name in sorted(filenames):
                path = Path(dirpath) / name
                rel = os.path.normpath(os.path.join(rel_dir, name))
                if _match(rel, excluded) or (include and not _match(rel, include)):
                    continue
                if _is_sidecar(path) or not path.is_file():
                    continue
                sidecar = find_sidecar(path) if path.suffix.lower() in _MEDIA_EXTS else None
                yield Candidate(path, given, sidecar)


def count(
    paths: Iterable[Path], include: list[str] | None = None, exclude: list[str] | None = None
) -> int:
    return sum(1 for _ in discover(paths, include, exclude))
