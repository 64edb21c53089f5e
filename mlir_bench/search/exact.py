"""Exact (brute-force) search with a running top-k and exact ranks of relevant documents.

Scores are dot products: cosine similarity on L2-normalised dense vectors, or BM25 on sparse vectors.
The pool is streamed in chunks (queries in chunks too), so peak memory is set by the chunk sizes, not the
pool size. Each block of scores is computed once and read once: the pool is split into atoms (documents that
belong to the same views), each document updates its atom's top-k heap and rank counts, and every view (a subset
of the pool: one language, or all of them) is assembled from its atoms, so Mono, Cross and Multi come from one
matrix product and one pass over it.

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
from .kernels import fused_pass, keys_to_scores, sort_keys

Matrix = np.ndarray | sp.spmatrix | sp.sparray
DEFAULT_BUDGET = 256 * 2**20  # bytes of score keys held at once


def doc_id_order(doc_ids: Sequence[str]) -> np.ndarray:
    """Position of each id in ascending id order (code-point order, which equals strcmp on UTF-8)."""
    order = np.empty(len(doc_ids), dtype=np.uint64)
    order[np.argsort(np.asarray(doc_ids, dtype=object), kind="stable")] = np.arange(len(doc_ids), dtype=np.uint64)
    return order


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


def view_atoms(masks: Sequence[np.ndarray], n_d: int) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Split the pool into atoms: maximal sets of documents that belong to exactly the same views.

    Returns ``atom`` (n_d,) int64 (-1 for documents in no view), the atoms of each view, and each atom's size.
    Every view is a union of atoms, so per-atom top-k lists and rank counts combine into per-view ones: each
    document is looked at once, however many views hold it (Mono, Cross and Multi share one pass).
    """
    if not masks:
        return np.full(n_d, -1, dtype=np.int64), [], np.zeros(0, dtype=np.int64)
    member = np.stack(masks)  # (n_views, n_d) bool
    sig = np.packbits(member, axis=0)  # (ceil(n_views / 8), n_d)
    uniq, inverse = np.unique(sig.T, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    in_none = ~uniq.any(axis=1)
    # renumber so that the atom of no view gets -1 and the others 0..A-1
    remap = np.full(len(uniq), -1, dtype=np.int64)
    remap[~in_none] = np.arange(int((~in_none).sum()))
    atom = remap[inverse]
    n_atoms = int((~in_none).sum())
    sizes = np.bincount(atom[atom >= 0], minlength=n_atoms).astype(np.int64)
    first = np.full(n_atoms, -1, dtype=np.int64)  # a representative document of each atom
    ok = atom >= 0
    first[atom[ok][::-1]] = np.flatnonzero(ok)[::-1]
    view_atoms_ = [np.flatnonzero(m[first]) for m in masks]
    return atom, view_atoms_, sizes


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

    Each (query block x document block) of scores is computed once and read once (:func:`kernels.fused_pass`):
    every document feeds the top-k heap and the rank counts of its atom (see :func:`view_atoms`), and views
    are then assembled from their atoms.
    """
    n_q, n_d = queries.shape[0], docs.shape[0]
    if queries.shape[1] != docs.shape[1]:
        raise ValueError(f"query dim {queries.shape[1]} != document dim {docs.shape[1]}")
    views = {"all": np.arange(n_d)} if views is None else dict(views)
    order = np.arange(n_d, dtype=np.uint64) if doc_order is None else np.asarray(doc_order, dtype=np.uint64)
    rel = np.full((n_q, 1), -1, dtype=np.int64) if relevant is None else np.asarray(relevant, dtype=np.int64)
    max_rel = rel.shape[1]
    masks: dict[str, np.ndarray] = {}
    for name, v in views.items():
        m = np.zeros(n_d, dtype=bool)
        m[np.asarray(v, dtype=np.int64)] = True
        masks[name] = m
    names = list(masks)
    atom, atoms_of, sizes = view_atoms([masks[nm] for nm in names], n_d)
    n_atoms = len(sizes)
    # documents grouped by atom (those in no view dropped), so the kernel walks long runs of one atom
    perm = np.argsort(atom, kind="stable")
    perm = perm[atom[perm] >= 0]
    identity = len(perm) == n_d and bool((perm == np.arange(n_d)).all())
    if not identity:
        docs = docs[perm]
        order = order[perm]
        atom = atom[perm]
    inv = np.full(n_d, -1, dtype=np.int64)
    inv[perm] = np.arange(len(perm))
    n_dp = len(perm)
    kcap = max(1, min(k, int(sizes.max(initial=0))))
    cap = np.minimum(sizes, k).astype(np.int64)
    # memory: a (q_chunk x d_chunk) float32 score block, plus per query the atoms' heaps (16 bytes an entry)
    d_chunk = int(min(max(n_dp, 1), max(1024, memory_budget // (4 * 64))))
    per_row = 4 * d_chunk + 16 * n_atoms * kcap + 8 * n_atoms * (max_rel + 1)
    q_chunk = int(max(1, min(n_q, memory_budget // per_row)))
    valid = rel >= 0
    rel_safe = np.where(valid, rel, 0)
    relp = np.where(valid, inv[rel_safe], -1)  # positions in the grouped pool (-1: padding or in no view)
    valid_p = relp >= 0
    relp_safe = np.where(valid_p, relp, 0)
    kk = {nm: min(k, int(masks[nm].sum())) for nm in names}
    top_idx = {nm: np.full((n_q, k), -1, dtype=np.int64) for nm in names}
    top_sc = {nm: np.full((n_q, k), -np.inf, dtype=np.float32) for nm in names}
    greater = {nm: np.zeros((n_q, max_rel), dtype=np.int64) for nm in names}
    rel_scores = np.full((n_q, max_rel), np.nan, dtype=np.float32)
    chunks = [(d0, min(n_dp, d0 + d_chunk)) for d0 in range(0, n_dp, d_chunk)]
    for q0 in range(0, n_q, q_chunk):
        q1 = min(n_q, q0 + q_chunk)
        nq = q1 - q0
        qc = queries[q0:q1]
        rows = np.arange(nq)[:, None]
        rsafe = relp_safe[q0:q1]
        # The relevant documents' keys are read out of the very blocks that are ranked, so a document is never
        # compared with a differently-rounded copy of its own score (BLAS results can depend on block shape).
        rkeys = np.zeros((nq, max_rel), dtype=np.uint64)
        blocks: dict[int, np.ndarray] = {}
        for d0, d1 in chunks:
            hit = (rsafe >= d0) & (rsafe < d1) & valid_p[q0:q1]
            if not hit.any():
                continue
            block = _scores(qc, docs[d0:d1])
            rk = sort_keys(block[rows, np.clip(rsafe - d0, 0, d1 - d0 - 1)], order[d0:d1][np.clip(rsafe - d0, 0, d1 - d0 - 1)])
            rkeys = np.where(hit, rk, rkeys)
            if len(chunks) == 1:
                blocks[d0] = block
        rel_scores[q0:q1] = np.where(valid_p[q0:q1], keys_to_scores(rkeys), np.nan)
        rperm = np.argsort(rkeys, axis=1, kind="stable")
        rk_sorted = np.ascontiguousarray(np.take_along_axis(rkeys, rperm, axis=1))
        heap_k = np.zeros((nq, n_atoms, kcap), dtype=np.uint64)
        heap_i = np.full((nq, n_atoms, kcap), -1, dtype=np.int64)
        heap_n = np.zeros((nq, n_atoms), dtype=np.int64)
        above = np.zeros((nq, n_atoms, max_rel), dtype=np.int64)  # columns with a key > each relevant key
        for d0, d1 in chunks:
            block = blocks.pop(d0, None)
            if block is None:
                block = _scores(qc, docs[d0:d1])
            fused_pass(block, order[d0:d1], atom[d0:d1], d0, rk_sorted, cap, heap_k, heap_i, heap_n, above)
            del block
        # greater-than counts per sorted relevant key, summed over the view's atoms, then back to input order
        for nm in names:
            ats = atoms_of[names.index(nm)]
            g_sorted = above[:, ats, :].sum(axis=1)
            g = np.empty_like(g_sorted)
            np.put_along_axis(g, rperm, g_sorted, axis=1)
            greater[nm][q0:q1] = g
            kq = kk[nm]
            if kq == 0:
                continue
            ck = heap_k[:, ats, :].reshape(nq, -1)
            ci = heap_i[:, ats, :].reshape(nq, -1)
            if ck.shape[1] > kq:
                part = np.argpartition(ck, ck.shape[1] - kq, axis=1)[:, -kq:]
                ck = np.take_along_axis(ck, part, axis=1)
                ci = np.take_along_axis(ci, part, axis=1)
            o = np.argsort(ck, axis=1)[:, ::-1]
            top_idx[nm][q0:q1, :kq] = perm[np.take_along_axis(ci, o, axis=1)]
            top_sc[nm][q0:q1, :kq] = keys_to_scores(np.take_along_axis(ck, o, axis=1))
    out: dict[str, SearchResult] = {}
    for nm, m in masks.items():
        in_view = valid & m[rel_safe]
        ri, rr, rsc = _compact(in_view, rel, greater[nm] + 1, rel_scores)
        out[nm] = SearchResult(top_idx[nm], top_sc[nm], ri, rr, rsc, int(m.sum()))
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
