"""Settings of grounded question answering (the ``[rag]`` section).

An LLM is picked by name: a key of ``rag.llms`` (named configurations in the TOML file) or a
shorthand ``BACKEND[:MODEL]``, e.g. ``extractive``, ``openai:gpt-4o-mini``, ``ollama:llama3.2``,
``llamacpp:/models/qwen2.5-3b-instruct-q4_k_m.gguf`` or ``llamacpp:builtin:gemma3-270m``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ingest.config import Section

Backend = Literal["extractive", "openai", "ollama", "llamacpp"]
Rewrite = Literal["auto", "llm", "heuristic", "off"]


class LLMSettings(Section):
    """One chat model. Secrets are never stored here: ``api_key_env`` names the variable."""

    backend: Backend = "extractive"
    model: str | None = Field(
        default=None,
        description="model name (openai/ollama) or GGUF path / builtin:gemma3-270m (llamacpp)",
    )
    base_url: str | None = Field(
        default=None, description="OpenAI-compatible or Ollama endpoint, e.g. http://host:8000/v1"
    )
    base_url_env: str | None = Field(
        default="OPENAI_BASE_URL", description="environment variable read when base_url is unset"
    )
    api_key_env: str | None = Field(
        default="OPENAI_API_KEY", description="environment variable that holds the API key"
    )
    multimodal: bool = Field(default=False, description="send images as image parts")
    mmproj: str | None = Field(
        default=None, description="llamacpp: multimodal projector GGUF (enables images)"
    )
    context_tokens: int | None = Field(
        default=None, ge=256, description="context window; None: the model's own, else 8192"
    )
    max_tokens: int = Field(default=512, ge=16, description="answer length reserved")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    timeout_s: float = Field(default=60.0, gt=0, description="per request (connect and read)")
    retries: int = Field(default=2, ge=0, le=10, description="transient failures retried")
    threads: int | None = Field(default=None, ge=1, description="llamacpp: CPU threads")
    chat_format: str | None = Field(
        default=None,
        description="llamacpp: llama-cpp-python chat format; None: the GGUF's own template",
    )
    cpu_extra_buffers: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="llamacpp: llama.cpp extra buffer types (weight repacking, AMX); auto: off "
        "on CPUs with AMX, whose kernels crash on some machines",
    )
    seed: int = 0


class SentenceModel(Section):
    """How likely a sentence is to answer the question (``app.rag.extractive``): a logistic
    model fitted by ``python -m benchmarks.dev_eval.fit_answers`` on the tuning half of the
    development questions, for multilingual-e5-small."""

    # fitted on the tuning half (benchmarks/results/fit_answers.json)
    bias: float = -12.465
    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "semantic": 3.555,
            "semantic_gap": 3.770,
            "lexical": 3.373,
            "key_terms": -0.436,
            "typed": 2.095,
            "passage": 7.843,
            "rank": 1.563,
        }
    )


class RagSettings(Section):
    llm: str = Field(default="extractive", description="a key of rag.llms or BACKEND[:MODEL]")
    llms: dict[str, LLMSettings] = Field(default_factory=dict)
    k: int = Field(default=6, ge=1, le=100, description="sources retrieved per question")
    rewrite: Rewrite = Field(
        default="auto",
        description="follow-up rewriting: auto = the LLM when there is one, else heuristic",
    )
    support_threshold: float = Field(
        default=0.55, ge=0.0, le=1.0, description="support score below which a citation fails"
    )
    # tuning half: with up to 3 sentences (each from its own passage, each at least half as
    # likely as the best) the answer or a cited passage holds the answer 0.75 of the time vs
    # 0.72 with 2, for answers 208 characters long on average instead of 171
    answer_sentences: int = Field(
        default=3, ge=1, le=10, description="extractive: sentences in an answer at most"
    )
    # tuning half (51 unanswerable questions), cross-validated, after the key-term check (which
    # alone declines 0.82 of them): 0.6 declines 0.86 and answers 0.93 of the answerable ones;
    # 0.65: 0.88 / 0.93; 0.7: 0.88 / 0.88; 0.75: 0.90 / 0.75. 0.65 comes closest to both goals
    # (0.90 / 0.85) at once (benchmarks/results/fit_answers.json)
    min_sentence_score: float = Field(
        default=0.65,
        ge=0.0,
        le=1.0,
        description="evidence gate: below this probability that the best sentence answers, "
        "the answer is 'not found' (also the weakest sentence an extractive answer quotes)",
    )
    sentence_model: SentenceModel = Field(default_factory=SentenceModel)
    source_chars: int = Field(default=2400, ge=200, description="longest source text in a prompt")
    image_tokens: int = Field(
        default=800, ge=0, description="tokens budgeted per image part (multimodal models)"
    )
    image_max_px: int = Field(default=1024, ge=64, description="longest image side sent")
