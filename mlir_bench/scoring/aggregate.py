"""From per-query metric values to cell means and setting macro-averages (docs/PROTOCOLS.md, "Settings").

A cell (one query language against one document view) scores the mean of each metric over the queries that have
a relevant document in the view; the others are skipped and counted. A setting (Mono, Cross, Multi) scores the
unweighted mean over its cells (Elmahdy et al. 2024, section 4): one score per language or language pair, then
the macro-average. Both take plain arrays and dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .metrics import evaluate, parse


@dataclass(frozen=True)
class CellValues:
    """Per-query values of one cell: ``values[metric]`` over all its queries, ``evaluated`` marks the kept ones."""

    values: dict[str, np.ndarray]
    evaluated: np.ndarray

    @property
    def n_evaluated(self) -> int:
        return int(self.evaluated.sum())

    @property
    def n_skipped(self) -> int:
        return int((~self.evaluated).sum())

    def means(self) -> dict[str, float | None]:
        """The mean of each metric over the evaluated queries (None when no query was evaluated)."""
        ok = self.evaluated
        return {m: (float(np.mean(v[ok])) if ok.any() else None) for m, v in self.values.items()}


def cell_values(rel_ranks: np.ndarray, n_rel: np.ndarray, metrics: list[str]) -> CellValues:
    """Every metric per query (:func:`~.metrics.evaluate`); queries without a relevant document are skipped."""
    return CellValues(evaluate(rel_ranks, n_rel, metrics), np.asarray(n_rel) > 0)


def macro_average(cells: Iterable[Mapping[str, Any]], metrics: list[str]) -> dict[str, dict[str, Any]]:
    """Per setting: the unweighted mean over its cells of each metric, with cell, query and skipped counts.

    ``cells`` are mappings with ``setting``, ``n_queries``, ``n_skipped`` and ``scores`` (metric -> mean or None);
    a cell whose metric is None (no evaluated query) is left out of that metric's mean.
    """
    out: dict[str, dict[str, Any]] = {}
    names = [str(parse(m)) for m in metrics]
    values: dict[str, dict[str, list[float]]] = {}
    for c in cells:
        s = out.setdefault(c["setting"], {"n_cells": 0, "n_queries": 0, "n_skipped": 0})
        v = values.setdefault(c["setting"], {m: [] for m in names})
        s["n_cells"] += 1
        s["n_queries"] += c["n_queries"]
        s["n_skipped"] += c["n_skipped"]
        for m in names:
            if c["scores"].get(m) is not None:
                v[m].append(c["scores"][m])
    for setting, s in out.items():
        s["scores"] = {m: (float(np.mean(x)) if x else None) for m, x in values[setting].items()}
    return out
