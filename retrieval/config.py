"""Settings of the retrieval stage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ingest.config import Section

Mode = Literal["bm25", "dense", "hybrid"]
MODES: tuple[Mode, ...] = ("bm25", "dense", "hybrid")


class RerankSettings(Section):
    """Cross-encoder reranking of the fused candidates."""

    enabled: bool = Field(default=True, description="rerank when the model can be loaded")
    model: str = Field(
        default="cross-encoder/ms-marco-MiniLM-L-6-v2",
        description="sentence-transformers CrossEncoder: hub name, local path or builtin: "
        "(multilingual: BAAI/bge-reranker-v2-m3; offline tests: builtin:tiny-reranker)",
    )
    candidates: int = Field(
        default=50, ge=1, description="candidates reranked (at least factor * k of them)"
    )
    factor: int = Field(default=5, ge=1, le=20, description="rerank at least factor * k items")
    max_length: int = Field(default=256, ge=16, description="tokens of query + passage")
    batch_size: int = Field(default=32, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"


class DiversitySettings(Section):
    """Near-duplicate suppression and optional maximal marginal relevance."""

    dedup: bool = True
    jaccard: float = Field(
        default=0.8, gt=0, le=1, description="shingle Jaccard from which two texts are the same"
    )
    containment: float = Field(
        default=0.9, gt=0, le=1, description="share of a text inside another from which it's a dup"
    )
    span_overlap: float = Field(
        default=0.5, gt=0, le=1, description="char-span overlap of two chunks of one document"
    )
    mmr: bool = Field(default=False, description="reorder by maximal marginal relevance")
    mmr_lambda: float = Field(default=0.7, ge=0, le=1, description="1: relevance only")


class CalibrationSettings(Section):
    """The calibrated fusion's logistic model (``retrieval.calibrated``), fitted for a text
    model by ``python -m benchmarks.dev_eval.fit_fusion`` on the tuning half of the
    development questions."""

    text_models: list[str] = Field(
        default_factory=lambda: ["intfloat/multilingual-e5-small", "builtin:multilingual-e5-small"],
        description="text models the weights were fitted for (other models fall back to rrf)",
    )
    # fitted on benchmarks/dev_eval (tune half) for multilingual-e5-small (C=5; see
    # benchmarks/results/fit_fusion.json for the cross-validated comparison with rrf)
    bias: float = -16.392
    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "bm25": 2.482,
            "bm25_rank": 2.605,
            "cos": 17.914,
            "cos_gap": 38.809,
            "cos_gap_lang": 27.284,
            "same_lang": -0.043,
            "coverage": 3.293,
            "bm25_xl": 3.060,
            "bm25_xl_rank": 6.381,
        }
    )


class RetrievalSettings(Section):
    mode: Mode = "hybrid"
    k: int = Field(default=10, ge=1, le=1000)
    fusion: Literal["auto", "calibrated", "rrf", "weighted"] = Field(
        default="auto",
        description="calibrated: a probability per candidate from every retriever's signals "
        "(needs weights fitted for the text model); rrf: reciprocal rank fusion; weighted: "
        "normalised scores; auto: calibrated when fitted for the text model, else rrf",
    )
    calibration: CalibrationSettings = Field(default_factory=CalibrationSettings)
    cross_lingual: bool = Field(
        default=True,
        description="also search the text space among items in other languages than the "
        "query's (a multilingual model ranks same-language passages first)",
    )
    translation: Literal["jmdict", "none"] = Field(
        default="jmdict",
        description="how an English or Japanese query is turned into the other language's "
        "words for keyword search among items in that language (bm25_xl): jmdict (a "
        "dictionary, pip install jamdict-data) or none",
    )
    rrf_k: int = Field(default=60, ge=1)
    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "bm25": 1.0,
            "text": 1.0,
            "text_xl": 0.5,
            "bm25_xl": 0.5,
            "clip": 1.0,
        },
        description="rank fusion weight per retriever: bm25, text (passage vectors), text_xl "
        "(passage vectors in the query's other languages), bm25_xl (the translated query's "
        "words among items in the other language), clip (shared space)",
    )
    modality_weights: dict[str, float] = Field(
        default_factory=lambda: {"text": 1.0, "audio": 1.0, "image": 1.0},
        description="multiplies the fused score of items of each modality",
    )
    candidates: int = Field(
        default=40,
        ge=1,
        description="candidates per retriever (dev_eval tune: hit@5 the same as with 50, search "
        "time ~15% less: every candidate is read from the catalog and scored)",
    )
    text_query_clip: Literal["image", "all"] = Field(
        default="image",
        description="what text queries look for in the CLIP space: images only (passages are "
        "ranked by the text space), or every item",
    )
    text_languages: list[str] | None = Field(
        default=None,
        description="languages the text embedding model reads (e.g. ['en'] for "
        "all-MiniLM-L6-v2); in hybrid mode a query in another language leaves the text "
        "retriever out instead of adding its noise (keywords and CLIP only). None: any",
    )
    min_scores: dict[str, float] = Field(
        default_factory=lambda: {"clip": 0.2},
        description="per retriever: hits scoring below this do not take part in fusion (a "
        "list of images always has a first one, relevant or not). Model-specific: 0.2 suits "
        "pretrained CLIP ViT-B-32 cosines; see configs/offline.toml for the tiny CLIP",
    )
    context_boost: float = Field(
        default=0.3, ge=0, description="BM25 weight of title/section matches relative to text"
    )
    low_relevance: dict[str, float] = Field(
        # text: multilingual-e5-small's cosines sit high: nonsense queries reach 0.82 with short
        # generic items, the answers of 90% of the dev questions score 0.855 or more
        # calibrated: the fused probability of relevance; it keeps the cross-lingual answers
        # whose cosine and keywords alone look weak (dev_eval tuning half: 0.9 and 0.95 decline
        # the same unanswerable questions, 0.9 answers 0.944 of the others vs 0.927)
        default_factory=lambda: {
            "text": 0.83,
            "clip": 0.2,
            "bm25": 0.5,
            "calibrated": 0.9,
            "rerank": 0.05,
        },
        description="a result is low-relevance unless one signal reaches its threshold: dense "
        "cosine (text, clip; text in any language), share of the query's idf it matches (bm25), "
        "the calibrated fusion's probability (calibrated); once reranked, only the reranker's "
        "probability (rerank) counts",
    )
    rerank: RerankSettings = Field(default_factory=RerankSettings)
    diversity: DiversitySettings = Field(default_factory=DiversitySettings)
