"""File names as text every database, JSON file and browser accepts, without losing any.

On POSIX a file name is bytes. Python shows bytes that are not UTF-8 (a Shift_JIS name from an
old Windows or Japanese disk) as lone surrogates (PEP 383), which SQLite, JSON and the UI's
protocol refuse. The catalog therefore keeps paths *escaped*: each such byte as ``\\xHH`` and a
backslash as ``\\\\``, every other character as it is, so ordinary paths read the same.
``unescape`` gives the exact original back (``as_path`` to open the file); ``readable`` is a
best guess (Shift_JIS, EUC-JP) for showing and indexing a name, never for opening it;
``display`` and ``display_name`` show a catalog path (every page, answer and table uses them).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# bytes that are not UTF-8 come out of os.fsdecode as U+DC80..U+DCFF
_UNDECODED = re.compile(r"[\udc80-\udcff]")
_TO_ESCAPE = re.compile(r"[\udc80-\udcff\\]")
_ESCAPED = re.compile(r"\\(\\|x[89a-f][0-9a-f])")
_UNDECODED_WORD = re.compile(r"[^\s/\\]*[\udc80-\udcff][^\s/\\]*")
# encodings of old non-UTF-8 file names, tried in order (Japanese first: this project's users)
LEGACY_ENCODINGS = ("cp932", "euc_jp", "gb18030", "cp1252")


def escape(path: str | os.PathLike[str]) -> str:
    """The catalog's text for a path: valid Unicode, reversible with :func:`unescape`."""
    return _TO_ESCAPE.sub(_escape_char, os.fspath(path))


def unescape(text: str) -> str:
    """The original path (lone surrogates where its bytes are not UTF-8)."""
    return _ESCAPED.sub(_unescape_match, text) if "\\" in text else text


def as_path(text: str) -> Path:
    """The file a catalog path names, ready to open."""
    return Path(unescape(text))


def is_clean(text: str) -> bool:
    """Whether ``text`` holds no undecodable bytes (is valid Unicode as it is)."""
    return _UNDECODED.search(text) is None


def readable(text: str | os.PathLike[str]) -> str:
    """``text`` with its undecodable bytes decoded by guessing (for display and search only).

    Each run of bytes between separators is decoded on its own, so a Shift_JIS file name in a
    UTF-8 folder reads right. Lossy: open files with :func:`as_path`, never with this.
    """
    return _UNDECODED_WORD.sub(_guess_word, os.fspath(text))


def display(stored: str) -> str:
    """A catalog path as people read it: the original name, undecodable bytes guessed."""
    return readable(unescape(stored))


def display_name(stored: str) -> str:
    """The file name of a catalog path as people read it ("" for "")."""
    return readable(as_path(stored).name) if stored else ""


def _escape_char(m: re.Match[str]) -> str:
    ch = m.group()
    return "\\\\" if ch == "\\" else f"\\x{ord(ch) - 0xDC00:02x}"


def _unescape_match(m: re.Match[str]) -> str:
    code = m.group(1)
    return "\\" if code == "\\" else chr(0xDC00 + int(code[1:], 16))


def _guess_word(m: re.Match[str]) -> str:
    raw = m.group().encode("utf-8", "surrogateescape")
    for encoding in LEGACY_ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "replace")
