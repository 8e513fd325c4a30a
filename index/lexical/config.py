"""Settings of the lexical (BM25) index."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ingest.analysis import Analyzer, analyzer
from ingest.config import Section


class LexicalSettings(Section):
    enabled: bool = Field(default=True, description="keep a BM25 index beside the vector indexes")
    stem: bool = Field(default=True, description="Snowball-stem English words")
    stop_words: bool = Field(default=True, description="drop English stop words (Snowball list)")
    ja_split: Literal["A", "B", "C"] = Field(
        default="A", description="Sudachi split mode for Japanese: A short units ... C long"
    )
    context: bool = Field(
        default=True, description="also index each item's document title and section"
    )

    @property
    def analyzer(self) -> Analyzer:
        """The text analysis of this index (the same for items and queries)."""
        return analyzer(self.stem, self.stop_words, self.ja_split)

    @property
    def tokenizer_identity(self) -> str:
        return self.analyzer.identity + (";context" if self.context else "")
