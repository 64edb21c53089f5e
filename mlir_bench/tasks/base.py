"""What a task hands to the runner: queries, the pool, qrels and the evaluation cells of each setting."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .spec import TaskSpec


@dataclass
class Corpus:
    """Columnar texts with explicit ids and languages (never parsed out of ids)."""

    ids: list[str]
    langs: list[str]
    texts: list[str]
    groups: list[str] | None = None  # parallel items share a group (e.g. the question id)

    def __len__(self) -> int:
        return len(self.ids)

    def lang_array(self) -> np.ndarray:
        return np.asarray(self.langs)


@dataclass
class Cell:
    """One evaluation cell: a set of queries ranked against a subset (a view) of the pool.

    ``setting`` is mono, cross or multi (SPEC §1) or per-language; ``name`` is e.g. ``de`` (mono, multi) or
    ``de-zh`` (cross: German queries, Chinese candidates).
    """

    setting: str
    name: str
    query_lang: str
    doc_langs: tuple[str, ...]
    query_idx: np.ndarray
    doc_idx: np.ndarray


@dataclass
class TaskData:
    spec: TaskSpec
    queries: Corpus
    docs: Corpus
    qrels: dict[str, dict[str, int]]
    cells: list[Cell]
    file_hashes: dict[str, str] = field(default_factory=dict)
    options: dict[str, object] = field(default_factory=dict)

    def settings(self) -> list[str]:
        out: list[str] = []
        for c in self.cells:
            if c.setting not in out:
                out.append(c.setting)
        return out
