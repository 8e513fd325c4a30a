"""What a search returns. ``to_json`` is the stable contract used by the CLI, UI and RAG."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class SearchResult:
    id: int
    score: float
    modality: str  # text | image | audio
    source: str  # path of the original file
    text: str  # chunk text; OCR text for images; transcript for audio
    page: int | None = None
    page_end: int | None = None
    t_start: float | None = None
    t_end: float | None = None
    title: str | None = None
    section: str | None = None
    thumbnail: str | None = None
    image: str | None = None  # the image file (original, or extracted from its document)
    file_type: str | None = None
    document_id: int | None = None
    language: str | None = None
    char_start: int | None = None
    char_end: int | None = None
    low_relevance: bool = False
    scores: dict[str, float] = field(default_factory=dict)  # per retriever / stage

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "score": round(float(self.score), 6),
            "modality": self.modality,
            "source": self.source,
            "page": self.page,
            "page_end": self.page_end,
            "t_start": self.t_start,
            "t_end": self.t_end,
            "title": self.title,
            "section": self.section,
            "text": self.text,
            "thumbnail": self.thumbnail,
            "image": self.image,
            "file_type": self.file_type,
            "document_id": self.document_id,
            "language": self.language,
            "char_start": self.char_start,
            "char_end": self.char_end,
            "low_relevance": self.low_relevance,
            "scores": {k: round(float(v), 6) for k, v in self.scores.items()},
        }
