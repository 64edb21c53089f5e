"""Paired comparison of models on one task from their result files (the ``mlir-bench compare`` verb).

For a setting (Mono, Multi, ...) and a per-query statistic (a retrieval metric such as ``map``, or a query-level
bias statistic such as ``rank_distance``), the per-query values of every model are paired by query id, cell by
cell, over the queries where every model has a defined value. The statistic of a model is the macro-average over
cells of the per-cell means, as in the result JSON, and every pair of models is tested with the paired tests of
:mod:`.significance` (randomization or t-test, Holm-corrected over the pairs). Statistics where lower is better
(rank distance, own-language share) are negated for the test, so "better" always means better.

The unit of the tests (``unit``): ``auto`` (the default) tests per *group* when the queries carry groups (the
language versions of one question, stored beside the query ids in the sidecar: they are not independent) and per
query otherwise; ``group`` requires groups; ``query`` flips one sign per query (the pre-0.2 behaviour, which
overstates significance on parallel queries).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..scoring.bias_stats import lower_is_better, per_query_statistics
from .load import ResultEntry, load_results
from .significance import Comparison, align_per_query, compare, macro_weights

UNITS = ("auto", "group", "query")


@dataclass
class ModelComparison:
    """A :class:`Comparison` (models best first) with what was compared and the means in their own sign."""

    task: str
    setting: str
    metric: str
    lower_is_better: bool
    comparison: Comparison
    means: list[float]  # in the statistic's own sign, aligned with comparison.models
    cell_sizes: dict[str, int]  # paired queries per cell

    def p_value(self, a: str, b: str, adjusted: bool = True) -> float:
        """The (Holm-adjusted) p-value of the test between models ``a`` and ``b``."""
        m = self.comparison.models
        table = self.comparison.p_adjusted if adjusted else self.comparison.p_raw
        p = table[m.index(a)][m.index(b)]
        assert p is not None
        return float(p)

    def mean(self, model: str) -> float:
        return self.means[self.comparison.models.index(model)]

    def to_dict(self) -> dict[str, Any]:
        c = self.comparison
        return {"task": self.task, "setting": self.setting, "metric": self.metric,
                "lower_is_better": self.lower_is_better, "test": c.test, "n_permutations": c.n_permutations,
                "alpha": c.alpha, "unit": c.unit, "n_units": c.n_units, "n_queries": c.n_queries,
                "cell_sizes": self.cell_sizes,
                "models": c.models, "means": self.means, "rank_interval": c.rank_interval, "group": c.group,
                "p_raw": c.p_raw, "p_adjusted": c.p_adjusted, "better": c.better}


def _matches(entry: ResultEntry, wanted: str) -> bool:
    """``wanted`` names the entry's model, with or without the ``st:`` prefix ("x" and "st:x" are one model)."""
    return entry.model in (wanted, f"st:{wanted}")


def select_entries(results_dir: str | Path, task: str, models: list[str], text_mode: str = "sentence"
                   ) -> list[ResultEntry]:
    """The result of each of ``models`` on ``task`` (full language set, ``text_mode``), in the order given."""
    if len(models) < 2:
        raise UserError(f"compare needs at least two models, got {len(models)}")
    entries = [e for e in load_results(results_dir) if e.task == task and e.text_mode == text_mode]
    if not entries:
        raise UserError(f"{results_dir}: no results of task {task!r} (text mode {text_mode!r})")
    chosen = []
    for wanted in models:
        hits = [e for e in entries if _matches(e, wanted)]
        if not hits:
            have = ", ".join(sorted({e.model for e in entries}))
            raise UserError(f"{results_dir}: no result of model {wanted!r} on {task}; models with results: {have}")
        # the run over the most languages (the full task, not a --languages subset)
        chosen.append(max(hits, key=lambda e: (not e.is_subset, len(e.languages), -len(e.stem))))
    return chosen


def _cell_names(entry: ResultEntry, setting: str) -> list[str]:
    return [c.name for c in entry.result.cells_of(setting)]


def paired_values(entries: list[ResultEntry], setting: str, metric: str
                  ) -> tuple[dict[str, np.ndarray], dict[str, int], list[str] | None]:
    """Model -> per-query values over the cells of ``setting``, paired by query id where all are defined; the
    paired queries per cell; their groups (None when the sidecars store none)."""
    bias_stat = metric in per_query_statistics()
    prefix = f"bias/{setting}/" if bias_stat else f"{setting}/"
    cells = _cell_names(entries[0], setting)
    if not cells:
        raise UserError(f"{entries[0].path}: no {setting} cells")
    for cell in cells:
        for e in entries:
            pq = e.per_query().get(prefix + cell)
            if pq is None or metric not in pq:
                hint = (" (bias values per query are written by runs since this version: re-run with --overwrite)"
                        if bias_stat else "")
                raise UserError(f"{e.per_query_path}: no per-query {metric!r} for cell {prefix + cell}{hint}")
    scores, sizes, groups = align_per_query({e.model: e.per_query() for e in entries}, metric,
                                            [prefix + c for c in cells])
    return scores, dict(zip(cells, sizes, strict=True)), groups


def groups_for_unit(groups: list[str] | None, unit: str, where: str) -> list[str] | None:
    """The groups to test over for ``unit`` (see the module docstring); ``where`` names the data in errors."""
    if unit not in UNITS:
        raise UserError(f"unknown test unit {unit!r}; expected one of {', '.join(UNITS)}")
    if unit == "query":
        return None
    if groups is None and unit == "group":
        raise UserError(f"{where}: the per-query sidecars store no query groups, so a grouped test is impossible "
                        "(re-run the results, or python scripts/add_query_groups.py, or use --unit query)")
    return groups


def compare_models(results_dir: str | Path, task: str, models: list[str], *, setting: str = "multi",
                   metric: str = "map", text_mode: str = "sentence", test: str = "fisher",
                   n_permutations: int = 10_000, seed: int = 42, alpha: float = 0.05,
                   unit: str = "auto") -> ModelComparison:
    """Paired tests between every pair of ``models`` on ``task`` (see the module docstring)."""
    entries = select_entries(results_dir, task, models, text_mode)
    if len({e.model for e in entries}) != len(entries):
        raise UserError("compare: a model is named twice")
    scores, sizes, groups = paired_values(entries, setting, metric)
    groups = groups_for_unit(groups, unit, f"{results_dir} ({task})")
    if not any(sizes.values()):
        raise UserError(f"{task} {setting}: no query has a defined {metric!r} for every model")
    lower = lower_is_better(metric)
    signed = {m: (-v if lower else v) for m, v in scores.items()}
    cell_sizes = list(sizes.values())
    comp = compare(signed, macro_weights(cell_sizes), test=test, n_permutations=n_permutations, seed=seed,
                   alpha=alpha, n_cells=sum(1 for n in cell_sizes if n), groups=groups)
    means = [-x if lower else x for x in comp.means]
    return ModelComparison(task, setting, metric, lower, comp, means, sizes)
