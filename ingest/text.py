"""Small text utilities shared by readers and the chunker: decoding, language, sentences."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from charset_normalizer import from_bytes

from ingest.types import IngestError

_KANA = re.compile(r"[\u3040-\u30ff\uff66-\uff9f]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]")
_LATIN = re.compile(r"[A-Za-z]")
_EN_STOPWORDS = frozenset(
    "the a an and or of to in on for is are was were be with that this it as at by from "
    "we you they he she not have has had will can".split()
)
# A sentence ends after . ! ? (followed by space) or after Japanese 。！？ (optionally closed by
# quotes/brackets); newlines that separate blocks also end sentences.
_SENTENCE_END = re.compile(
    r"(?<=[。！？!?])[」』）)\"'”’]*\s*|(?<=[.!?])[\"'”’)\]]*\s+(?=\S)|\n{2,}"
)


def decode_text(data: bytes, path: Path | None = None) -> str:
    """Decode bytes of unknown encoding (UTF-8/16 with or without BOM, Shift_JIS/CP932, ...)."""
    if not data:
        return ""
    for bom, enc in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(enc)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(
        data,
        cp_isolation=["cp932", "shift_jis", "euc_jp", "iso2022_jp", "cp1252", "latin_1", "utf_16"],
    ).best()
    if best is None or (b"\x00" in data[:4096] and best.encoding not in ("utf_16",)):
        raise IngestError(
            f"not a text file or unknown encoding: {path.name if path else ''}".strip()
        )
    enc = "cp932" if best.encoding in ("shift_jis", "cp932") else best.encoding  # cp932 ⊇ shift_jis
    return data.decode(enc, errors="replace")


def detect_language(text: str) -> str | None:
    """Cheap script-based language tag: 'ja', 'en', or None when unsure."""
    sample = text[:2000]
    cjk = len(_CJK.findall(sample))
    latin = len(_LATIN.findall(sample))
    if cjk and (_KANA.search(sample) or cjk >= latin):
        return "ja" if cjk >= 0.15 * (cjk + latin) else "en"
    if latin:
        words = re.findall(r"[a-z]+", sample.lower())
        if words and sum(w in _EN_STOPWORDS for w in words) / len(words) >= 0.05:
            return "en"
        return "en" if len(words) < 8 else None
    return None


def normalize(text: str) -> str:
    """NFKC (full-/half-width folding) and whitespace cleanup."""
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"[ \t\u3000]+", " ", text).strip()


def split_sentences(text: str) -> list[str]:
    """Split into sentences, keeping the terminators; respects 。！？ as well as .!?"""
    parts: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        end = m.end()
        if end > start and text[start:end].strip():
            parts.append(text[start:end])
        start = end
    if text[start:].strip():
        parts.append(text[start:])
    return parts
