"""Expected scores as data (Pyserini 2CR style): the conditions of ``tasks/expected.toml`` and their verdicts.

The file lists conditions, each a model, task, setting, metric, expected value and tolerance::

    [defaults]
    tolerance = 5e-4

    [[condition]]
    model = "bm25"
    task = "xquad-r"
    setting = "multi"        # mono, cross, multi, per-language; or "bias" for the result's bias summary
    metric = "map"
    expected = 0.089512
    tags = ["fast"]          # optional; `mlir-bench check --tag fast` selects these
    dtype = "bfloat16"       # optional (default float32), as `mlir-bench run --dtype`

A value is **OK** when it equals the expected one at the 6 decimals written in the file, **OKish** within the
tolerance, **FAIL** otherwise (or when it is missing or its run failed). This module only reads the file and
judges results; :mod:`mlir_bench.reproduction` reruns the conditions, and the leaderboard shows the same file.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..dtypes import canonical_dtype
from ..errors import UserError
from .schema import Result

DEFAULT_TOLERANCE = 5e-4
EXACT = 5e-7  # half a unit in the 6th decimal: "exact" at the precision the file is written in
STATUSES = ("OK", "OKish", "FAIL")


@dataclass(frozen=True)
class Condition:
    """One expected score."""

    model: str
    task: str
    setting: str
    metric: str
    expected: float
    tolerance: float = DEFAULT_TOLERANCE
    text_mode: str = "sentence"
    languages: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    dtype: str = "float32"  # or "bfloat16" (CPU autocast), as `mlir-bench run --dtype`

    @property
    def run_key(self) -> tuple[str, str, str, tuple[str, ...], str]:
        return (self.model, self.task, self.text_mode, self.languages, self.dtype)

    def label(self) -> str:
        extra = "" if self.text_mode == "sentence" else f" [{self.text_mode}]"
        extra += "" if self.dtype == "float32" else f" [{self.dtype}]"
        return f"{self.model} · {self.task}{extra} · {self.setting} · {self.metric}"


@dataclass
class Outcome:
    condition: Condition
    actual: float | None
    status: str
    message: str = ""


SPECS_PACKAGE = "mlir_bench.task_specs"  # the repository's tasks/ folder, shipped as package data


def packaged_expected_scores() -> Path:
    """The expected-scores file shipped with the package (``tasks/expected.toml``), read by ``mlir-bench check``
    and shown by the leaderboard."""
    from importlib import resources

    root = resources.files(SPECS_PACKAGE)
    if not isinstance(root, Path):  # e.g. a zip import: tomllib reads a file on disk
        raise UserError(f"the packaged expected scores ({SPECS_PACKAGE}) are not a folder on disk ({root})")
    return root / "expected.toml"


_KEYS = {"model", "task", "setting", "metric", "expected", "tolerance", "text_mode", "languages", "tags", "dtype"}


def load_expected(path: str | Path) -> list[Condition]:
    """Parse an expected-scores TOML file; raises UserError naming the file and the bad condition."""
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{p}: expected-scores file not found") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{p}: cannot read expected scores ({exc})") from None
    defaults = doc.get("defaults", {})
    out = []
    for i, raw in enumerate(doc.get("condition", []), 1):
        c = {**defaults, **raw}
        where = f"{p}: condition {i}"
        unknown = set(c) - _KEYS
        missing = {"model", "task", "setting", "metric", "expected"} - set(c)
        if unknown or missing:
            raise UserError(f"{where}: " + "; ".join(
                ([f"unknown keys {sorted(unknown)}"] if unknown else []) + ([f"missing {sorted(missing)}"] if missing else [])))
        try:
            out.append(Condition(model=str(c["model"]), task=str(c["task"]), setting=str(c["setting"]),
                                 metric=str(c["metric"]), expected=float(c["expected"]),
                                 tolerance=float(c.get("tolerance", DEFAULT_TOLERANCE)),
                                 text_mode=str(c.get("text_mode", "sentence")),
                                 languages=tuple(c.get("languages") or ()), tags=tuple(c.get("tags") or ()),
                                 dtype=canonical_dtype(str(c.get("dtype", "float32")))))
        except (TypeError, ValueError, UserError) as exc:
            raise UserError(f"{where}: {exc}") from None
    if not out:
        raise UserError(f"{p}: no [[condition]] entries")
    return out


def select(conditions: Sequence[Condition], *, tags: Sequence[str] = (), models: Sequence[str] = (),
           tasks: Sequence[str] = ()) -> list[Condition]:
    """Conditions carrying any of ``tags`` and (when given) one of ``models`` / ``tasks``."""
    return [c for c in conditions
            if (not tags or set(tags) & set(c.tags)) and (not models or c.model in models)
            and (not tasks or c.task in tasks)]


def classify(actual: float | None, expected: float, tolerance: float) -> str:
    """OK (equal to 6 decimals), OKish (within ``tolerance``) or FAIL (outside it, missing or not finite)."""
    if actual is None or not math.isfinite(actual):
        return "FAIL"
    diff = abs(actual - expected)
    if diff <= EXACT:
        return "OK"
    return "OKish" if diff <= tolerance else "FAIL"


def judge(c: Condition, result: Result | None, error: str = "") -> Outcome:
    """Compare one condition with a result (None when the run failed with ``error``)."""
    if result is None:
        return Outcome(c, None, "FAIL", error or "no result")
    actual = result.score(c.setting, c.metric)
    status = classify(actual, c.expected, c.tolerance)
    if actual is None:
        return Outcome(c, None, status, f"no {c.metric} in setting {c.setting!r} of the result")
    diff = actual - c.expected
    return Outcome(c, actual, status, f"expected {c.expected:.6f}, got {actual:.6f} (diff {diff:+.2e}, "
                                      f"tolerance {c.tolerance:.0e})")


def format_outcome(o: Outcome) -> str:
    """One Pyserini-style line: ``[OKish] bm25 · xquad-r · multi · map: expected …, got …``."""
    return f"[{o.status}]".ljust(8) + f" {o.condition.label()}: {o.message}"


def summary(outcomes: Sequence[Outcome]) -> dict[str, int]:
    return {s: sum(o.status == s for o in outcomes) for s in STATUSES}
