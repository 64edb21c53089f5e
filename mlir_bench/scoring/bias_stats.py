"""The registry of language-bias statistics: one entry per statistic, read by every place that shows or tests one.

Each :class:`BiasStatistic` says how to compute its per-query values (from the arrays of
:class:`BiasInputs`), at which cutoffs, which cutoffs keep per-query values for paired tests, how a language's
values are summarised (macro over query languages, or micro over queries), whether lower is better, and its
definition with its source. It imports the scorers (and scipy.stats) only when computing, so reading the table
is cheap. The runner's bias section, the result's ``definitions``, the leaderboard's column
tooltips, ``mlir-bench compare`` and the CLI help all read this table. To add a statistic: write its per-query
function in :mod:`.bias` (with a hand-computed test), add one entry here, and bump :data:`BIAS_VERSION` (it keys
the bias memo, so stored sections are recomputed).

Geometry statistics (alignment, uniformity, clustering) are not per query; their definitions are in
:data:`GEOMETRY_DEFINITIONS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Bump when anything in a result's bias section can change for the same inputs: a statistic here or in
#: :mod:`.bias`, the geometry (:mod:`.geometry`), the section's composition (``runner/bias_section.py``) or its
#: figures. It keys the bias memo, so stored sections are recomputed.
BIAS_VERSION = 2


@dataclass(frozen=True)
class BiasInputs:
    """The Multi-setting arrays a bias statistic reads (see the conventions in :mod:`.bias`)."""

    rel_ranks: np.ndarray  # (n_q, max_rel) full-ranking ranks of relevant documents, 0 = padding
    rel_idx: np.ndarray  # (n_q, max_rel) their document positions, -1 = padding
    top_idx: np.ndarray  # (n_q, k) top-k document positions, -1 = padding
    query_langs: np.ndarray  # (n_q,)
    doc_langs: np.ndarray  # (n_docs,)
    groups: np.ndarray  # (n_q,) parallel-query group of each query
    query_vectors: Any  # (n_q, d) dense or sparse
    doc_vectors: Any  # (n_docs, d) dense, sparse or row-addressable


Compute = Callable[[BiasInputs, tuple[int, ...]], dict[int | None, np.ndarray]]


@dataclass(frozen=True)
class BiasStatistic:
    """One statistic. ``ks`` empty: no cutoff (the key is the bare name); else one key ``name@k`` per cutoff."""

    name: str
    compute: Compute
    ks: tuple[int, ...]
    per_query_ks: tuple[int, ...]  # cutoffs whose per-query values go to the sidecar (paired tests)
    summary: str  # "macro": mean per query language, then over languages; "micro": mean over all queries
    lower_is_better: bool
    label: str  # a short column label
    definition: str
    needs_top_k: bool = False  # reads the top-k lists: the run's k must be >= max(ks)

    def keys(self) -> list[str]:
        return [self.name] if not self.ks else [f"{self.name}@{k}" for k in self.ks]

    def per_query_keys(self) -> list[str]:
        return [self.name] if not self.ks else [f"{self.name}@{k}" for k in self.per_query_ks]


def _rank_distance(x: BiasInputs, ks: tuple[int, ...]) -> dict[int | None, np.ndarray]:
    from . import bias as B

    return {None: B.rank_distance(x.rel_ranks, x.rel_idx)}


def _mrc(x: BiasInputs, ks: tuple[int, ...]) -> dict[int | None, np.ndarray]:
    from . import bias as B

    return dict(B.rank_correlation_at(x.query_vectors, x.doc_vectors, x.top_idx, x.query_langs, x.groups, ks=ks))


def _peer(x: BiasInputs, ks: tuple[int, ...]) -> dict[int | None, np.ndarray]:
    from . import bias as B

    return {k: B.peer(x.rel_ranks, x.rel_idx, x.doc_langs, k) for k in ks}


def _tlr(x: BiasInputs, ks: tuple[int, ...]) -> dict[int | None, np.ndarray]:
    from . import bias as B

    return {k: B.target_language_recall(x.rel_ranks, x.rel_idx, x.doc_langs, x.query_langs, k) for k in ks}


def _own_share(x: BiasInputs, ks: tuple[int, ...]) -> dict[int | None, np.ndarray]:
    from . import bias as B

    return {k: B.own_language_share(x.top_idx, x.doc_langs, x.query_langs, k) for k in ks}


STATISTICS: tuple[BiasStatistic, ...] = (
    BiasStatistic(
        "rank_distance", _rank_distance, (), (), "macro", True, "rank distance",
        "max - min full-ranking rank of a query's parallel relevant documents (Elmahdy et al. 2024, after Huang "
        "et al. 2023); mean per query language, then macro. Lower = less bias."),
    BiasStatistic(
        "mrc", _mrc, (5, 10, 20), (10,), "macro", False, "MRC",
        "Spearman correlation x100 of two parallel queries' scores on the union of their top-k lists (Yang, "
        "Jiang, Baldwin 2024; MIMO metrics.py); mean per language, then macro. Higher = fairer.",
        needs_top_k=True),
    BiasStatistic(
        "peer", _peer, (20, 100), (20,), "micro", False, "PEER",
        "Kruskal-Wallis p-value of the relevant documents' ranks grouped by document language, ranks > k count "
        "as k+1 (Yang et al. SIGIR 2024, MIMO's simplified form); mean over queries. Higher = fairer."),
    BiasStatistic(
        "tlr", _tlr, (10, 100), (10, 100), "macro", False, "TLR",
        "recall@k of the relevant documents NOT in the query's language (SHIFT, arXiv 2606.18801); mean per "
        "query language, then macro. Higher = better."),
    BiasStatistic(
        "own_language_share", _own_share, (10,), (10,), "macro", True, "own-language share",
        "share of the top k in the query's own language (descriptive; compare with own_language_pool_share); "
        "mean per query language, then macro. Lower = less preference for the query's language.",
        needs_top_k=True),
)

#: Values of the summary that are not per-query statistics.
SUMMARY_EXTRAS = {
    "own_language_pool_share": "share of the pool in the query's language, averaged over query languages: what "
                               "own_language_share@k would be with no language preference.",
}

GEOMETRY_DEFINITIONS = {
    "xl_align": "OURS (MIMO's definition is unknown): Wang & Isola alignment E||f(x_a)-f(x_b)||^2 over parallel "
                "pairs in languages a != b (the same question, or the same answer sentence). Lower = better.",
    "uniformity": "Wang & Isola log E exp(-2||f(x)-f(y)||^2) over all pairs of a fixed-seed subsample of the "
                  "pooled queries+candidates. Lower = more uniform.",
    "xl_align_answers": "OURS: XL-align over the parallel relevant candidates (the same answer sentence in two "
                        "languages) instead of the parallel questions. Lower = better.",
    "same_vs_cross_cosine": "OURS: mean cosine of same-language pairs vs cross-language pairs of the sample; "
                            "a large gap means the space clusters by language.",
    "same_language_cosine": "OURS: mean cosine of same-language pairs of the sample (compare with "
                            "cross_language_cosine: a large gap means the space clusters by language).",
    "cross_language_cosine": "OURS: mean cosine of cross-language pairs of the sample (compare with "
                             "same_language_cosine).",
}


def definitions() -> dict[str, str]:
    """``{"rank_distance": ..., "mrc@k": ..., ...}`` plus the summary extras and geometry definitions."""
    out = {(s.name if not s.ks else f"{s.name}@k"): s.definition for s in STATISTICS}
    return {**out, **SUMMARY_EXTRAS, **GEOMETRY_DEFINITIONS}


def per_query_statistics() -> tuple[str, ...]:
    """The statistics whose per-query values the sidecar keeps (``bias/<setting>/<cell>``)."""
    return tuple(k for s in STATISTICS for k in s.per_query_keys())


def statistic_of(key: str) -> BiasStatistic | None:
    """The statistic a key (``mrc@10``, ``rank_distance``) belongs to, or None."""
    base, _, k = key.partition("@")
    for s in STATISTICS:
        if s.name == base and ((not s.ks and not k) or (k.isdigit() and int(k) in s.ks)):
            return s
    return None


def lower_is_better(key: str) -> bool:
    s = statistic_of(key)
    return bool(s and s.lower_is_better)


def min_depth() -> int:
    """The smallest top-k depth a run needs for every statistic that reads the top-k lists."""
    return max((max(s.ks) for s in STATISTICS if s.needs_top_k and s.ks), default=1)


def compute_all(x: BiasInputs) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]], dict[str, float | None]]:
    """Every registered statistic: (per-query arrays by key, per-language summaries by key, headline by key)."""
    from .bias import summarize_by_language

    values: dict[str, np.ndarray] = {}
    per_language: dict[str, dict[str, Any]] = {}
    summary: dict[str, float | None] = {}
    for s in STATISTICS:
        for k, arr in s.compute(x, s.ks).items():
            key = s.name if k is None else f"{s.name}@{k}"
            values[key] = arr
            summ = summarize_by_language(arr, x.query_langs)
            per_language[key] = summ
            summary[key] = summ[s.summary]
    return values, per_language, summary


def cli_help() -> str:
    """The per-query bias statistics as the CLI lists them."""
    return ", ".join(per_query_statistics())
