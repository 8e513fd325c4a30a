"""Settings of the retrieval stage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ingest.config import Section

Mode = Literal["bm25", "dense", "hybrid"]


class RetrievalSettings(Section):
    mode: Mode = "hybrid"
    k: int = Field(default=10, ge=1, le=1000)
    fusion: Literal["rrf", "weighted"] = "rrf"
    rrf_k: int = Field(default=60, ge=1)
    weights: dict[str, float] = Field(
        default_factory=lambda: {"bm25": 1.0, "text": 1.0, "clip": 1.0},
        description="per retriever: bm25, text (passage vectors), clip (shared space)",
    )
    modality_weights: dict[str, float] = Field(
        default_factory=lambda: {"text": 1.0, "audio": 1.0, "image": 1.0}
    )
    candidates: int = Field(default=50, ge=1, description="candidates per retriever")
    low_relevance: dict[str, float] = Field(
        default_factory=lambda: {"text": 0.3, "clip": 0.2},
        description="best dense score below which a result is marked low-relevance, per space",
    )
