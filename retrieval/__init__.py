"""Stage 3: hybrid retrieval (BM25 + dense + cross-modal), fusion and reranking."""
