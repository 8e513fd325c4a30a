"""What a grounded answer is made of. ``Answer.to_json`` is the ``mmrag ask --json`` contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from retrieval.types import SearchResult

Status = Literal["answered", "not_found"]


@dataclass(slots=True)
class Source:
    """A retrieved passage, image or audio segment, numbered as the model sees it ([n])."""

    n: int
    result: SearchResult
    text: str  # the text given to the model (may be trimmed to fit the budget)
    with_image: bool = False  # sent as an image part too
    suspicious: bool = False  # contains text addressed to an AI assistant (prompt injection)

    def to_json(self) -> dict[str, Any]:
        r = self.result
        return {
            "n": self.n,
            "id": r.id,
            "source": r.source,
            "page": r.page,
            "page_end": r.page_end,
            "t_start": r.t_start,
            "t_end": r.t_end,
            "section": r.section,
            "modality": r.modality,
            "text": self.text,
            "score": round(float(r.score), 6),
            "low_relevance": r.low_relevance,
            "thumbnail": r.thumbnail,
            "image": r.image,
            "suspicious": self.suspicious,
        }


@dataclass(slots=True)
class Retrieved:
    """Stream event: the sources found for a question, sent before any answer text."""

    query: str  # the standalone query that was searched
    sources: list[Source]
    seconds: float  # time spent rewriting and retrieving


@dataclass(slots=True)
class Citation:
    """A source the answer cites, with how well the citing sentences are supported by it."""

    source: Source
    sentences: list[str] = field(default_factory=list)
    support: float = 0.0  # best support score over the citing sentences, 0..1
    supported: bool = False

    @property
    def n(self) -> int:
        return self.source.n

    def to_json(self) -> dict[str, Any]:
        return {
            **self.source.to_json(),
            "support": round(self.support, 4),
            "supported": self.supported,
            "sentences": self.sentences,
        }


@dataclass(slots=True)
class SentenceCheck:
    """One sentence of the answer and what its citations are worth."""

    text: str
    cites: list[int]
    support: dict[int, float] = field(default_factory=dict)  # per cited source n
    claim: bool = True
    lexical: dict[int, float] = field(default_factory=dict)
    semantic: dict[int, float] = field(default_factory=dict)

    @property
    def reason(self) -> str | None:
        """Why the sentence is unsupported, or None."""
        if not self.claim:
            return None
        if not self.cites:
            return "no citation"
        if not self.support or max(self.support.values()) <= 0:
            return "not supported by its sources"
        return None


@dataclass(slots=True)
class Answer:
    """A grounded answer: the text with [n] markers, the sources it cites and their checks."""

    question: str
    text: str
    status: Status
    sources: list[Source]
    citations: list[Citation] = field(default_factory=list)
    query: str | None = None  # the standalone query used for retrieval
    llm: str = "extractive"
    invalid_citations: list[int] = field(default_factory=list)
    unsupported_sentences: list[dict[str, Any]] = field(default_factory=list)
    citation_precision: float | None = None  # supported citations / citations; None: none
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    missing_terms: list[str] = field(default_factory=list)  # key terms no source mentions

    @property
    def grounded(self) -> bool:
        """Answered from the files with at least one citation its sentence is supported by."""
        return self.status == "answered" and any(c.supported for c in self.citations)

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "query": self.query,
            "answer": self.text,
            "grounded": self.grounded,
            "status": self.status,
            "llm": self.llm,
            "citations": [c.to_json() for c in self.citations],
            "sources": [s.to_json() for s in self.sources],
            "citation_precision": (
                None if self.citation_precision is None else round(self.citation_precision, 4)
            ),
            "invalid_citations": self.invalid_citations,
            "unsupported_sentences": self.unsupported_sentences,
            "warnings": self.warnings,
            "missing_terms": self.missing_terms,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }
