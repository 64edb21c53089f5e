"""Average precision over the full ranking (trec_eval ``map``; ``map_cut_k`` with a cutoff)."""

from __future__ import annotations

import numpy as np


def average_precision(rel_ranks: np.ndarray, n_rel: np.ndarray, k: int | None = None) -> np.ndarray:
    """AP(q) = (1/|R_q|) * sum_{i=1..|R_q|} i / r_i, with r_1 < r_2 < ... the ranks of the relevant documents.

    With a cutoff k only r_i <= k contribute; the denominator stays |R_q| (trec_eval's map_cut).
    ``rel_ranks`` is (n, m) with 0 padding; ranks need not be sorted.
    """
    r = np.where(rel_ranks > 0, rel_ranks, np.iinfo(np.int64).max).astype(np.float64)
    r.sort(axis=1)
    found = np.isfinite(r) & (r < np.iinfo(np.int64).max)
    if k is not None:
        found &= r <= k
    i = np.cumsum(np.ones_like(r), axis=1)
    prec = np.where(found, i / np.where(found, r, 1.0), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return prec.sum(axis=1) / np.asarray(n_rel, dtype=np.float64)
