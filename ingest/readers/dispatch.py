"""Pick the reader for a file and run it: the one entry point the pipeline's workers call."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from ingest.config import IngestSettings
from ingest.detect import AUDIO_TYPES, IMAGE_TYPES, TRANSCRIPT_TYPES, detect
from ingest.readers import reader_version
from ingest.readers.context import ReadContext
from ingest.types import IngestError, ParsedDocument


class UnsupportedFile(IngestError):
    """The file type is not one mmrag reads."""


def size_problem(size: int, settings: IngestSettings) -> str | None:
    """Why a file of ``size`` bytes is not read, or None."""
    if size > settings.max_file_mb * 1024 * 1024:
        return (
            f"file is {size / 2**20:.0f} MB, over the limit of {settings.max_file_mb:.0f} MB "
            "(ingest.max_file_mb)"
        )
    return None


def read_file(
    path: Path, ctx: ReadContext, sidecar: Path | None = None
) -> tuple[str, ParsedDocument]:
    """Parse one file; returns (file type, parsed document). Raises IngestError with a reason."""
    size = path.stat().st_size
    if size == 0:
        raise IngestError("empty file (0 bytes)")
    too_large = size_problem(size, ctx.settings)
    if too_large is not None:
        raise UnsupportedFile(too_large)
    # Our readers check the pixel budget before decoding; this also holds libraries to it.
    # Set per file: importing unstructured's PDF module raises it for the whole process.
    Image.MAX_IMAGE_PIXELS = ctx.settings.max_image_pixels
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
    parsed.metadata["reader"] = reader_version(file_type)
    return file_type, parsed
