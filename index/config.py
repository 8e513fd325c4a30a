"""Settings of the index stage: which embedding models, which FAISS index."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from index.lexical.config import LexicalSettings
from index.vector_store import MilvusSettings, VectorStoreSettings
from ingest.config import Section


class EmbedSettings(Section):
    text_model: str = Field(
        default="intfloat/multilingual-e5-small",
        description="sentence-transformers model for passages (hub name, local path or builtin:)",
    )
    query_prefix: str | None = Field(
        default=None, description="prefix for queries; default: 'query: ' for E5 models"
    )
    passage_prefix: str | None = Field(
        default=None, description="prefix for passages; default: 'passage: ' for E5 models"
    )
    clip_model: str = Field(
        default="ViT-B-32",
        description="open_clip model name, 'local-dir:/path', 'hf-hub:...' or builtin:tiny-clip; "
        "multilingual: xlm-roberta-base-ViT-B-32",
    )
    clip_pretrained: str | None = Field(
        default="laion2b_s34b_b79k",
        description="open_clip pretrained tag or checkpoint path (multilingual: laion5b_s13b_b90k)",
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    text_backend: Literal["auto", "torch", "onnx"] = Field(
        default="auto",
        description="how the text model runs: torch (GPU, fp16 on CUDA), onnx (int8 ONNX Runtime, "
        "CPU); auto: torch on a GPU, onnx on a CPU (torch when the export fails)",
    )
    batch_size: int = Field(default=32, ge=1)
    threads: int | None = Field(default=None, description="torch/faiss CPU threads; None: all")

    @property
    def clip_name(self) -> str:
        """The CLIP identity as one string: 'model' or 'model@pretrained'."""
        return (
            f"{self.clip_model}@{self.clip_pretrained}" if self.clip_pretrained else self.clip_model
        )


class IndexSettings(Section):
    backend: Literal["faiss", "milvus"] = Field(
        default="faiss",
        description="where vectors live: FAISS files in the store, or Milvus (index.milvus); "
        "changing it needs `mmrag reindex`",
    )
    milvus: MilvusSettings = Field(default_factory=MilvusSettings)
    factory: str | None = Field(
        default=None,
        description="FAISS factory string; None: exact search for small stores, ANN beyond "
        "store.ann_threshold vectors",
    )
    embed_images: bool = True
    passage_context: bool = Field(
        default=True,
        description="embed each text item headed by its document title and section path "
        "(changing it needs `mmrag reindex`)",
    )
    store: VectorStoreSettings = Field(default_factory=VectorStoreSettings)
    lexical: LexicalSettings = Field(default_factory=LexicalSettings)
