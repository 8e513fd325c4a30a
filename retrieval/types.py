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
    reranked: bool = False  # ordered by the cross-encoder (its probability is scores["rerank"])
    also_in: list[str] = field(default_factory=list)  # sources of near-duplicates folded in here

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
            "reranked": self.reranked,
            "also_in": list(self.also_in),
        }


@dataclass(slots=True)
class SearchInfo:
    """How a search was carried out (the same for every result of one search)."""

    mode: str
    rerank_requested: bool = False
    reranked: bool = False
    reranker: str | None = None
    notes: list[str] = field(default_factory=list)  # e.g. why no reranking happened
    candidates: dict[str, int] = field(default_factory=dict)  # per retriever
    duplicates: int = 0  # near-duplicates suppressed

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "rerank_requested": self.rerank_requested,
            "reranked": self.reranked,
            "reranker": self.reranker,
            "notes": list(self.notes),
            "candidates": dict(self.candidates),
            "duplicates": self.duplicates,
        }


class SearchResults(list[SearchResult]):
    """The results, best first (a plain list), with :class:`SearchInfo` as ``.info``."""

    def __init__(self, results: list[SearchResult] | None = None, info: SearchInfo | None = None):
        super().__init__(results or [])
        self.info = info or SearchInfo(mode="")
