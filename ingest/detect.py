"""What a file really is: sniffed from its bytes (``filetype``), the extension as a fallback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import filetype

# extension -> canonical type
EXTENSIONS: dict[str, str] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".md": "md",
    ".markdown": "md",
    ".txt": "txt",
    ".text": "txt",
    ".log": "txt",
    ".eml": "eml",
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".webp": "webp",
    ".gif": "gif",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".bmp": "bmp",
    ".wav": "wav",
    ".mp3": "mp3",
    ".flac": "flac",
    ".m4a": "m4a",
    ".ogg": "ogg",
    ".opus": "ogg",
    ".aac": "aac",
    ".wma": "wma",
    ".mp4": "mp4",
    ".mkv": "mkv",
    ".mov": "mov",
    ".webm": "webm",
    ".avi": "avi",
    ".srt": "srt",
    ".vtt": "vtt",
}
IMAGE_TYPES = frozenset({"png", "jpeg", "webp", "gif", "tiff", "bmp"})
AUDIO_TYPES = frozenset(
    {"wav", "mp3", "flac", "m4a", "ogg", "aac", "wma", "mp4", "mkv", "mov", "webm", "avi"}
)
TRANSCRIPT_TYPES = frozenset({"srt", "vtt"})
TEXT_TYPES = frozenset({"html", "md", "txt", "eml", "srt", "vtt"})
# filetype's extension names -> ours
_SNIFFED = {
    "pdf": "pdf",
    "docx": "docx",
    "pptx": "pptx",
    "xlsx": "xlsx",
    "png": "png",
    "jpg": "jpeg",
    "webp": "webp",
    "gif": "gif",
    "tif": "tiff",
    "bmp": "bmp",
    "wav": "wav",
    "mp3": "mp3",
    "flac": "flac",
    "m4a": "m4a",
    "ogg": "ogg",
    "mp4": "mp4",
    "mkv": "mkv",
    "mov": "mov",
    "webm": "webm",
    "avi": "avi",
    "aac": "aac",
    "opus": "ogg",
}


@dataclass(frozen=True, slots=True)
class Detected:
    type: str | None  # canonical type, None when unsupported
    warning: str | None = None  # e.g. the extension lies about the content


def detect(path: Path) -> Detected:
    by_ext = EXTENSIONS.get(path.suffix.lower())
    with open(path, "rb") as f:
        head = f.read(8192)
    kind = filetype.guess(head)
    sniffed = _SNIFFED.get(kind.extension) if kind else None
    if sniffed == "mp4" and by_ext in ("m4a", "mov"):
        sniffed = by_ext  # same container family
    if sniffed is None and head.lstrip().startswith(b"%PDF"):
        sniffed = "pdf"
    if sniffed is None:
        if by_ext is None:
            return Detected(None)
        if by_ext not in TEXT_TYPES and _looks_like_text(head):
            return Detected("txt", f"extension {path.suffix} but the content is plain text")
        return Detected(by_ext)
    if by_ext is not None and by_ext != sniffed:
        return Detected(sniffed, f"extension {path.suffix} but the content is {sniffed.upper()}")
    return Detected(sniffed)


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return exc.start > len(head) - 4  # a multi-byte character cut at the buffer's end
