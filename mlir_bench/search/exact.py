"""Exact (brute-force) search with a running top-k and exact ranks of relevant documents.

Scores are dot products: cosine similarity on L2-normalised dense vectors, or BM25 on sparse vectors.
The pool is streamed in chunks (queries in chunks too), so peak memory is set by the chunk sizes, not the
pool size. Each chunk's scores are scored once and shared by every view (a subset of the pool: one language,
or all of them), so Mono, Cross and Multi come from one matrix product.

Ties follow trec_eval: score descending, then document id descending. Both are folded into one unsigned
64-bit sort key per (query, document): the order-preserving bit pattern of the float32 score in the high 32 bits
and the document's id-order in the low 32 bits. Sorting keys descending is then exactly trec_eval's order, and
rank(d) = 1 + #{d' in view : key(d') > key(d)}.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from .base import SearchResult
from .kernels import count_greater, sort_keys_2d, topk_keys

Matrix = np.ndarray | sp.spmatrix | sp.sparray
DEFAULT_BUDGET = 256 * 2**20  # bytes of score keys held at once


def doc_id_order(doc_ids: Sequence[str]) -> np.ndarray:
    """Position of each id in ascending id order (code-point order, which equals strcmp on UTF-8)."""
    order = np.empty(len(doc_ids), dtype=np.uint64)
    order[np.argsort(np.asarray(doc_ids, dtype=object), kind="stable")] = np.arange(len(doc_ids), dtype=np.uint64)
    return order


def sort_keys(scores: np.ndarray, order: np.ndarray) -> np.ndarray:
    """uint64 keys whose descending order is (score desc, id desc). ``scores`` is float32, any shape."""
    bits = np.ascontiguousarray(scores, dtype=np.float32).view(np.uint32).astype(np.uint64)
    neg = (bits & np.uint64(0x80000000)) != 0
    bits = np.where(neg, np.uint64(0xFFFFFFFF) - bits, bits | np.uint64(0x80000000))
    return (bits << np.uint64(32)) | order


def keys_to_scores(keys: np.ndarray) -> np.ndarray:
    """Invert :func:`sort_keys` for the score part."""
    bits = keys >> np.uint64(32)
    pos = (bits & np.uint64(0x80000000)) != 0
    bits = np.where(pos, bits & np.uint64(0x7FFFFFFF), np.uint64(0xFFFFFFFF) - bits)
    return bits.astype(np.uint32).view(np.float32)


def pad_relevant(relevant: Sequence[Sequence[int]]) -> np.ndarray:
    """Ragged lists of relevant document positions -> (n, max_rel) int64 array padded with -1."""
    width = max((len(r) for r in relevant), default=0)
    out = np.full((len(relevant), max(width, 1)), -1, dtype=np.int64)
    for i, r in enumerate(relevant):
        out[i, : len(r)] = r
    return out


def _scores(q: Matrix, d: Matrix) -> np.ndarray:
    s = q @ d.T
    if sp.issparse(s):
        s = s.toarray()
    return np.asarray(s, dtype=np.float32)


def _merge_topk(keys_a: np.ndarray, idx_a: np.ndarray, keys_b: np.ndarray, idx_b: np.ndarray, k: int):
    keys = np.concatenate([keys_a, keys_b], axis=1)
    idx = np.concatenate([idx_a, idx_b], axis=1)
    if keys.shape[1] > k:
        part = np.argpartition(keys, keys.shape[1] - k, axis=1)[:, -k:]
        keys = np.take_along_axis(keys, part, axis=1)
        idx = np.take_along_axis(idx, part, axis=1)
    order = np.argsort(keys, axis=1)[:, ::-1]
    return np.take_along_axis(keys, order, axis=1), np.take_along_axis(idx, order, axis=1)


def exact_search(
    queries: Matrix,
    docs: Matrix,
    *,
    k: int = 100,
    relevant: np.ndarray | None = None,
    views: Mapping[str, np.ndarray] | None = None,
    doc_order: np.ndarray | None = None,
    memory_budget: int = DEFAULT_BUDGET,
) -> dict[str, SearchResult]:
    """Rank every view of ``docs`` for every query; return top-k and the full-ranking ranks of relevant docs.

    ``relevant`` is (n_queries, max_rel) of document positions, -1 padded (see :func:`pad_relevant`).
    ``views`` maps a name to the sorted document positions it holds (default: one view ``all``).
    ``doc_order`` is the tie-break order of the document ids (see :func:`doc_id_order`); default: position.
    """
    n_q, n_d = queries.shape[0], docs.shape[0]
    if queries.shape[1] != docs.shape[1]:
        raise ValueError(f"query dim {queries.shape[1]} != document dim {docs.shape[1]}")
    views = {"all": np.arange(n_d)} if views is None else dict(views)
    order = np.arange(n_d, dtype=np.uint64) if doc_order is None else np.asarray(doc_order, dtype=np.uint64)
    rel = np.full((n_q, 1), -1, dtype=np.int64) if relevant is None else np.asarray(relevant, dtype=np.int64)
    max_rel = rel.shape[1]
    # memory: a (q_chunk x d_chunk) block of float32 scores plus uint64 keys
    d_chunk = int(min(n_d, max(1024, memory_budget // (12 * 64))))
    q_chunk = int(max(1, min(n_q, memory_budget // (12 * max(d_chunk, 1)))))
    masks = {}
    for name, v in views.items():
        m = np.zeros(n_d, dtype=bool)
        m[np.asarray(v, dtype=np.int64)] = True
        masks[name] = m
    out: dict[str, SearchResult] = {}
    kk = {name: min(k, int(m.sum())) for name, m in masks.items()}
    top_keys = {n: np.zeros((n_q, kk[n]), dtype=np.uint64) for n in views}
    top_idx = {n: np.full((n_q, kk[n]), -1, dtype=np.int64) for n in views}
    greater = {n: np.zeros((n_q, max_rel), dtype=np.int64) for n in views}
    valid = rel >= 0
    rel_safe = np.where(valid, rel, 0)
    rel_scores = np.full((n_q, max_rel), np.nan, dtype=np.float32)
    rows_all = np.arange(n_q)
    for q0 in range(0, n_q, q_chunk):
        q1 = min(n_q, q0 + q_chunk)
        qc = queries[q0:q1]
        rows = rows_all[: q1 - q0][:, None]
        rsafe = rel_safe[q0:q1]
        # The relevant documents' keys are read out of the very blocks that are ranked, so a document is never
        # compared with a differently-rounded copy of its own score (BLAS results can depend on block shape).
        rkeys = np.zeros((q1 - q0, max_rel), dtype=np.uint64)
        chunks = [(d0, min(n_d, d0 + d_chunk)) for d0 in range(0, n_d, d_chunk)]
        blocks: dict[int, np.ndarray] = {}
        for d0, d1 in chunks:
            hit = (rsafe >= d0) & (rsafe < d1)
            if not hit.any():
                continue
            keys = sort_keys_2d(_scores(qc, docs[d0:d1]), order[d0:d1])
            rk = keys[rows, np.clip(rsafe - d0, 0, d1 - d0 - 1)]
            rkeys = np.where(hit, rk, rkeys)
            if len(chunks) == 1:
                blocks[d0] = keys
        rel_scores[q0:q1] = np.where(valid[q0:q1], keys_to_scores(rkeys), np.nan)
        seen = dict.fromkeys(masks, False)
        for d0, d1 in chunks:
            keys = blocks.pop(d0, None)
            if keys is None:
                keys = sort_keys_2d(_scores(qc, docs[d0:d1]), order[d0:d1])
            for name, m in masks.items():
                cols = np.flatnonzero(m[d0:d1])
                if cols.size == 0:
                    continue
                g = greater[name][q0:q1]
                count_greater(keys, cols, rkeys, g)
                greater[name][q0:q1] = g
                ck, ci = topk_keys(keys, cols, kk[name], d0)
                if seen[name]:
                    top_keys[name][q0:q1], top_idx[name][q0:q1] = _merge_topk(
                        top_keys[name][q0:q1], top_idx[name][q0:q1], ck, ci, kk[name])
                else:  # the first chunk holding docs of this view: nothing to merge with yet
                    top_keys[name][q0:q1], top_idx[name][q0:q1] = ck, ci
                    seen[name] = True
    for name, m in masks.items():
        in_view = valid & m[rel_safe]
        kq = kk[name]
        pad = k - kq
        t_idx = top_idx[name]
        t_sc = keys_to_scores(top_keys[name])
        t_sc = np.where(t_idx >= 0, t_sc, -np.inf).astype(np.float32)
        if pad > 0:
            t_idx = np.concatenate([t_idx, np.full((n_q, pad), -1, dtype=np.int64)], axis=1)
            t_sc = np.concatenate([t_sc, np.full((n_q, pad), -np.inf, dtype=np.float32)], axis=1)
        ri, rr, rsc = _compact(in_view, rel, greater[name] + 1, rel_scores)
        out[name] = SearchResult(t_idx, t_sc, ri, rr, rsc, int(m.sum()))
    return out


def _compact(mask: np.ndarray, rel: np.ndarray, ranks: np.ndarray, scores: np.ndarray):
    """Keep the masked entries of each row, left-aligned and padded (-1, 0, nan), sorted by rank."""
    width = max(1, int(mask.sum(axis=1).max(initial=0)))
    key = np.where(mask, ranks, np.iinfo(np.int64).max)
    order = np.argsort(key, axis=1, kind="stable")[:, :width]
    m = np.take_along_axis(mask, order, axis=1)
    ri = np.where(m, np.take_along_axis(rel, order, axis=1), -1)
    rr = np.where(m, np.take_along_axis(ranks, order, axis=1), 0)
    rs = np.where(m, np.take_along_axis(scores, order, axis=1), np.nan).astype(np.float32)
    return ri, rr, rs
