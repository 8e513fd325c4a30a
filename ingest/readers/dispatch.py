"""Pick the reader for a file and run it: the one entry point the pipeline's workers call."""

from __future__ import annotations

from pathlib import Path

from ingest.detect import AUDIO_TYPES, IMAGE_TYPES, TRANSCRIPT_TYPES, detect
from ingest.readers.context import ReadContext
from ingest.types import IngestError, ParsedDocument


class UnsupportedFile(IngestError):
    """The file type is not one mmrag reads."""


def read_file(
    path: Path, ctx: ReadContext, sidecar: Path | None = None
) -> tuple[str, ParsedDocument]:
    """Parse one file; returns (file type, parsed document). Raises IngestError with a reason."""
    size = path.stat().st_size
    if size == 0:
        raise IngestError("empty file (0 bytes)")
    limit = ctx.settings.max_file_mb * 1024 * 1024
    if size > limit:
        raise UnsupportedFile(
            f"file is {size / 2**20:.0f} MB, over the limit of {ctx.settings.max_file_mb:.0f} MB "
            "(ingest.max_file_mb)"
        )
    detected = detect(path)
    if detected.type is None:
        raise UnsupportedFile(f"unsupported file type ({path.suffix or 'no extension'})")
    file_type = detected.type
    if file_type in IMAGE_TYPES:
        from ingest.readers.images import parse_image

        parsed = parse_image(path, ctx)
    elif file_type in AUDIO_TYPES:
        from ingest.readers.audio import parse_audio

        parsed = parse_audio(path, ctx.settings, sidecar=sidecar, counter=ctx.counter)
    elif file_type in TRANSCRIPT_TYPES:
        from ingest.readers.audio import parse_transcript

        parsed = parse_transcript(path, ctx.settings, counter=ctx.counter)
    else:
        from ingest.readers.documents import parse_document

        parsed = parse_document(path, file_type, ctx)
    if detected.warning:
        parsed.warnings.insert(0, detected.warning)
    return file_type, parsed
