"""Language-bias scorers for mixed-language pools (docs/PROTOCOLS.md §3): rank distance, MRC@k, PEER@k, TLR@k,
language preference.

Every scorer takes the arrays search produces (see :class:`mlir_bench.search.base.SearchResult`) plus the
language of every query and document, and returns one value per query: float, ``nan`` where the score is undefined
for that query. :func:`summarize_by_language` turns a per-query array into the per-language means, their
macro-average and the count of undefined (skipped) queries.

Conventions shared by all scorers:

- ``rel_ranks`` (n_q, max_rel) int: 1-based rank of each relevant document in the FULL ranking, 0 = padding.
- ``rel_idx`` (n_q, max_rel) int: document positions of the relevant documents, -1 = padding (the valid mask).
- ``top_idx`` (n_q, k) int: document positions of the top k, best first, -1 = padding.
- ``doc_langs`` (n_docs,) str: language per document position; ``query_langs`` (n_q,) str: language per query.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
from scipy import sparse
from scipy.stats import chi2

Vectors: TypeAlias = np.ndarray | sparse.spmatrix | sparse.sparray

# ---------------------------------------------------------------------------------------------- helpers


def _encode(*lang_arrays: np.ndarray) -> tuple[list[str], list[np.ndarray]]:
    """Map several string arrays onto one shared sorted code space: (labels, one int array per input)."""
    arrays = [np.asarray(a).astype(str) for a in lang_arrays]
    labels, inverse = np.unique(np.concatenate(arrays), return_inverse=True)
    out, start = [], 0
    for a in arrays:
        out.append(inverse[start : start + a.size].reshape(a.shape))
        start += a.size
    return [str(x) for x in labels], out


def _check_rows(name: str, arr: np.ndarray, n_q: int) -> None:
    if arr.ndim != 2 or arr.shape[0] != n_q:
        raise ValueError(f"{name} must have shape (n_queries={n_q}, m), got {arr.shape}")


def summarize_by_language(values: np.ndarray, query_langs: np.ndarray) -> dict:
    """Average a per-query score per query language, then macro-average over languages.

    ``nan`` marks a query whose score is undefined; such queries are excluded from every mean and counted in
    ``n_undefined`` (docs/PROTOCOLS.md §1: skip and report). A language whose queries are all undefined gets
    ``None`` and is left out of the macro-average. ``micro`` is the plain mean over all defined queries (PEER@k
    in MIMO is this mean). Undefined values are returned as ``None`` so the result is JSON-safe.

    Returns ``{"per_language": {lang: mean}, "macro", "micro", "n_queries", "n_undefined",
    "n_undefined_per_language": {lang: count}}``.
    """
    values = np.asarray(values, dtype=np.float64)
    query_langs = np.asarray(query_langs).astype(str)
    if values.shape != query_langs.shape:
        raise ValueError(f"values {values.shape} and query_langs {query_langs.shape} differ in shape")
    defined = ~np.isnan(values)
    per_language: dict[str, float | None] = {}
    undefined: dict[str, int] = {}
    for lang in sorted(set(query_langs.tolist())):
        sel = query_langs == lang
        ok = sel & defined
        per_language[lang] = float(values[ok].mean()) if ok.any() else None
        undefined[lang] = int((sel & ~defined).sum())
    scored = [v for v in per_language.values() if v is not None]
    return {
        "per_language": per_language,
        "macro": float(np.mean(scored)) if scored else None,
        "micro": float(values[defined].mean()) if defined.any() else None,
        "n_queries": int(values.size),
        "n_undefined": int((~defined).sum()),
        "n_undefined_per_language": undefined,
    }


# ---------------------------------------------------------------------------------------------- rank distance


def rank_distance(rel_ranks: np.ndarray, rel_idx: np.ndarray) -> np.ndarray:
    """Rank distance per query: RD(q) = max_{d ∈ R_q} rank_q(d) − min_{d ∈ R_q} rank_q(d).

    Source: Elmahdy, Lin, Ahmad 2024 (arXiv 2408.10536), after Huang et al. 2023; docs/PROTOCOLS.md §3. Meant
    for the Multi setting, on ranks in the full ranking. Lower means less bias. Summarise with
    :func:`summarize_by_language` (mean per query language, then macro). A query with no relevant document in the
    pool is undefined (``nan``); one with a single relevant document scores 0, as the formula gives.
    """
    rel_ranks = np.asarray(rel_ranks)
    rel_idx = np.asarray(rel_idx)
    valid = rel_idx >= 0
    hi = np.where(valid, rel_ranks, np.iinfo(np.int64).min).max(axis=1)
    lo = np.where(valid, rel_ranks, np.iinfo(np.int64).max).min(axis=1)
    return np.where(valid.any(axis=1), (hi - lo).astype(np.float64), np.nan)


# ---------------------------------------------------------------------------------------------- TLR@k


def target_language_recall(
    rel_ranks: np.ndarray, rel_idx: np.ndarray, doc_langs: np.ndarray, query_langs: np.ndarray, k: int
) -> np.ndarray:
    """TLR@k per query: |top_k(q) ∩ R_q^other| / |R_q^other|, R_q^other = relevant documents not in q's language.

    Source: SHIFT (Jang, Hong, Moon, Lim 2026, arXiv 2606.18801); docs/PROTOCOLS.md §3. A relevant
    document is in the top k iff its full-ranking rank is ≤ k. Undefined (``nan``) when a query has no relevant
    document in another language (e.g. every query of the Mono setting).
    """
    rel_ranks, rel_idx = np.asarray(rel_ranks), np.asarray(rel_idx)
    _, (dcodes, qcodes) = _encode(doc_langs, query_langs)
    _check_rows("rel_idx", rel_idx, qcodes.size)
    valid = rel_idx >= 0
    other = valid & (dcodes[np.where(valid, rel_idx, 0)] != qcodes[:, None])
    hits = other & (rel_ranks <= k)
    n_other = other.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_other > 0, hits.sum(axis=1) / n_other, np.nan)


# ---------------------------------------------------------------------------------------------- PEER@k


def peer(rel_ranks: np.ndarray, rel_idx: np.ndarray, doc_langs: np.ndarray, k: int) -> np.ndarray:
    """PEER@k per query: the Kruskal–Wallis p-value of the relevant documents' ranks grouped by document language.

    Source: Yang et al., SIGIR 2024, in MIMO's simplified form (``src/mimo/evaluation/metrics.py``);
    docs/PROTOCOLS.md §3.
    Ranks beyond k count as k+1. With N relevant documents, average ranks r_i over the N cut-off ranks (ties get
    the mean rank), groups g of size n_g and rank sums R_g:

        H = [12 / (N(N+1)) · Σ_g R_g² / n_g − 3(N+1)] / (1 − Σ_ties (t³ − t) / (N³ − N)),   p = χ²_sf(H, G − 1)

    identical to ``scipy.stats.kruskal``, vectorised over queries. Higher is fairer.

    - All cut-off ranks equal (including no relevant document in the top k): p = 1.0 (MIMO).
    - Fewer than two document-language groups (a single relevant language, or no relevant document): undefined,
      ``nan``; MIMO skips these queries too. :func:`summarize_by_language` excludes and counts them.
    """
    rel_ranks, rel_idx = np.asarray(rel_ranks), np.asarray(rel_idx)
    _, (dcodes,) = _encode(doc_langs)
    valid = rel_idx >= 0
    codes = np.where(valid, dcodes[np.where(valid, rel_idx, 0)], -1)
    r = np.where(valid, np.minimum(rel_ranks, k + 1), 0).astype(np.float64)
    # Average ranks of the cut-off ranks within each query's valid entries.
    less = ((r[:, None, :] < r[:, :, None]) & valid[:, None, :]).sum(axis=2)
    equal = ((r[:, None, :] == r[:, :, None]) & valid[:, None, :]).sum(axis=2)
    avg = np.where(valid, less + (equal + 1) / 2.0, 0.0)
    n = valid.sum(axis=1).astype(np.float64)
    tie_sum = np.where(valid, equal.astype(np.float64) ** 2 - 1.0, 0.0).sum(axis=1)  # Σ_ties t³ − t
    ssbn = np.zeros(len(r))
    n_groups = np.zeros(len(r), dtype=np.int64)
    for code in np.unique(codes[valid]):
        member = codes == code
        n_g = member.sum(axis=1)
        s_g = (avg * member).sum(axis=1)
        ssbn += np.where(n_g > 0, s_g**2 / np.maximum(n_g, 1), 0.0)
        n_groups += n_g > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        ties = 1.0 - tie_sum / (n**3 - n)
        h = (12.0 / (n * (n + 1.0)) * ssbn - 3.0 * (n + 1.0)) / ties
        p = chi2.sf(h, np.maximum(n_groups - 1, 1))
    p = np.where(ties <= 0, 1.0, p)
    return np.where(n_groups >= 2, p, np.nan)


# ---------------------------------------------------------------------------------------------- language preference


def _top_codes(top_idx: np.ndarray, dcodes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    top = np.asarray(top_idx)
    if k > top.shape[1]:
        raise ValueError(f"k={k} exceeds the {top.shape[1]} columns of top_idx")
    top = top[:, :k]
    valid = top >= 0
    return np.where(valid, dcodes[np.where(valid, top, 0)], -1), valid


def own_language_share(
    top_idx: np.ndarray, doc_langs: np.ndarray, query_langs: np.ndarray, k: int
) -> np.ndarray:
    """Share of a query's top k written in the query's own language: |{d ∈ top_k(q) : lang(d) = lang(q)}| / |top_k(q)|.

    Source: docs/PROTOCOLS.md §3 ("language preference", descriptive); the definition is ours. Padding (-1) is
    not counted, so a view shorter than k divides by its length. Undefined (``nan``) for a query with an empty top
    list. Compare with :func:`pool_language_shares` — a share above the pool share means the model prefers its own
    language.
    """
    _, (dcodes, qcodes) = _encode(doc_langs, query_langs)
    codes, valid = _top_codes(top_idx, dcodes, k)
    n_valid = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_valid > 0, (codes == qcodes[:, None]).sum(axis=1) / n_valid, np.nan)


def pool_language_shares(doc_langs: np.ndarray, view: np.ndarray | None = None) -> dict[str, float]:
    """Share of the pool in each language: |{d ∈ pool : lang(d) = ℓ}| / |pool|. ``view`` restricts the pool to
    those document positions (a Mono or Cross view); default: every document."""
    langs = np.asarray(doc_langs).astype(str)
    if view is not None:
        langs = langs[np.asarray(view)]
    labels, counts = np.unique(langs, return_counts=True)
    return {str(lang): float(c / langs.size) for lang, c in zip(labels, counts, strict=True)}


def language_preference(
    top_idx: np.ndarray,
    doc_langs: np.ndarray,
    query_langs: np.ndarray,
    k: int,
    view: np.ndarray | None = None,
) -> dict[str, dict[str, float | None]]:
    """Language preference per query language ℓ: the mean :func:`own_language_share` at k of ℓ's queries, beside
    ℓ's share of the pool (``pool_share``) and their ratio (> 1: the model over-retrieves its own language).

    Source: docs/PROTOCOLS.md §3 (descriptive); the ratio is ours. Returns
    ``{lang: {"top_k_share", "pool_share", "ratio"}}``.
    """
    share = own_language_share(top_idx, doc_langs, query_langs, k)
    summary = summarize_by_language(share, query_langs)
    pool = pool_language_shares(doc_langs, view)
    out: dict[str, dict[str, float | None]] = {}
    for lang, top_share in summary["per_language"].items():
        pool_share = pool.get(lang, 0.0)
        ratio = top_share / pool_share if top_share is not None and pool_share > 0 else None
        out[lang] = {"top_k_share": top_share, "pool_share": pool_share, "ratio": ratio}
    return out


def language_share_matrix(
    top_idx: np.ndarray, doc_langs: np.ndarray, query_langs: np.ndarray, k: int
) -> tuple[np.ndarray, list[str], list[str]]:
    """M[a, b] = mean over the queries of language a of the share of their top k in document language b.

    Source: docs/PROTOCOLS.md §3 (language preference, per language pair); the matrix form is ours. Rows are the
    sorted query languages, columns the sorted document languages of ``doc_langs``; each row sums to 1 (queries
    with an empty top list are left out; a row with none is ``nan``). Returns (M, row_labels, col_labels).
    """
    labels, (dcodes, qcodes) = _encode(doc_langs, query_langs)
    codes, valid = _top_codes(top_idx, dcodes, k)
    n_valid = valid.sum(axis=1)
    rows = np.unique(qcodes)
    cols = np.unique(dcodes)
    keep = n_valid > 0
    matrix = np.full((rows.size, cols.size), np.nan)
    for j, col in enumerate(cols):
        share = np.zeros(len(codes))
        share[keep] = (codes[keep] == col).sum(axis=1) / n_valid[keep]
        for i, row in enumerate(rows):
            sel = keep & (qcodes == row)
            if sel.any():
                matrix[i, j] = share[sel].mean()
    return matrix, [labels[c] for c in rows], [labels[c] for c in cols]


# ---------------------------------------------------------------------------------------------- MRC@k


def _masked_average_ranks(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Row-wise average ranks (1-based, ties share their mean rank) among the valid entries; 0 elsewhere.

    Sort-based, O(m log m) per row: invalid entries become +inf so they sort after every valid one.
    """
    x = np.where(valid, x, np.inf)
    order = np.argsort(x, axis=1, kind="stable")
    s = np.take_along_axis(x, order, axis=1)
    m = x.shape[1]
    idx = np.broadcast_to(np.arange(m), x.shape)
    first = np.ones(x.shape, dtype=bool)
    first[:, 1:] = s[:, 1:] != s[:, :-1]
    if np.all(first | np.isinf(s)):  # no ties among the finite (valid) scores: ranks are positions
        sorted_ranks = idx + 1.0
    else:
        last = np.ones(x.shape, dtype=bool)
        last[:, :-1] = first[:, 1:]
        start = np.maximum.accumulate(np.where(first, idx, 0), axis=1)
        end = np.minimum.accumulate(np.where(last, idx, m - 1)[:, ::-1], axis=1)[:, ::-1]
        sorted_ranks = (start + end) / 2.0 + 1.0
    ranks = np.empty(x.shape)
    np.put_along_axis(ranks, order, sorted_ranks, axis=1)
    return np.where(valid, ranks, 0.0)


