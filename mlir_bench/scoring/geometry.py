"""Embedding-geometry scorers (docs/PROTOCOLS.md §3): alignment and uniformity, their cross-lingual variants, and
a language-clustering diagnostic.

Alignment and uniformity are Wang & Isola 2020 (arXiv 2005.10242); lower is better for both. The cross-lingual
variants (XL-align per language pair, the per-language-pair uniformity matrix) and the same- vs cross-language
cosine are OURS: MIMO's exact definition is unknown (docs/PROTOCOLS.md §3), so every docstring below says which
is which.

All functions take dense float arrays (rows are items), L2-normalise them first (a zero row stays zero), and work in
float64. On unit vectors ‖x − y‖² = 2 − 2·cos(x, y), which is how distances are computed (Gram matrices, BLAS).
Sampled quantities use ``np.random.default_rng(seed)`` and report the sample size they used.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import sparse

DEFAULT_SAMPLE_SIZE = 2000


class PairMatrix(NamedTuple):
    """A per-language-pair matrix: ``matrix[a, b]`` for ``labels[a]``, ``labels[b]``, over ``counts[a, b]`` pairs;
    ``overall`` pools every counted pair off the diagonal (a ≠ b)."""

    matrix: np.ndarray
    labels: list[str]
    counts: np.ndarray
    overall: float


def _rows(vecs: np.ndarray) -> np.ndarray:
    """``vecs`` as a 2-D dense array (not copied); sparse input is refused."""
    if sparse.issparse(vecs):
        raise TypeError("geometry scorers take dense vectors; convert sparse (BM25) vectors first")
    x = np.asarray(vecs)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors, got shape {x.shape}")
    return x


def normalize(vecs: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm, as float64; rows of norm 0 stay 0."""
    x = _rows(vecs).astype(np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def subsample(n: int, sample_size: int, seed: int) -> np.ndarray:
    """Sorted positions of a uniform sample without replacement of min(n, sample_size) of n items, drawn with
    ``np.random.default_rng(seed)``; all n positions when n ≤ sample_size."""
    if n <= sample_size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=sample_size, replace=False))


