"""The lexical index: language-aware tokens and a persistent, incremental BM25 index."""

from index.lexical.config import LexicalSettings
from index.lexical.store import LexicalIndex, LexicalIndexError, LexicalMismatchError
from index.lexical.tokenize import Tokenizer, tokenizer

__all__ = [
    "LexicalIndex",
    "LexicalIndexError",
    "LexicalMismatchError",
    "LexicalSettings",
    "Tokenizer",
    "tokenizer",
]