def masked_spearman(a: np.ndarray, b: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Row-wise Spearman correlation of ``a`` and ``b`` (shape (n, m)) over the entries where ``valid`` is true.

    ρ = Pearson(rank(a), rank(b)) with average ranks for ties, as ``scipy.stats.spearmanr``. ``nan`` where fewer
    than two entries are valid or either side is constant on them (scipy returns nan there too).
    """
    ra, rb = _masked_average_ranks(a, valid), _masked_average_ranks(b, valid)
    n = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        da = np.where(valid, ra - ra.sum(axis=1, keepdims=True) / n[:, None], 0.0)
        db = np.where(valid, rb - rb.sum(axis=1, keepdims=True) / n[:, None], 0.0)
        den = np.sqrt((da**2).sum(axis=1) * (db**2).sum(axis=1))
        r = np.clip((da * db).sum(axis=1) / den, -1.0, 1.0)
    return np.where((n >= 2) & (den > 0), r, np.nan)


def _one_blas_thread() -> contextlib.AbstractContextManager[object]:
    """Many tiny matrix products are fastest on one BLAS thread (a threaded OpenBLAS is ~10× slower here)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _group_scores(query_vecs: Vectors, doc_vecs: Vectors, top: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Score every query against the top-k lists of every member of its group.

    Returns S (n_q, s_max·k): S[q, m·k + j] = s(q, top[member m of q's group, j]) (undefined where padded).
    Work: one small product per group, on the union of the group's top lists.
    """
    n_q, k = top.shape
    out = np.zeros((n_q, table.shape[1] * k))
    with _one_blas_thread():
        for row in table:
            members = row[row >= 0]
            t = top[members]
            union = np.unique(t[t >= 0])
            if union.size == 0:
                continue
            scores = query_vecs[members] @ doc_vecs[union].T
            if sparse.issparse(scores):
                scores = scores.toarray()
            pos = np.searchsorted(union, t).clip(max=union.size - 1)
            out[members, : members.size * k] = np.asarray(scores, dtype=np.float64)[:, pos.ravel()]
    return out


def rank_correlation_at(
    query_vecs: Vectors,
    doc_vecs: Vectors,
    top_idx: np.ndarray,
    query_langs: np.ndarray,
    group_ids: np.ndarray,
    ks: Sequence[int] = (5, 10, 20),
    chunk: int = 8192,
) -> dict[int, np.ndarray]:
    """RC_i(a)@k per query, × 100, for each k in ``ks``: ``{k: array (n_q,)}``.

    RC_i(a) = mean over the other queries b of a's parallel group i of 100 · ρ(s(q_a, ·), s(q_b, ·)) on
    U = top_k(q_a) ∪ top_k(q_b), ρ Spearman's correlation and s the dot product of the vectors (cosine on
    L2-normalised vectors). Source: Yang, Jiang, Baldwin 2024 (EMNLP MRL), as implemented by MIMO
    ``src/mimo/evaluation/metrics.py``; docs/PROTOCOLS.md §3. MRC@k(a) = mean over groups of RC_i(a), i.e.
    :func:`summarize_by_language` of this array, and MRC@k is their macro-average. Higher is fairer.

    ``query_vecs`` / ``doc_vecs`` may be dense arrays or scipy sparse matrices (BM25); scores are ``q @ d.T``.
    Parallel queries share a ``group_ids`` value; two queries of one language in one group raise ValueError.
    Undefined cases, as MIMO: a pair whose ρ is undefined (|U| < 2, or constant scores on U) is left out of the
    mean over b; a query alone in its group, or whose pairs are all undefined, is ``nan``.
    """
    top_all = np.asarray(top_idx)
    n_q = top_all.shape[0]
    kmax = max(ks)
    if kmax > top_all.shape[1]:
        raise ValueError(f"k={kmax} exceeds the {top_all.shape[1]} columns of top_idx")
    top = top_all[:, :kmax]
    _, (qcodes,) = _encode(query_langs)
    gcodes = np.unique(np.asarray(group_ids), return_inverse=True)[1].reshape(-1)
    if qcodes.size != n_q or gcodes.size != n_q:
        raise ValueError("query_langs and group_ids need one entry per row of top_idx")
    if np.unique(gcodes * (qcodes.max(initial=0) + 1) + qcodes).size != n_q:
        raise ValueError("a parallel group holds two queries of the same language")
    if not sparse.issparse(query_vecs):
        query_vecs = np.asarray(query_vecs)
    if not sparse.issparse(doc_vecs):
        doc_vecs = np.asarray(doc_vecs)

    # Member table: row g lists the queries of group g (slot order = query order), -1 padded.
    order = np.argsort(gcodes, kind="stable")
    sizes = np.bincount(gcodes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    slot = np.empty(n_q, dtype=np.int64)
    slot[order] = np.arange(n_q) - np.repeat(starts, sizes)
    table = np.full((sizes.size, sizes.max(initial=1)), -1, dtype=np.int64)
    table[gcodes, slot] = np.arange(n_q)
    table = table[sizes >= 2]
    scores = _group_scores(query_vecs, doc_vecs, top, table)

    iu, ju = np.triu_indices(table.shape[1], 1)
    a, b = table[:, iu].ravel(), table[:, ju].ravel()
    keep = (a >= 0) & (b >= 0)
    a, b = a[keep], b[keep]
    slot_a, slot_b = slot[a], slot[b]

    out: dict[int, np.ndarray] = {}
    for k in ks:
        corr = np.empty(a.size)
        for s in range(0, a.size, chunk):
            pa, pb = a[s : s + chunk], b[s : s + chunk]
            ta, tb = top[pa, :k], top[pb, :k]
            dup = (tb[:, :, None] == ta[:, None, :]).any(axis=2)
            valid = np.concatenate([ta >= 0, (tb >= 0) & ~dup], axis=1)
            cols = np.concatenate(
                [
                    slot_a[s : s + chunk, None] * kmax + np.arange(k),
                    slot_b[s : s + chunk, None] * kmax + np.arange(k),
                ],
                axis=1,
            )
            corr[s : s + chunk] = masked_spearman(scores[pa[:, None], cols], scores[pb[:, None], cols], valid)
        ok = ~np.isnan(corr)
        ends = np.concatenate([a[ok], b[ok]])
        total = np.bincount(ends, weights=np.concatenate([corr[ok], corr[ok]]), minlength=n_q)
        count = np.bincount(ends, minlength=n_q)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[k] = np.where(count > 0, 100.0 * total / count, np.nan)
    return out


def rank_correlation(
    query_vecs: Vectors,
    doc_vecs: Vectors,
    top_idx: np.ndarray,
    query_langs: np.ndarray,
    group_ids: np.ndarray,
    k: int,
) -> np.ndarray:
    """RC_i(a)@k × 100 per query for one k; see :func:`rank_correlation_at` (formula, source, undefined cases)."""
    return rank_correlation_at(query_vecs, doc_vecs, top_idx, query_langs, group_ids, ks=(k,))[k]
