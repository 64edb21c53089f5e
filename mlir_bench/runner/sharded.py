"""The runner's path for pools of any size: encode the pool into shards on disk, search by streaming them.

Used when ``RunConfig.shard_size`` is set or the pool holds more than :data:`AUTO_SHARD_DOCS` documents, for
dense encoders only (a lexical model needs its whole pool fitted in memory anyway). Pool vectors are never
held in memory at once: peak memory is one shard of vectors plus one (queries x shard) block of scores. The
pool's ids and texts still come from the task in memory.

The store lives in ``RunConfig.shards_dir`` (default ``<cache>/shards``), in a folder named after the model's
document vector key and a fingerprint of the pool (ids and texts in order), so a rerun reuses a complete store
and an interrupted one resumes after its last finished shard; inside a shard, texts already in the embedding
cache are not encoded again.

Optionally (``RunConfig.ann``) a faiss index is built over the store and its recall@k against the exact top-k
is measured for every cell that ranks the whole pool; the result records it under ``pool.ann``. Scores are
always the exact ones.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..embedding import embed_corpus
from ..embedding.embed import EmbeddingStats
from ..encoders.base import Encoder
from ..search import SearchResult
from ..search.sharded import ShardedStore, encode_to_shards, store_folder
from ..tasks import TaskData

AUTO_SHARD_DOCS = 2_000_000
DEFAULT_SHARD_SIZE = 100_000


@dataclass
class ShardedPool:
    store: ShardedStore
    stats: EmbeddingStats
    info: dict[str, Any] = field(default_factory=dict)


def wants_shards(shard_size: int | None, n_docs: int, encoder: Encoder) -> bool:
    """Sharded when asked for, or automatically above :data:`AUTO_SHARD_DOCS`, for dense encoders only."""
    if callable(getattr(encoder, "fit", None)):
        return False
    return shard_size is not None or n_docs > AUTO_SHARD_DOCS


def pool_fingerprint(ids: list[str], texts: list[str]) -> str:
    h = hashlib.sha256()
    for i, t in zip(ids, texts, strict=True):
        for s in (i, t):
            b = s.encode("utf-8", "surrogatepass")
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)
    return h.hexdigest()


def encode_pool(task: TaskData, encoder: Encoder, *, shards_dir: Path, shard_size: int | None,
                batch_size: int, cache: Any = None, progress: Any = None) -> ShardedPool:
    """Encode (or reuse) the pool's vectors as a shard store."""
    shard_size = int(shard_size or DEFAULT_SHARD_SIZE)
    key = encoder.meta.vector_key("document")
    fp = pool_fingerprint(task.docs.ids, task.docs.texts)
    folder = store_folder(shards_dir, f"{key}|{fp}|{shard_size}")
    stats = {"encoded": 0, "unique": 0}

    def encode(texts: list[str]) -> np.ndarray:
        vecs, st = embed_corpus(encoder, texts, "document", batch_size=batch_size, cache=cache)
        stats["encoded"] += st.n_encoded
        stats["unique"] += st.n_unique
        return np.asarray(vecs, dtype=np.float32)

    dim = encoder.meta.dim
    if dim is None:  # probe once (cheap: one text)
        dim = int(encode(task.docs.texts[:1]).shape[1])
        stats["encoded"] = stats["unique"] = 0
    bar = progress(len(task.docs)) if progress is not None else None
    t0 = time.perf_counter()
    store, info = encode_to_shards(encode, task.docs.ids, task.docs.texts, folder, dim=int(dim),
                                   shard_size=shard_size, meta={"vector_key": key, "pool": fp}, progress=bar)
    seconds = time.perf_counter() - t0
    est = EmbeddingStats("document", len(task.docs), stats["unique"], stats["encoded"], seconds)
    return ShardedPool(store, est, {"sharded": True, "folder": str(folder), "shard_size": shard_size,
                                    "shards": len(store.shards), "dtype": store.dtype, **info})


def measure_ann(task: TaskData, qv: np.ndarray, store: ShardedStore, searched: dict[str, SearchResult], *,
                kind: str, k: int, threads: int | None = None) -> dict[str, Any]:
    """Build a faiss index over the store; recall@k of its top-k against the exact top-k, per whole-pool cell."""
    from ..search.faiss_index import build_index, recall_at_k

    index = build_index(store, kind, threads=threads)
    cells: dict[str, Any] = {}
    t0 = time.perf_counter()
    for c in task.cells:
        if len(c.doc_idx) != store.n:  # a view (one language of a pooled task): the index holds the whole pool
            continue
        exact = searched[f"{c.setting}/{c.name}"].top_idx
        _, approx = index.search(np.asarray(qv)[c.query_idx], k)
        r = recall_at_k(approx, exact, k)
        cells[f"{c.setting}/{c.name}"] = {"n_queries": int(len(c.query_idx)),
                                          f"recall@{k}_vs_exact": float(np.nanmean(r)) if len(r) else None}
    vals = [v[f"recall@{k}_vs_exact"] for v in cells.values() if v[f"recall@{k}_vs_exact"] is not None]
    return {**index.describe(), "k": k, "search_seconds": round(time.perf_counter() - t0, 3),
            f"mean_recall@{k}_vs_exact": float(np.mean(vals)) if vals else None, "cells": cells}


class StoreRows:
    """Row access to a shard store for the stages that read a few pool vectors (e.g. bias analysis):
    ``rows[positions]`` reads only the shards holding them. ``np.asarray(rows)`` loads everything."""

    def __init__(self, store: ShardedStore) -> None:
        self.store = store
        self.shape = store.shape
        self.ndim = 2
        self.dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return self.store.n

    def __getitem__(self, idx: Any) -> np.ndarray:
        if isinstance(idx, slice):
            return self.store.vectors(np.arange(self.store.n)[idx])
        arr = np.asarray(idx)
        if arr.dtype == bool:
            arr = np.flatnonzero(arr)
        if arr.ndim == 0:
            return self.store.vectors(arr.reshape(1))[0]
        return self.store.vectors(arr.reshape(-1)).reshape(*arr.shape, self.store.dim)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.store.vectors(np.arange(self.store.n))
        return out if dtype is None else out.astype(dtype)
