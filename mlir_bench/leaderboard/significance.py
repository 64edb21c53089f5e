"""Paired significance tests between models on the same queries, Holm's correction and rank intervals.

Per-query scores of two models on the same cells are paired by query id. A setting's score is the macro-average
over its cells of the per-cell means, so each query carries the weight ``w_i = 1 / (C · n_c)`` (C cells; n_c
queries in its cell) and the tested statistic is the weighted mean difference ``T = Σ w_i (a_i − b_i)``, which is
exactly the difference of the two headline numbers. With one cell (or equal cells) it is the plain mean difference.

* ``fisher``: the paired randomization test (Fisher; Smucker et al., CIKM 2007, as in ranx): under H0 the sign of
  every per-query difference is exchangeable; ``p = (1 + #{|T*| ≥ |T|}) / (1 + n_permutations)``.
  That estimate cannot go below ``1 / (1 + n_permutations)``, so in a large family (m pairs with
  ``m / (1 + n_permutations) > alpha``) Holm's correction could never reject. With ``tail_bound`` (the
  leaderboard), a pair no sign flip matched gets Hoeffding's bound on the exact sign-flip p-value instead,
  ``2 exp(−T² / (2 Σ d_i²))`` with ``d_i = w_i (a_i − b_i)`` (the flipped statistic is a Rademacher sum), when
  that bound is smaller: conservative, and it lets clearly separated models be told apart among many.
* ``student``: the two-sided paired t-test on ``N · w_i · (a_i − b_i)`` (the plain paired t-test when weights are
  equal), i.e. ranx's ``paired_student_t_test``.

**Grouped tests** (``groups``): queries that are translations of one question are not independent, so the unit
of the test can be the *group* (every language version of one question; the task's explicit group field, stored
beside the query ids in the per-query sidecar). The statistic is unchanged (``T = Σ_g D_g`` with
``D_g = Σ_{i∈g} w_i (a_i − b_i)``); the randomization test flips the sign of each ``D_g`` (one sign per group,
so the versions of a question move together), and the t-test runs on the ``D_g``. With singleton groups both are
the per-query tests. This is the default wherever the queries carry groups (``unit = "group"``).

Every pair of models in a view is tested (m = n(n−1)/2 tests), and p-values are adjusted with Holm's step-down
method, which controls the family-wise error rate at ``alpha``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

TESTS = ("fisher", "student")
_BATCH = 256


def macro_weights(cell_sizes: Sequence[int]) -> np.ndarray:
    """Per-query weights ``1 / (C · n_c)`` for cells of ``cell_sizes`` (concatenated in order); they sum to 1."""
    sizes = [int(n) for n in cell_sizes if n > 0]
    if not sizes:
        return np.zeros(0)
    return np.concatenate([np.full(n, 1.0 / (len(sizes) * n)) for n in sizes])


def group_index(groups: Sequence[object]) -> np.ndarray:
    """Dense integer codes (0..G-1, in order of first appearance) of the group labels of the queries."""
    codes: dict[object, int] = {}
    return np.fromiter((codes.setdefault(g, len(codes)) for g in groups), dtype=np.intp, count=len(groups))


def _by_group(d: np.ndarray, groups: Sequence[object] | np.ndarray | None) -> np.ndarray:
    """``d`` summed within groups (``D_g = Σ_{i∈g} d_i``), or ``d`` itself without groups."""
    if groups is None:
        return d
    g = np.asarray(groups) if isinstance(groups, np.ndarray) and groups.dtype.kind in "iu" else group_index(
        list(groups))
    if g.shape != d.shape:
        raise ValueError(f"groups shape {g.shape} does not match scores {d.shape}")
    return np.bincount(g, weights=d, minlength=int(g.max()) + 1 if len(g) else 0)


def _diff(a: np.ndarray, b: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired scores need equal 1-D shapes, got {a.shape} and {b.shape}")
    w = np.full(a.shape, 1.0 / max(len(a), 1)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != a.shape:
        raise ValueError(f"weights shape {w.shape} does not match scores {a.shape}")
    return w * (a - b)


_BIT_TABLE = ((np.arange(256)[:, None] >> np.arange(8)) & 1).astype(np.float64)  # (byte, bit) -> 0/1


def randomization_test(a: np.ndarray, b: np.ndarray, weights: np.ndarray | None = None,
                       n_permutations: int = 10_000, seed: int = 42, groups: Sequence[object] | None = None
                       ) -> float:
    """Two-sided paired (sign-flip) randomization test of ``Σ w_i (a_i − b_i) = 0``; returns the p-value.

    ``groups`` (one label per query): one sign per group instead of one per query (see the module docstring).

    Each permutation draws one random bit per query (sign + or −). With d_i = w_i (a_i − b_i) and bits β_i,
    ``Σ s_i d_i = 2 Σ β_i d_i − Σ d_i``; the queries are taken 8 at a time, so ``Σ β_i d_i`` is a sum of
    table look-ups (the 256 partial sums of each block of 8), one random byte per block: n/8 operations per
    permutation instead of n multiplications, with the same distribution.
    """
    d = _by_group(_diff(a, b, weights), groups)
    if len(d) == 0:
        return 1.0
    observed = abs(float(d.sum()))
    eps = 1e-12 * max(1.0, observed)
    n_blocks = -(-len(d) // 8)
    padded = np.zeros(n_blocks * 8)
    padded[: len(d)] = d
    table = (padded.reshape(n_blocks, 8) @ _BIT_TABLE.T).ravel()  # (block, byte) -> Σ of d over the set bits
    offsets = np.arange(n_blocks, dtype=np.intp) * 256
    total = float(d.sum())
    rng = np.random.default_rng(seed)
    hits = 0
    done = 0
    while done < n_permutations:
        m = min(_BATCH, n_permutations - done)
        draws = rng.integers(0, 256, size=(m, n_blocks), dtype=np.uint8)
        stat = 2.0 * np.take(table, draws + offsets).sum(axis=1) - total
        hits += int(np.count_nonzero(np.abs(stat) >= observed - eps))
        done += m
    return (1 + hits) / (1 + n_permutations)


def hoeffding_bound(d: np.ndarray) -> float:
    """Hoeffding's upper bound on the two-sided sign-flip p-value of ``T = Σ d_i``: ``2 exp(−T² / (2 Σ d_i²))``."""
    ss = float(np.dot(d, d))
    if ss == 0.0:
        return 1.0
    return min(1.0, 2.0 * math.exp(-float(d.sum()) ** 2 / (2.0 * ss)))


