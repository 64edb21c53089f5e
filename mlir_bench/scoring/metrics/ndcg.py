"""Normalised discounted cumulative gain with binary relevance."""

from __future__ import annotations

import numpy as np


def ndcg(rel_ranks: np.ndarray, n_rel: np.ndarray, k: int | None = None) -> np.ndarray:
    """nDCG@k(q) = DCG@k / IDCG@k, DCG@k = sum_{d in R_q, rank(d) <= k} 1 / log2(rank(d) + 1),
    IDCG@k = sum_{i=1..min(|R_q|, k)} 1 / log2(i + 1)  (Järvelin & Kekäläinen; trec_eval ndcg_cut, binary gains).
    """
    r = rel_ranks.astype(np.float64)
    found = rel_ranks > 0
    if k is not None:
        found &= rel_ranks <= k
    dcg = np.where(found, 1.0 / np.log2(np.where(found, r, 1.0) + 1.0), 0.0).sum(axis=1)
    n_rel = np.asarray(n_rel, dtype=np.int64)
    ideal_n = n_rel if k is None else np.minimum(n_rel, k)
    width = int(ideal_n.max(initial=0))
    disc = 1.0 / np.log2(np.arange(2, width + 2, dtype=np.float64))
    cum = np.concatenate([[0.0], np.cumsum(disc)])
    idcg = cum[ideal_n]
    with np.errstate(invalid="ignore", divide="ignore"):
        return dcg / idcg
