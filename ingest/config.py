"""Settings of the ingest stage (validated; composed into the app-wide settings)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_EXCLUDES = [
    "**/.git/**",
    "**/.mmrag*/**",
    "**/__pycache__/**",
    "**/.DS_Store",
    "**/~$*",  # Office lock files
    "**/.~lock.*",
]


class Section(BaseModel):
    """A settings section: unknown keys are errors, so a typo in a config file is caught."""

    model_config = ConfigDict(extra="forbid")


class StoreSettings(Section):
    """Where the catalog, indexes and derived files live."""

    dir: Path = Path(".mmrag")
    database_url: str | None = Field(
        default=None,
        description="Any SQLAlchemy URL; default: SQLite (WAL) file inside the store directory",
    )

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{(self.dir / 'catalog.sqlite3').resolve()}"


class TranscriberSettings(Section):
    backend: Literal["faster-whisper"] = "faster-whisper"
    model: str = Field(
        default="small",
        description="faster-whisper model name (tiny, base, small, large-v3...) or a local "
        "CTranslate2 directory; 'builtin:whisper-base' uses the model shipped on PyPI",
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compute_type: str = "auto"  # int8 on CPU, float16 on CUDA
    language: str | None = None  # None: detect per file
    beam_size: int = 5
    batch_size: int = Field(
        default=16,
        ge=1,
        description="on CUDA, speech windows decoded together (faster-whisper's batched "
        "pipeline, with VAD); 1 or the CPU: one window after the other",
    )
    vad: bool = True
    window_min_s: float = 30.0
    window_max_s: float = 60.0


class IngestSettings(Section):
    workers: int = Field(default_factory=lambda: max(1, min(os.cpu_count() or 1, 8)))
    engine: Literal["local", "ray"] = Field(
        default="local",
        description="where files are read: a local process pool, or Ray tasks (ingest.ray_engine)",
    )
    ray_address: str | None = Field(
        default=None,
        description="Ray cluster to read on ('ray://head:10001', 'auto'); None: a local Ray",
    )
    ray_embed: Literal["auto", "actors", "process"] = Field(
        default="auto",
        description="where the Ray engine embeds: an actor pool on the cluster (one actor per "
        "GPU, else per node), this process, or auto: actors on a cluster (ray_address set), "
        "this process on a local Ray (the same cores: actors only add their start-up)",
    )
    include: list[str] = Field(default_factory=list, description="glob patterns; empty: all")
    exclude: list[str] = Field(default_factory=lambda: list(DEFAULT_EXCLUDES))
    chunk_tokens: int = Field(default=256, ge=16, le=8192)
    chunk_overlap: int = Field(default=32, ge=0)
    tokenizer: str | None = Field(
        default=None, description="tokenizer measuring chunk size; default: the text embedder's"
    )
    max_file_mb: float = Field(default=512.0, gt=0)
    max_pages: int = Field(default=5000, gt=0)
    max_audio_minutes: float = Field(default=240.0, gt=0)
    max_image_pixels: int = Field(
        default=64_000_000,
        gt=0,
        description="larger images (files, pictures in documents, PDF pages to OCR) are refused "
        "before they are decoded: a 2 MB PNG can unpack to gigabytes",
    )
    follow_external_links: bool = Field(
        default=False,
        description="follow symbolic links that lead outside the ingested folders",
    )
    ocr: bool = True
    pdf_tables: bool = Field(default=True, description="detect ruled tables in PDFs (pdfplumber)")
    ocr_languages: str = "eng+jpn"
    ocr_timeout_s: float = 120.0
    min_image_px: int = Field(default=48, description="smaller embedded images are ignored")
    thumbnail_px: int = 320
    transcriber: TranscriberSettings = Field(default_factory=TranscriberSettings)

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, v: int, info) -> int:  # type: ignore[no-untyped-def]
        size = info.data.get("chunk_tokens", 256)
        if v >= size:
            raise ValueError(f"chunk_overlap ({v}) must be smaller than chunk_tokens ({size})")
        return v

    @property
    def embeds_on_ray(self) -> bool:
        """Whether items are embedded by a Ray actor pool (``ray_embed``)."""
        if self.engine != "ray" or self.ray_embed == "process":
            return False
        return self.ray_embed == "actors" or self.ray_address is not None
