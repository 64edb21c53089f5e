"""Encode a corpus once per unique text and role, and check what the model returned."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

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


class RemoteEncoding(Protocol):
    """Encodes texts somewhere else (a Ray cluster) and writes their vectors into the embedding cache."""

    def encode_into_cache(self, texts: Sequence[str], role: Role, key: str) -> None: ...


class EmbeddingCacheLike:
    """What the embedding stage needs from a cache (the on-disk cache implements this)."""

    def get_many(self, key: str, texts: Sequence[str]) -> tuple[np.ndarray | None, list[int]]:  # pragma: no cover
        raise NotImplementedError

    def put_many(self, key: str, texts: Sequence[str], vectors: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError


DEFAULT_CHUNK = 2048  # texts per cache shard: an interrupted run loses at most one chunk of encoding


def embed_corpus(
    encoder: Encoder,
    texts: Sequence[str],
    role: Role,
    *,
    batch_size: int | None = 32,
    progress: Callable[[int], Progress] | None = None,
    cache: EmbeddingCacheLike | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    remote: RemoteEncoding | None = None,
) -> tuple[Embeddings, EmbeddingStats]:
    """Vectors for ``texts`` (one row each, in order), encoding each unique text once.

    ``batch_size`` None leaves the encoder's own default (a sentence-transformers model sizes it for its device).
    ``progress(total)`` is called once with the number of texts to encode and returns a per-batch callback.
    With a ``cache``, texts already cached are not encoded, and the rest are encoded in chunks of
    ``chunk_size`` texts (longest first, so each chunk pads little), each stored in the cache as soon as it is
    finished: an interrupted run resumes from the last finished chunk. Sparse (lexical) outputs and models whose
    similarity is not "cosine" (BM25: document vectors depend on the fitted collection) are never cached.
    ``remote`` (e.g. the Ray backend) encodes the missing texts into the cache instead of ``encoder``.
    """
    t0 = time.perf_counter()
    size = {} if batch_size is None else {"batch_size": batch_size}  # None: not passed, the encoder's default
    uniq: dict[str, int] = {}
    inverse = np.fromiter((uniq.setdefault(t, len(uniq)) for t in texts), dtype=np.int64, count=len(texts))
    unique_texts = list(uniq)
    meta = encoder.meta
    key = meta.vector_key(role)
    use_cache = cache is not None and meta.similarity == "cosine"
    full: Embeddings | None = None
    todo = list(range(len(unique_texts)))
    if use_cache:
        assert cache is not None
        describe = getattr(cache, "describe", None)
        if callable(describe):
            describe(key, meta.vector_fields(role))
        full, todo = cache.get_many(key, unique_texts)
    n_todo = len(todo)
    cb = progress(n_todo) if progress else None
    if todo and remote is not None:
        if not use_cache:
            raise ModelError(f"model {meta.name}: a remote encoding backend needs the embedding cache")
        assert cache is not None
        remote.encode_into_cache([unique_texts[i] for i in todo], role, key)
        full, todo = cache.get_many(key, unique_texts)
        if todo:
            raise ModelError(f"model {meta.name}: the remote backend left {len(todo)} {role} texts unencoded")
        if cb:
            cb(n_todo)
    elif todo and not use_cache:
        full = validate_embeddings(encoder.encode(unique_texts, role, progress=cb, **size),
                                   len(unique_texts), meta.dim, meta.name, role)
    elif todo:
        assert cache is not None
        order = sorted(todo, key=lambda i: -len(unique_texts[i]))
        step = max(1, int(chunk_size))
        for a in range(0, len(order), step):
            idx = order[a:a + step]
            chunk = [unique_texts[i] for i in idx]
            new = validate_embeddings(encoder.encode(chunk, role, progress=cb, **size),
                                      len(idx), meta.dim, meta.name, role)
            if not isinstance(new, np.ndarray):
                raise ModelError(f"model {meta.name} returned sparse vectors but declares cosine similarity")
            cache.put_many(key, chunk, new)
            if full is None:
                full = np.zeros((len(unique_texts), new.shape[1]), dtype=np.float32)
            assert isinstance(full, np.ndarray)
            full[np.asarray(idx)] = new
    if n_todo and use_cache:
        compact = getattr(cache, "maybe_compact", None)
        if callable(compact):
            compact(key)  # many small shards (interrupted runs) become one; large ones are left alone
    if full is None:  # no texts at all
        full = np.zeros((0, meta.dim or 0), dtype=np.float32)
    out = full[inverse] if not sp.issparse(full) else sp.csr_matrix(full)[inverse]
    stats = EmbeddingStats(role, len(texts), len(unique_texts), n_todo, time.perf_counter() - t0)
    return out, stats


def save_vectors(folder: Path, name: str, vectors: Any, ids: Sequence[str]) -> None:
    """``<name>.npy`` (``.npz`` for sparse vectors) and ``<name>.ids.txt`` (one id per line), written atomically."""
    from ..io import atomic_open

    if sp.issparse(vectors):
        with atomic_open(folder / f"{name}.npz", "wb") as fh:
            sp.save_npz(fh, sp.csr_matrix(vectors))
    else:
        with atomic_open(folder / f"{name}.npy", "wb") as fh:
            np.save(fh, vectors)
    with atomic_open(folder / f"{name}.ids.txt", "w", encoding="utf-8") as fh:
        fh.write("\n".join(ids) + "\n")
