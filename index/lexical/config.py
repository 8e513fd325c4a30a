"""Settings of the lexical (BM25) index."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ingest.config import Section


class LexicalSettings(Section):
    enabled: bool = Field(default=True, description="keep a BM25 index beside the vector indexes")
    stem: bool = Field(default=True, description="Snowball-stem English words")
    stop_words: bool = Field(default=True, description="drop English stop words (Lucene list)")
    ja_split: Literal["A", "B", "C"] = Field(
        default="A", description="Sudachi split mode for Japanese: A short units ... C long"
    )
    context: bool = Field(
        default=True, description="also index each item's document title and section"
    )

    @property
    def tokenizer_identity(self) -> str:
        from index.lexical.tokenize import tokenizer

        ident = tokenizer(self.stem, self.stop_words, self.ja_split).identity
        return ident + (";context" if self.context else "")