def randomization_tests(scores: Sequence[np.ndarray], weights: np.ndarray, pairs: Sequence[tuple[int, int]],
                        n_permutations: int = 10_000, seed: int = 42, *, tail_bound: bool = False,
                        groups: Sequence[object] | None = None) -> list[float]:
    """:func:`randomization_test` for many pairs of models at once, with the same sign flips for every pair.

    The statistic is linear in the scores: with the same random bits β, the flipped statistic of pair (i, j) is
    ``2 Σ β_q w_q (a_iq − a_jq) − T_ij = F_i − F_j`` where ``F_i = 2 Σ β_q w_q a_iq − Σ w_q a_iq``. So each
    model's flipped sums are computed once (n models instead of n(n−1)/2 pairs) and every pair's p-value follows
    by subtraction. Each pair sees exactly the sign flips :func:`randomization_test` draws for it (one generator
    seeded with ``seed``), so the p-values agree with it up to floating-point rounding at exact ties.
    ``tail_bound``: see the module docstring (a pair no flip matched gets :func:`hoeffding_bound` if smaller).
    ``groups``: one sign per group (the models' weighted scores are summed within groups first).
    """
    w = np.asarray(weights, dtype=np.float64)
    xs = [np.asarray(x, dtype=np.float64) for x in scores]
    if any(x.shape != w.shape or x.ndim != 1 for x in xs):
        raise ValueError("scores and weights need equal 1-D shapes")
    if len(w) == 0:
        return [1.0] * len(pairs)
    codes = None if groups is None else group_index(list(groups))
    units = [_by_group(w * x, codes) for x in xs]  # per query (or per group) weighted scores
    n = len(units[0])
    n_blocks = -(-n // 8)
    offsets = np.arange(n_blocks, dtype=np.intp) * 256
    tables, totals = [], []
    for u in units:
        padded = np.zeros(n_blocks * 8)
        padded[:n] = u
        tables.append((padded.reshape(n_blocks, 8) @ _BIT_TABLE.T).ravel())
        totals.append(float(u.sum()))
    flipped = np.empty((len(xs), n_permutations))
    rng = np.random.default_rng(seed)
    done = 0
    while done < n_permutations:
        m = min(_BATCH, n_permutations - done)
        idx = rng.integers(0, 256, size=(m, n_blocks), dtype=np.uint8) + offsets
        for i, table in enumerate(tables):
            flipped[i, done:done + m] = 2.0 * np.take(table, idx).sum(axis=1) - totals[i]
        done += m
    out = []
    for i, j in pairs:
        d = _by_group(w * (xs[i] - xs[j]), codes)
        observed = abs(float(d.sum()))
        eps = 1e-12 * max(1.0, observed)
        hits = int(np.count_nonzero(np.abs(flipped[i] - flipped[j]) >= observed - eps))
        p = (1 + hits) / (1 + n_permutations)
        out.append(min(p, hoeffding_bound(d)) if tail_bound and hits == 0 else p)
    return out


def paired_t_test(a: np.ndarray, b: np.ndarray, weights: np.ndarray | None = None,
                  groups: Sequence[object] | None = None) -> float:
    """Two-sided paired Student t-test on ``N · w_i · (a_i − b_i)`` (on their group sums with ``groups``); 1.0 when
    every difference is zero."""
    from scipy.stats import ttest_1samp

    d = _by_group(_diff(a, b, weights) * len(a), groups)
    if len(d) < 2 or not np.any(d):
        return 1.0
    p = float(ttest_1samp(d, 0.0).pvalue)
    return 1.0 if math.isnan(p) else p


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni step-down adjusted p-values (monotone, capped at 1), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


@dataclass
class Comparison:
    """All pairwise tests of one view. Models are ordered by weighted mean, best first.

    ``better[i][j]`` is True when model i is significantly better than model j (Holm-adjusted p < alpha).
    ``rank_interval[i]`` is (1 + #models significantly better than i, n − #models significantly worse than i).
    ``group[i]`` numbers the clusters of models that cannot be told apart: a boundary is drawn between positions
    k and k+1 only when every model above it is significantly better than every model below it.
    """

    models: list[str]
    means: list[float]
    n_queries: int
    n_cells: int
    test: str
    n_permutations: int
    alpha: float
    p_raw: list[list[float | None]]
    p_adjusted: list[list[float | None]]
    better: list[list[bool]]
    rank_interval: list[tuple[int, int]]
    group: list[int]
    unit: str = "query"  # what the signs flip over: "query", or "group" (all language versions of a question)
    n_units: int = 0  # queries, or groups


def compare(scores: Mapping[str, np.ndarray], weights: np.ndarray, *, test: str = "fisher",
            n_permutations: int = 10_000, seed: int = 42, alpha: float = 0.05, n_cells: int = 1,
            tail_bound: bool = False, groups: Sequence[object] | None = None) -> Comparison:
    """Test every pair of ``scores`` (model -> per-query array, all aligned on the same queries); ``tail_bound``
    and ``groups`` (one label per query: grouped tests): see the module docstring."""
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; expected one of {', '.join(TESTS)}")
    w = np.asarray(weights, dtype=np.float64)
    means = {m: float(np.dot(w, np.asarray(v, dtype=np.float64))) for m, v in scores.items()}
    models = sorted(scores, key=lambda m: (-means[m], m))
    n = len(models)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    if test == "fisher":
        raw = randomization_tests([scores[m] for m in models], w, pairs, n_permutations, seed,
                                  tail_bound=tail_bound, groups=groups)
    else:
        raw = [paired_t_test(scores[models[i]], scores[models[j]], w, groups) for i, j in pairs]
    adj = holm(raw)
    p_raw: list[list[float | None]] = [[None] * n for _ in range(n)]
    p_adj: list[list[float | None]] = [[None] * n for _ in range(n)]
    better = [[False] * n for _ in range(n)]
    for (i, j), p, q in zip(pairs, raw, adj, strict=True):
        p_raw[i][j] = p_raw[j][i] = p
        p_adj[i][j] = p_adj[j][i] = q
        if q < alpha and means[models[i]] != means[models[j]]:
            hi, lo = (i, j) if means[models[i]] > means[models[j]] else (j, i)
            better[hi][lo] = True
    intervals = [(1 + sum(better[j][i] for j in range(n)), n - sum(better[i][j] for j in range(n)))
                 for i in range(n)]
    n_units = len(w) if groups is None else len(set(groups))
    return Comparison(models, [means[m] for m in models], len(w), n_cells, test, n_permutations, alpha, p_raw,
                      p_adj, better, intervals, clusters(better), "query" if groups is None else "group", n_units)


def clusters(better: list[list[bool]]) -> list[int]:
    """Group numbers (1-based) for models in score order: split after k iff all of 0..k beat all of k+1..n-1."""
    n = len(better)
    groups = []
    g = 1
    for k in range(n):
        groups.append(g)
        if k < n - 1 and all(better[i][j] for i in range(k + 1) for j in range(k + 1, n)):
            g += 1
    return groups


def _defined(v: object) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def query_groups(per_query: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Query id -> group label, from the cells of one sidecar that store ``groups`` beside their ``qids``."""
    out: dict[str, str] = {}
    for entry in per_query.values():
        if isinstance(entry, Mapping) and isinstance(entry.get("groups"), list):
            out.update(zip(map(str, entry["qids"]), map(str, entry["groups"]), strict=True))
    return out


def align_per_query(per_query: Mapping[str, Mapping[str, Mapping[str, list]]], metric: str,
                    cells: Sequence[str]) -> tuple[dict[str, np.ndarray], list[int], list[str] | None]:
    """Pair the per-query values of ``metric`` across models on ``cells``, by query id.

    ``per_query`` maps model -> its sidecar (``{cell: {"qids": [...], "groups": [...], metric: [...]}}``).
    Returns model -> concatenated values over the cells (queries with a defined value, not None or NaN, for every
    model, in the first model's order), the number of paired queries per cell (for :func:`macro_weights`), and
    the group of every paired query (from the first model's sidecar; the cells of bias statistics take their
    groups from the metric cells of the same sidecar), or None when some paired query has no group.
    """
    models = list(per_query)
    out: dict[str, list[np.ndarray]] = {m: [] for m in models}
    sizes = []
    paired: list[str] = []
    for cell in cells:
        maps = []
        for m in models:
            c = per_query[m][cell]
            maps.append(dict(zip(c["qids"], c[metric], strict=True)))
        common = [q for q in per_query[models[0]][cell]["qids"] if all(_defined(mp.get(q)) for mp in maps)]
        sizes.append(len(common))
        paired.extend(map(str, common))
        for m, mp in zip(models, maps, strict=True):
            out[m].append(np.array([mp[q] for q in common], dtype=np.float64))
    group_of = query_groups(per_query[models[0]]) if models else {}
    groups = [group_of.get(q) for q in paired]
    scores = {m: (np.concatenate(v) if v else np.zeros(0)) for m, v in out.items()}
    return scores, sizes, (None if any(g is None for g in groups) else groups)  # type: ignore[return-value]
