"""Embedding backends behind one interface; ``factory`` builds the configured ones."""

from index.embedders.base import ImageEmbedder, ModelIdentity, TextEmbedder

__all__ = ["ImageEmbedder", "ModelIdentity", "TextEmbedder"]