def _sq_dists(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """‖x_i − y_j‖² for unit rows: 2 − 2·x_i·y_j, clipped at 0."""
    return np.maximum(2.0 - 2.0 * (x @ y.T), 0.0)


# ---------------------------------------------------------------------------------------------- Wang & Isola


def alignment(x: np.ndarray, y: np.ndarray, alpha: float = 2.0) -> float:
    """align = E_{(x, y) ~ positive pairs} ‖f(x) − f(y)‖^α, α = 2; row i of ``x`` and of ``y`` form a pair.

    Source: Wang & Isola 2020, ℒ_align (arXiv 2005.10242, eq. 2); docs/PROTOCOLS.md §3. Lower is better.
    ``nan`` for no pairs.
    """
    xn, yn = normalize(x), normalize(y)
    if xn.shape != yn.shape:
        raise ValueError(f"paired arrays differ in shape: {xn.shape} vs {yn.shape}")
    if len(xn) == 0:
        return math.nan
    d2 = np.maximum(2.0 - 2.0 * np.einsum("ij,ij->i", xn, yn), 0.0)
    return float(np.mean(d2 ** (alpha / 2.0)))


def _log_mean_exp(d2: np.ndarray, t: float) -> float:
    """log mean exp(−t·d²), computed stably (log-sum-exp)."""
    z = -t * d2
    top = z.max()
    return float(top + np.log(np.mean(np.exp(z - top))))


def uniformity(
    vecs: np.ndarray, t: float = 2.0, sample_size: int = DEFAULT_SAMPLE_SIZE, seed: int = 0
) -> tuple[float, int]:
    """uniform = log E_{x ≠ y} exp(−t‖f(x) − f(y)‖²), t = 2, over all distinct pairs of a sample.

    Source: Wang & Isola 2020, ℒ_uniform (arXiv 2005.10242, eq. 3); docs/PROTOCOLS.md §3. Lower is better
    (more uniform).
    The pairwise computation is O(n²), so rows are first subsampled to at most ``sample_size`` with
    :func:`subsample` (fixed seed, deterministic). Returns (value, sample size used); ``nan`` below 2 rows.
    """
    x = _rows(vecs)
    x = normalize(x[subsample(len(x), sample_size, seed)])
    n = len(x)
    if n < 2:
        return math.nan, n
    iu = np.triu_indices(n, 1)
    return _log_mean_exp(_sq_dists(x, x)[iu], t), n


def uniformity_by_language(
    vecs: np.ndarray,
    langs: np.ndarray,
    t: float = 2.0,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    seed: int = 0,
) -> dict:
    """:func:`uniformity` over the pooled multilingual sample (XL-uniform, docs/PROTOCOLS.md §3 — ours) and per
    language.

    The pooled value samples the pool as a whole (so languages weigh by their size); each language is sampled
    separately, with the same seed. Returns ``{"pooled": {"uniform", "n"}, "per_language": {lang: {"uniform",
    "n"}}, "t", "sample_size", "seed"}``; an undefined value (fewer than 2 rows) is ``None``.
    """
    x = _rows(vecs)
    langs = np.asarray(langs).astype(str)
    if langs.shape != (len(x),):
        raise ValueError(f"langs must have one entry per vector ({len(x)}), got shape {langs.shape}")

    def entry(rows: np.ndarray) -> dict[str, float | int | None]:
        value, n = uniformity(rows, t=t, sample_size=sample_size, seed=seed)
        return {"uniform": None if math.isnan(value) else value, "n": n}

    return {
        "pooled": entry(x),
        "per_language": {lang: entry(x[langs == lang]) for lang in sorted(set(langs.tolist()))},
        "t": t,
        "sample_size": sample_size,
        "seed": seed,
    }


# ---------------------------------------------------------------------------------------------- cross-lingual (ours)


def _language_samples(langs: np.ndarray, per_language: int, seed: int) -> tuple[list[str], list[np.ndarray]]:
    labels = sorted(set(langs.tolist()))
    rows = []
    for lang in labels:
        members = np.flatnonzero(langs == lang)
        rows.append(members[subsample(members.size, per_language, seed)])
    return labels, rows


def uniformity_matrix(
    vecs: np.ndarray, langs: np.ndarray, t: float = 2.0, per_language: int = 200, seed: int = 0
) -> PairMatrix:
    """U[a, b] = log E exp(−t‖f(x) − f(y)‖²) over x in language a, y in language b (x ≠ y on the diagonal).

    OURS (docs/PROTOCOLS.md §3: the cross-lingual variants per language pair; MIMO's definition is unknown).
    Each language is subsampled to at most ``per_language`` rows (fixed seed). The diagonal is per-language
    uniformity; off-diagonal cells near the diagonal values mean languages mix, much lower (more negative) cells
    mean they sit apart. ``counts`` holds the number of pairs per cell; ``overall`` pools all cross-language pairs.
    """
    x = _rows(vecs)
    langs = np.asarray(langs).astype(str)
    labels, rows = _language_samples(langs, per_language, seed)
    samples = [normalize(x[r]) for r in rows]
    size = len(labels)
    matrix = np.full((size, size), np.nan)
    counts = np.zeros((size, size), dtype=np.int64)
    cross_z: list[np.ndarray] = []
    for a in range(size):
        for b in range(a, size):
            d2 = _sq_dists(samples[a], samples[b])
            if a == b:
                d2 = d2[np.triu_indices(len(samples[a]), 1)]
            else:
                d2 = d2.ravel()
                cross_z.append(d2)
            counts[a, b] = counts[b, a] = d2.size
            if d2.size:
                matrix[a, b] = matrix[b, a] = _log_mean_exp(d2, t)
    pooled = np.concatenate(cross_z) if cross_z else np.zeros(0)
    overall = _log_mean_exp(pooled, t) if pooled.size else math.nan
    return PairMatrix(matrix, labels, counts, overall)


def xl_alignment(
    vecs: np.ndarray, langs: np.ndarray, group_ids: np.ndarray, alpha: float = 2.0
) -> PairMatrix:
    """XL-align[a, b] = E ‖f(x_a) − f(x_b)‖^α over the parallel groups that have an item in both a and b.

    OURS (docs/PROTOCOLS.md §3: MIMO's cross-lingual definition is unknown): Wang & Isola's alignment with
    positive pairs = the same item in two languages — the same question, or the same answer sentence, in
    languages a ≠ b. Items
    sharing a ``group_ids`` value are parallel; a group with two items in one language raises ValueError. The
    matrix is symmetric with a ``nan`` diagonal; ``counts[a, b]`` is the number of groups used; ``overall`` is the
    mean over every cross-language parallel pair (each unordered pair once). Lower is better.
    """
    x = normalize(vecs)
    langs = np.asarray(langs).astype(str)
    labels, lcodes = np.unique(langs, return_inverse=True)
    gcodes = np.unique(np.asarray(group_ids), return_inverse=True)[1].reshape(-1)
    if lcodes.size != len(x) or gcodes.size != len(x):
        raise ValueError("langs and group_ids need one entry per vector")
    size = labels.size
    table = np.full((gcodes.max(initial=-1) + 1, size), -1, dtype=np.int64)
    table[gcodes, lcodes] = np.arange(len(x))
    if (table >= 0).sum() != len(x):
        raise ValueError("a parallel group holds two items of the same language")
    matrix = np.full((size, size), np.nan)
    counts = np.zeros((size, size), dtype=np.int64)
    total, n_pairs = 0.0, 0
    for a in range(size):
        for b in range(a + 1, size):
            both = (table[:, a] >= 0) & (table[:, b] >= 0)
            if not both.any():
                continue
            xa, xb = x[table[both, a]], x[table[both, b]]
            d = np.maximum(2.0 - 2.0 * np.einsum("ij,ij->i", xa, xb), 0.0) ** (alpha / 2.0)
            matrix[a, b] = matrix[b, a] = d.mean()
            counts[a, b] = counts[b, a] = d.size
            total += float(d.sum())
            n_pairs += d.size
    return PairMatrix(matrix, [str(x) for x in labels], counts, total / n_pairs if n_pairs else math.nan)


def query_doc_alignment(
    query_vecs: np.ndarray,
    doc_vecs: np.ndarray,
    rel_idx: np.ndarray,
    query_langs: np.ndarray,
    doc_langs: np.ndarray,
    chunk: int = 2048,
) -> dict[str, float | int | None]:
    """Alignment over (query, relevant document) positive pairs: E ‖f(q) − f(d)‖², d ∈ R_q (-1 pads ``rel_idx``).

    Source: Wang & Isola's ℒ_align with the qrels as positive pairs; the split into same-language
    (lang(d) = lang(q)) and cross-language pairs is ours. Returns ``{"all", "same_language", "cross_language",
    "n_pairs", "n_same", "n_cross"}``; a mean over no pairs is ``None``.
    """
    q, d = normalize(query_vecs), normalize(doc_vecs)
    rel_idx = np.asarray(rel_idx)
    qlangs, dlangs = np.asarray(query_langs).astype(str), np.asarray(doc_langs).astype(str)
    sums = {"same": 0.0, "cross": 0.0}
    counts = {"same": 0, "cross": 0}
    for s in range(0, len(q), chunk):
        idx = rel_idx[s : s + chunk]
        valid = idx >= 0
        safe = np.where(valid, idx, 0)
        d2 = np.maximum(2.0 - 2.0 * np.einsum("qd,qmd->qm", q[s : s + chunk], d[safe]), 0.0)
        same = valid & (dlangs[safe] == qlangs[s : s + chunk, None])
        for key, mask in (("same", same), ("cross", valid & ~same)):
            sums[key] += float(d2[mask].sum())
            counts[key] += int(mask.sum())
    n = counts["same"] + counts["cross"]

    def mean(total: float, count: int) -> float | None:
        return total / count if count else None

    return {
        "all": mean(sums["same"] + sums["cross"], n),
        "same_language": mean(sums["same"], counts["same"]),
        "cross_language": mean(sums["cross"], counts["cross"]),
        "n_pairs": n,
        "n_same": counts["same"],
        "n_cross": counts["cross"],
    }


def language_clustering(
    vecs: np.ndarray, langs: np.ndarray, sample_size: int = DEFAULT_SAMPLE_SIZE, seed: int = 0
) -> dict[str, float | int | None]:
    """Mean cosine of same-language pairs against cross-language pairs, on a fixed-seed sample of the pool.

    OURS (a diagnostic, no paper): same = E cos(x, y) over distinct pairs with lang(x) = lang(y), cross = E cos(x, y)
    over pairs with lang(x) ≠ lang(y); gap = same − cross. A gap near 0 means the space does not cluster by
    language. Returns ``{"same_language", "cross_language", "gap", "n", "n_same_pairs", "n_cross_pairs"}``
    (``None`` for a mean over no pairs).
    """
    x = _rows(vecs)
    langs = np.asarray(langs).astype(str)
    rows = subsample(len(x), sample_size, seed)
    x, codes = normalize(x[rows]), np.unique(langs[rows], return_inverse=True)[1]
    n = len(x)
    cos = x @ x.T
    same = codes[:, None] == codes[None, :]
    np.fill_diagonal(same, False)
    cross = codes[:, None] != codes[None, :]
    n_same, n_cross = int(same.sum()) // 2, int(cross.sum()) // 2
    same_mean = float(cos[same].mean()) if n_same else None
    cross_mean = float(cos[cross].mean()) if n_cross else None
    gap = same_mean - cross_mean if same_mean is not None and cross_mean is not None else None
    return {
        "same_language": same_mean,
        "cross_language": cross_mean,
        "gap": gap,
        "n": n,
        "n_same_pairs": n_same,
        "n_cross_pairs": n_cross,
    }
