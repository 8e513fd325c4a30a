"""Stage 2: embeddings in a text space and a shared CLIP space, persisted in FAISS."""
