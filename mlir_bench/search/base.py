"""What search returns: arrays only. Search never sees a model, a task or a language."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SearchResult:
    """The result of ranking one view of the pool for a block of queries.

    Row i belongs to query i of the block. Document positions index the full document array handed to search.

    - ``top_idx`` (n_queries, k) int64: the top-k documents of the view, best first; -1 pads a view shorter than k.
    - ``top_scores`` (n_queries, k) float32: their scores (-inf where padded).
    - ``rel_idx`` (n_queries, max_rel) int64: the relevant documents of each query that lie in the view, -1 padded.
    - ``rel_ranks`` (n_queries, max_rel) int64: 1-based rank of each of them in the FULL ranking of the view
      (not only the top k); 0 where padded.
    - ``rel_scores`` (n_queries, max_rel) float32: their scores (nan where padded).
    - ``n_docs``: the size of the view.

    Ties follow trec_eval: score descending, then document id descending (``doc_order`` gives the id order).
    """

    top_idx: np.ndarray
    top_scores: np.ndarray
    rel_idx: np.ndarray
    rel_ranks: np.ndarray
    rel_scores: np.ndarray
    n_docs: int

    @property
    def n_rel(self) -> np.ndarray:
        """Number of relevant documents in the view, per query."""
        return (self.rel_idx >= 0).sum(axis=1)
