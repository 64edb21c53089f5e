"""Approximate search with faiss over a shard store, and its recall@k against exact search.

Kinds (inner product, i.e. cosine on L2-normalised vectors):

- ``ivf``: ``IndexIVFFlat`` (``nlist`` coarse centroids, ``nprobe`` probed): fast, exact vectors in RAM.
- ``ivfpq``: ``IndexIVFPQ`` (``pq_m`` sub-quantisers x 8 bits): compressed codes, for pools larger than RAM
  (docs/PROTOCOLS.md §6: trained once on a sample, then filled shard by shard). d=384 with pq_m=48 is 48 bytes
  a vector.
- ``hnsw``: ``IndexHNSWFlat`` (``hnsw_m`` links, ``ef_search``): graph search, exact vectors in RAM.

The index is filled one shard at a time from :class:`~mlir_bench.search.sharded.ShardedStore`, so building it
never holds more than one shard of float32 vectors besides the index itself. ANN results are never scored as
the benchmark's numbers: :func:`recall_at_k` measures them against the exact top-k, and the runner records that
measurement next to the exact scores.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UserError
from .sharded import ShardedStore

KINDS = ("ivf", "ivfpq", "hnsw")


@dataclass
class AnnIndex:
    kind: str
    index: Any
    n: int
    params: dict[str, Any] = field(default_factory=dict)
    build_seconds: float = 0.0

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, positions) best first, (n_queries, k); -1 / -inf where fewer than k were found."""
        q = np.ascontiguousarray(queries, dtype=np.float32)
        scores, idx = self.index.search(q, min(k, self.n))
        if idx.shape[1] < k:
            pad = k - idx.shape[1]
            idx = np.concatenate([idx, np.full((len(q), pad), -1, dtype=idx.dtype)], axis=1)
            scores = np.concatenate([scores, np.full((len(q), pad), -np.inf, dtype=scores.dtype)], axis=1)
        scores = np.where(idx >= 0, scores, -np.inf).astype(np.float32)
        return scores, idx.astype(np.int64)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "n": self.n, "params": self.params, "build_seconds": round(self.build_seconds, 3)}


def _faiss():  # type: ignore[no-untyped-def]
    try:
        import faiss
    except ImportError:
        raise UserError("approximate search needs faiss: pip install faiss-cpu") from None
    return faiss


def build_index(
    store: ShardedStore,
    kind: str = "ivf",
    *,
    nlist: int | None = None,
    nprobe: int | None = None,
    pq_m: int | None = None,
    hnsw_m: int = 32,
    ef_search: int = 128,
    train_size: int | None = None,
    seed: int = 0,
    threads: int | None = None,
) -> AnnIndex:
    """Train (IVF kinds, on a seeded sample of rows) and fill the index shard by shard."""
    if kind not in KINDS:
        raise UserError(f"ANN index kind {kind!r} is unknown; expected one of {', '.join(KINDS)}")
    if store.n == 0:
        raise UserError("cannot build an ANN index over an empty pool")
    faiss = _faiss()
    if threads:
        faiss.omp_set_num_threads(int(threads))
    t0 = time.perf_counter()
    d, n = store.dim, store.n
    params: dict[str, Any] = {}
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = ef_search
        params = {"hnsw_m": hnsw_m, "ef_search": ef_search}
    else:
        nlist = int(nlist or max(1, min(int(4 * math.sqrt(n)), n // 39 or 1)))
        quantizer = faiss.IndexFlatIP(d)
        if kind == "ivf":
            index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        else:
            pq_m = int(pq_m or _default_pq_m(d))
            if d % pq_m:
                raise UserError(f"ivfpq: pq_m={pq_m} must divide the dimension {d}")
            index = faiss.IndexIVFPQ(quantizer, d, nlist, pq_m, 8, faiss.METRIC_INNER_PRODUCT)
            params["pq_m"] = pq_m
        n_train = int(min(n, train_size or max(39 * nlist, 10_000)))
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(n, n_train, replace=False))
        index.train(store.vectors(sample))
        index.nprobe = int(nprobe or min(nlist, 32))
        params.update({"nlist": nlist, "nprobe": int(index.nprobe), "train_size": n_train, "seed": seed})
    for _s, vec, _order in store.iter_shards():
        index.add(np.ascontiguousarray(vec, dtype=np.float32))
    return AnnIndex(kind, index, n, params, time.perf_counter() - t0)


def _default_pq_m(d: int) -> int:
    for m in (48, 32, 24, 16, 12, 8, 4, 2, 1):
        if d % m == 0 and m <= d:
            return m
    return 1


def recall_at_k(ann_idx: np.ndarray, exact_idx: np.ndarray, k: int) -> np.ndarray:
    """Per query: |ANN top-k ∩ exact top-k| / |exact top-k| (positions; -1 padding ignored)."""
    out = np.full(len(exact_idx), np.nan)
    for i, (a, e) in enumerate(zip(ann_idx[:, :k], exact_idx[:, :k], strict=True)):
        e = e[e >= 0]
        if e.size:
            out[i] = np.intersect1d(a[a >= 0], e).size / e.size
    return out
