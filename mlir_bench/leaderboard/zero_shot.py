"""The "not zero-shot" flag: a model whose training data overlaps the source of a task (mteb's idea).

A model declares ``training_datasets`` in its ModelMeta. A task's sources are the datasets it was built from:
XQuAD-R is 240 SQuAD v1.1 paragraphs translated (XQuAD), so SQuAD-derived training overlaps it; MLQA-R is built
from MLQA; MIRACL from Mr. TyDi / TyDi QA Wikipedia. A result may also state its sources in
``task["derived_from"]``, which then wins over the table below.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Substrings of a task name -> the source datasets (normalised names) it was derived from.
TASK_SOURCES: dict[str, tuple[str, ...]] = {
    "xquad": ("squad", "xquad"),
    "mlqa": ("mlqa",),
    "miracl": ("miracl", "mrtydi", "tydi"),
    "belebele": ("belebele", "flores"),
}


def normalise(name: str) -> str:
    """Lower case, letters and digits only: "SQuAD v1.1" -> "squadv11", "Mr.TyDi" -> "mrtydi"."""
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def task_sources(task: dict) -> tuple[str, ...]:
    """Normalised source datasets of a result's ``task`` block."""
    declared = task.get("derived_from")
    if declared:
        return tuple(normalise(d) for d in declared)
    name = normalise(str(task.get("name", "")))
    return tuple(dict.fromkeys(s for key, srcs in TASK_SOURCES.items() if key in name for s in srcs))


def overlap(training_datasets: Iterable[str], task: dict) -> list[str]:
    """The model's training datasets that overlap the task's sources (empty: zero-shot as far as declared)."""
    sources = task_sources(task)
    return [d for d in training_datasets if any(s in normalise(d) for s in sources)]


#: The three states a row can be in, as MTEB's leaderboard shows them.
ZERO_SHOT_LABELS = {"yes": "zero-shot", "no": "not zero-shot", "unknown": "training data unknown"}


def status(training_datasets: Iterable[str], task: dict, *, untrained: bool = False) -> tuple[str, list[str]]:
    """("no", overlapping datasets) when the declared training data overlaps the task's sources; ("yes", []) when
    training data is declared without overlap, or the model has nothing trained (``untrained``: BM25); and
    ("unknown", []) when no training data is declared, which must not read as zero-shot."""
    declared = list(training_datasets)
    hit = overlap(declared, task)
    if hit:
        return "no", hit
    if declared or untrained:
        return "yes", []
    return "unknown", []
