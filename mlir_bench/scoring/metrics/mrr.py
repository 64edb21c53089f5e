"""Reciprocal rank of the first relevant document."""

from __future__ import annotations

import numpy as np


def reciprocal_rank(rel_ranks: np.ndarray, n_rel: np.ndarray, k: int | None = None) -> np.ndarray:
    """RR@k(q) = 1 / min_{d in R_q} rank(d) if that rank <= k, else 0. MRR is the mean over queries."""
    r = np.where(rel_ranks > 0, rel_ranks, np.iinfo(np.int64).max)
    first = r.min(axis=1).astype(np.float64)
    ok = first < np.iinfo(np.int64).max
    if k is not None:
        ok &= first <= k
    return np.where(ok, 1.0 / np.where(ok, first, 1.0), 0.0)
