"""The embedding stage: every unique (text, role) is encoded once, checked, and (optionally) cached."""

from __future__ import annotations

from .embed import EmbeddingStats, embed_corpus, save_vectors, validate_embeddings

__all__ = ["EmbeddingStats", "embed_corpus", "save_vectors", "validate_embeddings"]
