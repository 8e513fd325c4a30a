"""Decoding text of unknown encoding (language and sentences: see ``ingest.analysis``)."""

from __future__ import annotations

from pathlib import Path

from charset_normalizer import from_bytes

from ingest.types import IngestError


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
