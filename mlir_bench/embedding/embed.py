"""Encode a corpus once per unique text and role, and check what the model returned."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..encoders.base import Embeddings, Encoder, Progress, Role
from ..errors import ModelError


@dataclass
class EmbeddingStats:
    role: str
    n_texts: int
    n_unique: int
    n_encoded: int  # unique texts actually sent to the model (the rest came from the cache)
    seconds: float

    @property
    def texts_per_second(self) -> float:
        return self.n_encoded / self.seconds if self.seconds > 0 and self.n_encoded else float("nan")


def validate_embeddings(x: Any, n: int, meta_dim: int | None, model: str, role: str) -> Embeddings:
    """Reject a model output with the wrong type, count or dimension, or with NaN/inf values."""
    if sp.issparse(x):
        x = sp.csr_matrix(x)
        data = x.data
    elif isinstance(x, np.ndarray):
        data = x
    else:
        raise ModelError(f"model {model} returned {type(x).__name__} for {role} texts, expected a numpy array")
    if x.ndim != 2 or x.shape[0] != n:
        raise ModelError(f"model {model} returned shape {x.shape} for {n} {role} texts, expected ({n}, dim)")
    if meta_dim is not None and x.shape[1] != meta_dim:
        raise ModelError(f"model {model} returned dimension {x.shape[1]} for {role} texts, expected {meta_dim}")
    if not np.isfinite(data).all():
        bad = int((~np.isfinite(data)).sum())
        raise ModelError(f"model {model} returned {bad} NaN/inf values for {role} texts, expected finite vectors")
    if isinstance(x, np.ndarray):
        x = np.ascontiguousarray(x, dtype=np.float32)
    return x


class EmbeddingCacheLike:
    """What the embedding stage needs from a cache (the on-disk cache implements this)."""

    def get_many(self, key: str, texts: Sequence[str]) -> tuple[np.ndarray | None, list[int]]:  # pragma: no cover
        raise NotImplementedError

    def put_many(self, key: str, texts: Sequence[str], vectors: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError


def embed_corpus(
    encoder: Encoder,
    texts: Sequence[str],
    role: Role,
    *,
    batch_size: int = 32,
    progress: Callable[[int], Progress] | None = None,
    cache: EmbeddingCacheLike | None = None,
) -> tuple[Embeddings, EmbeddingStats]:
    """Vectors for ``texts`` (one row each, in order), encoding each unique text once.

    ``progress(total)`` is called once with the number of texts to encode and returns a per-batch callback.
    Sparse (lexical) outputs are never cached.
    """
    t0 = time.perf_counter()
    uniq: dict[str, int] = {}
    inverse = np.fromiter((uniq.setdefault(t, len(uniq)) for t in texts), dtype=np.int64, count=len(texts))
    unique_texts = list(uniq)
    key = encoder.meta.vector_key(role)
    cached: np.ndarray | None = None
    todo = list(range(len(unique_texts)))
    if cache is not None and encoder.meta.similarity == "cosine":
        cached, todo = cache.get_many(key, unique_texts)
    cb = progress(len(todo)) if progress else None
    if todo:
        new = encoder.encode([unique_texts[i] for i in todo], role, batch_size=batch_size, progress=cb)
        new = validate_embeddings(new, len(todo), encoder.meta.dim, encoder.meta.name, role)
        if cache is not None and isinstance(new, np.ndarray) and encoder.meta.similarity == "cosine":
            cache.put_many(key, [unique_texts[i] for i in todo], new)
    else:
        new = None
    if cached is None:
        assert new is not None
        full = new
    else:
        full = cached
        if new is not None and len(todo):
            full[np.asarray(todo)] = new
    out = full[inverse] if not sp.issparse(full) else sp.csr_matrix(full)[inverse]
    stats = EmbeddingStats(role, len(texts), len(unique_texts), len(todo), time.perf_counter() - t0)
    return out, stats
