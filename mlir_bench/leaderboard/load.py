"""Reading result files for the leaderboard: result JSON, their per-query sidecars, and grouping into conditions.

A *condition* is what makes results comparable: the same task, candidate text mode and language subset. Within a
condition every setting (Mono, Cross, Multi, per-language) becomes one leaderboard view.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError, UserError

SETTING_ORDER = ("mono", "cross", "multi", "per-language", "all")
SETTING_LABELS = {"mono": "Mono", "cross": "Cross", "multi": "Multi", "per-language": "Per language",
                  "all": "All queries"}


@dataclass
class ResultEntry:
    """One result file: its path, its parsed JSON and (loaded on demand) its per-query sidecar."""

    path: Path
    data: dict[str, Any]
    _per_query: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def stem(self) -> str:
        return self.path.name[: -len(".json")]

    @property
    def model(self) -> str:
        return str(self.data["model"]["name"])

    @property
    def task(self) -> str:
        return str(self.data["task"]["name"])

    @property
    def text_mode(self) -> str:
        return str(self.data["task"].get("text_mode", "sentence"))

    @property
    def condition(self) -> tuple[str, str, tuple[str, ...]]:
        return (self.task, self.text_mode, tuple(self.data["task"].get("languages") or ()))

    @property
    def per_query_path(self) -> Path:
        return self.path.with_name(self.stem + ".perquery.json.gz")

    def per_query(self) -> dict[str, Any]:
        """``{cell: {"qids": [...], metric: [...]}}``, or ``{}`` when the sidecar is missing."""
        if self._per_query is None:
            p = self.per_query_path
            if not p.exists():
                self._per_query = {}
            else:
                try:
                    with gzip.open(p, "rt", encoding="utf-8") as fh:
                        self._per_query = json.load(fh)
                except (OSError, ValueError) as exc:
                    raise DataError(p, f"cannot read the per-query sidecar ({exc})") from None
        return self._per_query


def is_result(obj: Any) -> bool:
    """Whether a parsed JSON object looks like a mlir-bench result (schema 1)."""
    return (isinstance(obj, dict) and isinstance(obj.get("task"), dict) and isinstance(obj.get("model"), dict)
            and isinstance(obj.get("settings"), dict) and "schema_version" in obj)


def load_results(results_dir: str | Path) -> list[ResultEntry]:
    """Every result JSON in ``results_dir`` (not recursive), sorted by file name; other JSON files are ignored."""
    d = Path(results_dir)
    if not d.is_dir():
        raise UserError(f"{d}: results directory not found")
    out = []
    for p in sorted(d.glob("*.json")):
        try:
            obj = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(p, f"not valid JSON ({exc})") from None
        if is_result(obj):
            out.append(ResultEntry(p, obj))
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
