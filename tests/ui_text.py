"""What the Japanese walks of the UI (tests/test_ui.py, tests/test_ui_browser.py) call an
untranslated string: ASCII-only text with letters that is none of a file name, a path, a number
with its unit, a model or format name, or the store's own data (titles, sections, passages)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# names that stay as they are in Japanese UIs: methods, formats, units, the product, a language
# switcher's own choice
NAMES = {
    "mmrag",
    "English",
    "PCA",
    "t-SNE",
    "BM25",
    "CLIP",
    "OCR",
    "EXIF",
    "LLM",
    "RRF",
    "KB",
    "MB",
    "ID",
    "ISO",
}
_FILE = re.compile(r"^[^\s/\\]+\.[A-Za-z0-9]{1,5}$")
_UNIT = re.compile(r"^[\d\s.,:;/×x+\-–—()\[\]%]*(ms|s|KB|MB|GB|px|mm)?$")
_ACRONYMS = re.compile(r"^[A-Z0-9][A-Z0-9\-]{0,5}(\s*[,·・/]\s*[A-Z0-9][A-Z0-9\-]{0,5})*$")
_IDENTIFIER = re.compile(r"^[\w.\-]+[:@/][\w.\-:@/]+$")  # builtin:tiny-clip, ViT-B-32/laion...


@dataclass(frozen=True, slots=True)
class StoreData:
    """A store's own text: whole names (titles, sections, file names) and every passage."""

    names: frozenset[str]
    text: str

    def holds(self, s: str) -> bool:
        """A single word only as a whole name (a UI word may occur in some passage); longer
        text anywhere."""
        return s in self.names or (" " in s and s in self.text)


def store_data(store: Path) -> StoreData:
    """Read through the store's catalog (SQLite or PostgreSQL, as the test run configures)."""
    from sqlalchemy import select

    from app.api import MMRag
    from ingest.catalog.models import Chunk, Document, FileRecord
    from tests.conftest import offline_settings

    catalog = MMRag(offline_settings(store)).catalog
    try:
        with catalog.session() as s:
            names = [t or "" for t in s.scalars(select(Document.title))]
            names += [Path(p or "").name for p in s.scalars(select(FileRecord.path))]
            names += [t or "" for t in s.scalars(select(Chunk.section))]
            texts = [t or "" for t in s.scalars(select(Chunk.text))]
    finally:
        catalog.close()
    flat = [" ".join(n.split()) for n in names]
    return StoreData(frozenset(flat), " ".join(" ".join(t.split()) for t in [*texts, *flat]))


def untranslated(
    strings: Iterable[str], data: StoreData | None = None, extra: Iterable[str] = ()
) -> list[str]:
    """The strings that look like English UI text (see the module docstring); ``data``: the
    store's own text, ``extra``: more allowed strings (e.g. what the test typed)."""
    allowed = NAMES | {" ".join(e.split()) for e in extra}
    out = []
    for raw in strings:
        text = " ".join(str(raw).split()).strip(" ·:|,.()[]")
        if not text or not text.isascii() or not re.search(r"[A-Za-z]", text):
            continue
        if text in allowed or _known(text, data):
            continue
        out.append(text)
    return sorted(set(out))


def _known(text: str, data: StoreData | None) -> bool:
    if _FILE.match(text) or text.startswith(("/", "~")) or _UNIT.match(text):
        return True
    if _ACRONYMS.match(text) or _IDENTIFIER.match(text):
        return True
    words = [w for w in re.split(r"\s*[·|,]\s*|\s+", text) if w]
    if len(words) > 1 and all(w in NAMES or _known(w, data) for w in words):
        return True
    return data is not None and data.holds(text)
