"""Published figures as "reported" rows (the packaged :file:`reported.toml`): cited, marked, never tested.

A reported row has no per-query values, so it takes no part in the paired tests, the rank intervals or the
marker letters; the page shows it in the tables of its task for context, and in the overview.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import DataError

REPORTED_FILE = Path(__file__).with_name("reported.toml")


@dataclass(frozen=True)
class ReportedValue:
    value: float
    text: str  # as published (".798"): its number of decimals is the published precision

    @property
    def decimals(self) -> int:
        _, _, frac = self.text.partition(".")
        return len(frac)


@dataclass(frozen=True)
class ReportedRow:
    model: str
    task: str
    description: str
    citation: str
    url: str
    where: str
    scores: dict[str, dict[str, ReportedValue]]  # setting ("mono", "multi", "bias") -> metric -> value
    training_datasets: tuple[str, ...] = ()
    zero_shot_note: str = ""
    source_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def score(self, setting: str, metric: str) -> ReportedValue | None:
        return self.scores.get(setting, {}).get(metric)


def _value(raw: Any, where: str) -> ReportedValue:
    text = str(raw).strip()
    try:
        return ReportedValue(float(text), text)
    except ValueError:
        raise DataError(REPORTED_FILE, f"{where}: {raw!r} is not a number") from None


@cache
def reported_rows(path: Path = REPORTED_FILE) -> tuple[ReportedRow, ...]:
    """Every row of the reported-figures file (a DataError naming the row when one is malformed)."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DataError(path, f"cannot read the reported figures ({exc})") from None
    sources = {s["id"]: s for s in doc.get("source", [])}
    out = []
    for i, r in enumerate(doc.get("row", []), 1):
        where = f"row {i} ({r.get('model', '?')}, {r.get('task', '?')})"
        src = sources.get(r.get("source", ""))
        if src is None or not r.get("model") or not r.get("task"):
            raise DataError(path, f"{where}: needs model, task and a known source")
        scores = {str(s): {str(m): _value(v, f"{where} {s}/{m}") for m, v in ms.items()}
                  for s, ms in (r.get("scores") or {}).items()}
        out.append(ReportedRow(model=str(r["model"]), task=str(r["task"]), description=str(r.get("description", "")),
                               citation=str(src.get("citation", "")), url=str(src.get("url", "")),
                               where=str(r.get("where", "")), scores=scores,
                               training_datasets=tuple(r.get("training_datasets") or ()),
                               zero_shot_note=str(r.get("zero_shot_note", "")), source_id=str(r["source"])))
    return tuple(out)


def rows_for(task: str, text_mode: str, subset: bool) -> list[ReportedRow]:
    """The reported rows of a task condition: the full sentence-level task only (the papers' setting)."""
    if subset or text_mode != "sentence":
        return []
    return [r for r in reported_rows() if r.task == task]


def format_reported(v: ReportedValue, decimals: int) -> str:
    """The published text with a leading zero, padded with figure spaces to ``decimals`` so columns align."""
    text = v.text if not v.text.startswith(".") else "0" + v.text
    text = text.replace("-.", "-0.")
    have = v.decimals
    if have >= decimals:
        return text
    pad = ("\u2008" if have == 0 else "") + "\u2007" * (decimals - have)
    return text + pad
