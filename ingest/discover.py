"""Walk paths lazily, applying include/exclude globs and pairing media with transcripts.

Only regular files are read. What else a folder holds is reported as a :class:`Problem` with
its reason, never skipped in silence: symbolic links that lead outside the ingested folders
(unless ``follow_external_links``), broken links and link loops, named pipes, sockets, device
files and folders that cannot be listed.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ingest.detect import AUDIO_TYPES, EXTENSIONS, TRANSCRIPT_TYPES
from ingest.readers.audio import find_sidecar

_MEDIA_EXTS = tuple(e for e, t in EXTENSIONS.items() if t in AUDIO_TYPES)
_TRANSCRIPT_EXTS = tuple(e for e, t in EXTENSIONS.items() if t in TRANSCRIPT_TYPES)
IGNORE_FILE = ".mmragignore"
_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


@dataclass(frozen=True, slots=True)
class Candidate:
    path: Path  # absolute
    root: Path  # the ingested root it was found under
    sidecar: Path | None = None  # transcript to use instead of transcribing


@dataclass(frozen=True, slots=True)
class Problem:
    """Something found under a root that is not read, and why."""

    path: Path
    root: Path
    reason: str
    status: Literal["skipped", "failed"] = "skipped"


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
    paths: Iterable[Path],
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    *,
    follow_external_links: bool = False,
) -> Iterator[Candidate | Problem]:
    """Yield candidate files (and problems) in a stable order, never holding the whole tree.

    Symbolic links to files or folders inside the given roots are followed (folders only when
    the walk would not reach them otherwise); links leading out of them only with
    ``follow_external_links``.
    """
    include, exclude = include or [], exclude or []
    roots = [Path(p).expanduser().resolve() for p in paths]
    for given in roots:
        if given.is_file():
            if not _is_sidecar(given):
                yield Candidate(given, given.parent, find_sidecar(given))
            continue
        if not given.is_dir():
            if os.path.lexists(given):
                yield Problem(given, given.parent, _not_regular(given))
                continue
            raise FileNotFoundError(f"no such file or directory: {given}")
        excluded = [*exclude, IGNORE_FILE, *ignore_patterns(given)]
        yield from _walk(given, roots, include, excluded, follow_external_links)


def _walk(
    root: Path, roots: list[Path], include: list[str], excluded: list[str], follow: bool
) -> Iterator[Candidate | Problem]:
    """Depth-first, sorted, files of a folder before its subfolders (like ``os.walk``)."""
    seen = {_identity(root)}  # real folders walked: a followed link never loops
    stack: list[tuple[Path, str]] = [(root, ".")]
    while stack:
        directory, rel_dir = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield Problem(directory, root, f"cannot read folder: {exc.strerror}", "failed")
            continue
        subdirs: list[tuple[Path, str]] = []
        for entry in entries:
            path = Path(entry.path)
            rel = os.path.normpath(os.path.join(rel_dir, entry.name))
            try:
                is_dir = entry.is_dir()  # follows links: a link to a folder is a folder
            except OSError:
                is_dir = False
            if is_dir:
                if _match(rel + "/", excluded) or _match(os.path.join(rel, "x"), excluded):
                    continue
            elif _match(rel, excluded) or (include and not _match(rel, include)):
                continue
            link = entry.is_symlink()
            found = _follow(path, root, roots, follow) if link else None
            if isinstance(found, Problem):
                yield found
                continue
            if is_dir:
                if link and _inside(found or path, roots):
                    yield Problem(path, root, f"symbolic link to {found}, a folder read there")
                    continue
                ident = _identity(path)
                if ident in seen:  # a followed link back into a folder already walked
                    yield Problem(path, root, f"symbolic link to {found}, a folder already read")
                    continue
                seen.add(ident)
                subdirs.append((path, rel))
            elif entry.is_file():
                if not _is_sidecar(path):
                    sidecar = find_sidecar(path) if path.suffix.lower() in _MEDIA_EXTS else None
                    yield Candidate(path, root, sidecar)
            else:
                yield Problem(path, root, _not_regular(path))
        stack.extend(reversed(subdirs))


def _follow(path: Path, root: Path, roots: list[Path], follow: bool) -> Path | Problem:
    """Where a symbolic link leads, or why it is not followed."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Problem(path, root, "symbolic link loop")
        if exc.errno == errno.ENOENT:
            return Problem(path, root, "broken symbolic link (its target does not exist)")
        return Problem(path, root, f"cannot follow symbolic link: {exc.strerror}", "failed")
    target = Path(os.path.realpath(path))
    if not follow and not _inside(target, roots):
        return Problem(
            path,
            root,
            f"symbolic link to {target}, outside the ingested folders "
            "(not followed; ingest.follow_external_links to follow)",
        )
    return target


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path.is_relative_to(r) for r in roots)


def _identity(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_dev, st.st_ino


def _not_regular(path: Path) -> str:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return f"cannot read: {exc.strerror}"
    kind = next((name for test, name in _KINDS if test(mode)), None)
    return f"not a regular file: {kind}" if kind else "not a regular file"


def count(
    paths: Iterable[Path],
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    *,
    follow_external_links: bool = False,
) -> int:
    return sum(
        1 for _ in discover(paths, include, exclude, follow_external_links=follow_external_links)
    )
