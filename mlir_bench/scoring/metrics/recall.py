"""Recall, precision and hit rate at a cutoff."""

from __future__ import annotations

import numpy as np


def _hits(rel_ranks: np.ndarray, k: int | None) -> np.ndarray:
    found = rel_ranks > 0
    if k is not None:
        found &= rel_ranks <= k
    return found.sum(axis=1).astype(np.float64)


def recall(rel_ranks: np.ndarray, n_rel: np.ndarray, k: int | None = None) -> np.ndarray:
    """Recall@k(q) = |{d in R_q : rank(d) <= k}| / |R_q|."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return _hits(rel_ranks, k) / np.asarray(n_rel, dtype=np.float64)


def precision(rel_ranks: np.ndarray, n_rel: np.ndarray, k: int | None = None) -> np.ndarray:
    """P@k(q) = |{d in R_q : rank(d) <= k}| / k (trec_eval P_k: k in the denominator even past the pool)."""
    assert k is not None
    return _hits(rel_ranks, k) / float(k)


def hit_rate(rel_ranks: np.ndarray, n_rel: np.ndarray, k: int | None = None) -> np.ndarray:
    """Hit@k(q) = 1 if any relevant document is ranked <= k, else 0 (ranx ``hit_rate``, trec ``success``)."""
    return (_hits(rel_ranks, k) > 0).astype(np.float64)
