"""The lexical index: a persistent, incremental BM25 index over ``ingest.analysis`` terms."""

from index.lexical.config import LexicalSettings
from index.lexical.store import LexicalIndex, LexicalIndexError, LexicalMismatchError

__all__ = ["LexicalIndex", "LexicalIndexError", "LexicalMismatchError", "LexicalSettings"]
