"""Reading result files for the leaderboard: result JSON, their per-query sidecars, and grouping into conditions.

A *condition* is what makes results comparable: the same task, candidate text mode and language subset. Within a
condition every setting (Mono, Cross, Multi, per-language) becomes one leaderboard view.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError, UserError
from ..results.schema import Result, looks_like_result, parse_result, per_query_path, read_per_query

SETTING_ORDER = ("mono", "cross", "multi", "per-language", "all")
#: task families that are selection data (dev tasks such as ntrex-dev): compared and reported by the experiment,
#: never shown on the leaderboard as benchmark results
SELECTION_FAMILIES = frozenset({"ntrex"})
SETTING_LABELS = {"mono": "Mono", "cross": "Cross", "multi": "Multi", "per-language": "Per language",
                  "all": "All queries"}


@dataclass
class ResultEntry:
    """One result file: its path, its typed result and (loaded on demand) its per-query sidecar."""

    path: Path
    result: Result
    _per_query: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def stem(self) -> str:
        return self.path.name[: -len(".json")]

    @property
    def model(self) -> str:
        return self.result.model.name

    @property
    def task(self) -> str:
        return self.result.task.name

    @property
    def text_mode(self) -> str:
        return self.result.task.text_mode

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.result.task.languages)

    @property
    def is_subset(self) -> bool:
        """Whether the run covered a subset of the task's languages (``--languages``)."""
        return self.result.identity.languages is not None

    @property
    def condition(self) -> tuple[str, str, tuple[str, ...]]:
        return (self.task, self.text_mode, self.languages)

    @property
    def per_query_path(self) -> Path:
        return per_query_path(self.path)

    def per_query(self) -> dict[str, Any]:
        """``{cell: {"qids": [...], metric: [...]}}``, or ``{}`` when the sidecar is missing."""
        if self._per_query is None:
            p = self.per_query_path
            self._per_query = read_per_query(p) if p.exists() else {}
        return self._per_query


def load_results(results_dir: str | Path) -> list[ResultEntry]:
    """Every result JSON in ``results_dir`` (not recursive), sorted by file name; other JSON files are ignored.

    A file that claims to be a result (it has a schema version, a task and a model) but does not validate is a
    DataError naming it and the field: it is never dropped silently.
    """
    d = Path(results_dir)
    if not d.is_dir():
        raise UserError(f"{d}: results directory not found")
    out = []
    for p in sorted(d.glob("*.json")):
        try:
            obj = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(p, f"not valid JSON ({exc})") from None
        if looks_like_result(obj):
            out.append(ResultEntry(p, parse_result(obj, p)))
    return out


def group_conditions(entries: list[ResultEntry]) -> dict[tuple[str, str, tuple[str, ...]], list[ResultEntry]]:
    """Entries grouped by condition (task, text mode, languages), conditions and models in a stable order."""
    groups: dict[tuple[str, str, tuple[str, ...]], list[ResultEntry]] = {}
    for e in entries:
        groups.setdefault(e.condition, []).append(e)
    return {k: sorted(v, key=lambda e: e.model) for k, v in sorted(groups.items())}


def number(v: Any) -> float | None:
    """``v`` as a finite float, or None (strings, dicts, NaN and booleans are not numbers here)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def geometry_value(geometry: Any, key: str) -> float | None:
    """A scalar from ``bias.geometry[key]``: a number as-is, or from a dict its overall/mean/value entry."""
    if not isinstance(geometry, dict):
        return None
    v = geometry.get(key)
    if isinstance(v, dict):
        for k in ("overall", "value", "mean", "macro", "pooled", "all"):
            if number(v.get(k)) is not None:
                return number(v.get(k))
        return None
    return number(v)
