"""What a task hands to the runner: queries, the pool, qrels and the evaluation cells of each setting."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError
from .spec import LANG_CODES, TaskSpec


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

    ``setting`` is mono, cross or multi (docs/PROTOCOLS.md §1) or per-language; ``name`` is e.g. ``de`` (mono,
    multi) or ``de-zh`` (cross: German queries, Chinese candidates).
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


def check_task_data(task: TaskData) -> None:
    """Refuse task data no score should be computed from; every problem is a one-line :class:`DataError`.

    Checked for every family, after its builder ran: at least one query and one document; ids unique within
    queries and within documents; one language (a known ISO 639-1 code) and one non-empty text per record;
    qrels that name only known queries and existing documents, with integer relevance; cells whose indices
    are inside the corpora.
    """
    name = f"task {task.spec.name}"
    for what, corpus in (("query", task.queries), ("document", task.docs)):
        n = len(corpus.ids)
        if n == 0:
            raise DataError(name, f"no {what} records, expected at least one")
        for field_name in ("langs", "texts", "groups"):
            col = getattr(corpus, field_name)
            if col is not None and len(col) != n:
                raise DataError(name, f"{len(col)} {what} {field_name} for {n} ids, expected one per id")
        seen: dict[str, int] = {}
        for i, rid in enumerate(corpus.ids):
            if not isinstance(rid, str) or not rid:
                raise DataError(name, f"{what} id is {rid!r}, expected a non-empty string", where=f"{what} #{i}")
            if rid in seen:
                raise DataError(name, f"duplicate {what} id {rid!r} (records #{seen[rid]} and #{i}), "
                                "expected unique ids", where=f"{what} {rid}")
            seen[rid] = i
        for rid, lang, text in zip(corpus.ids, corpus.langs, corpus.texts, strict=True):
            if lang not in LANG_CODES:
                raise DataError(name, f"language {lang!r} is not a known ISO 639-1 code", where=f"{what} {rid}")
            if not isinstance(text, str) or not text.strip():
                raise DataError(name, f"text is {text!r}, expected non-empty text", where=f"{what} {rid}")
    qset = set(task.queries.ids)
    dset = set(task.docs.ids)
    for qid, judged in task.qrels.items():
        if qid not in qset:
            raise DataError(name, f"qrels name query {qid!r}, which is not among the task's queries",
                            where="qrels")
        for did, rel in judged.items():
            if did not in dset:
                raise DataError(name, f"qrels of query {qid!r} name document {did!r}, which is not in the pool",
                                where="qrels")
            if isinstance(rel, bool) or not isinstance(rel, int | np.integer):
                raise DataError(name, f"relevance of ({qid!r}, {did!r}) is {rel!r}, expected an integer",
                                where="qrels")
    nq, nd = len(task.queries), len(task.docs)
    for c in task.cells:
        for what, idx, n in (("query", c.query_idx, nq), ("document", c.doc_idx, nd)):
            if len(idx) and (int(np.min(idx)) < 0 or int(np.max(idx)) >= n):
                raise DataError(name, f"cell {c.setting}/{c.name} has {what} indices outside 0..{n - 1}",
                                where=f"cell {c.setting}/{c.name}")
        if len(c.doc_idx) == 0:
            raise DataError(name, f"cell {c.setting}/{c.name} has no documents, expected at least one",
                            where=f"cell {c.setting}/{c.name}")
