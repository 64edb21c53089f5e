"""Standard retrieval metrics computed from the full-ranking ranks of the relevant documents.

Every metric here is a function of (a) the 1-based ranks of a query's relevant documents in the full ranking
and (b) |R_q|, the number of relevant documents. Search produces exactly these (``SearchResult.rel_ranks``), so
AP is exact over the full ranking without materialising it. Binary relevance, as in every task here.

Names are short strings parsed in one place (:func:`parse`): ``map``, ``map@100``, ``recall@10`` (alias
``r@10``), ``ndcg@10``, ``mrr@10`` (``mrr`` = no cutoff), ``p@10``, ``hit@10``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .ap import average_precision
from .mrr import reciprocal_rank
from .ndcg import ndcg
from .recall import hit_rate, precision, recall

Kernel = Callable[[np.ndarray, np.ndarray, int | None], np.ndarray]

KERNELS: dict[str, Kernel] = {
    "map": average_precision,
    "recall": recall,
    "ndcg": ndcg,
    "mrr": reciprocal_rank,
    "p": precision,
    "hit": hit_rate,
}
ALIASES = {"r": "recall", "ap": "map", "precision": "p", "success": "hit"}


@dataclass(frozen=True)
class Metric:
    """A metric name and its cutoff (None: the full ranking)."""

    name: str
    k: int | None = None

    def __str__(self) -> str:
        return self.name if self.k is None else f"{self.name}@{self.k}"

    def __call__(self, rel_ranks: np.ndarray, n_rel: np.ndarray) -> np.ndarray:
        return KERNELS[self.name](np.asarray(rel_ranks), np.asarray(n_rel), self.k)


def parse(spec: str) -> Metric:
    """Parse ``name[@k]`` into a :class:`Metric`; raise ValueError naming the bad part."""
    name, _, cut = spec.strip().lower().partition("@")
    name = ALIASES.get(name, name)
    if name not in KERNELS:
        raise ValueError(f"unknown metric {spec!r}; expected one of {', '.join(sorted(KERNELS))} with optional @k")
    k: int | None = None
    if cut:
        if not cut.isdigit() or int(cut) < 1:
            raise ValueError(f"metric {spec!r}: cutoff must be a positive integer")
        k = int(cut)
    if name in ("p", "hit") and k is None:
        raise ValueError(f"metric {spec!r} needs a cutoff, e.g. {name}@10")
    return Metric(name, k)


def evaluate(rel_ranks: np.ndarray, n_rel: np.ndarray, metrics: list[str]) -> dict[str, np.ndarray]:
    """Per-query values of each metric. Queries with n_rel == 0 get nan (callers skip and count them)."""
    out: dict[str, np.ndarray] = {}
    n_rel = np.asarray(n_rel)
    for spec in metrics:
        m = parse(spec)
        vals = m(rel_ranks, n_rel).astype(np.float64)
        vals[n_rel == 0] = np.nan
        out[str(m)] = vals
    return out


__all__ = ["KERNELS", "Metric", "average_precision", "evaluate", "ndcg", "parse", "recall", "reciprocal_rank"]
