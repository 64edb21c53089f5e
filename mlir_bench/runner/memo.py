"""Memoised language-bias analysis: a re-run with the same vectors and the same code reuses the bias section.

The bias and geometry statistics (:func:`mlir_bench.runner.analysis.language_analysis`) are a pure function of
the task, the query and document vectors, ``k`` and the analysis code; they cost seconds (rank correlations,
uniformity, two heatmaps), more than the rest of a cached re-run together. So the section is stored as JSON under a
digest of exactly those inputs (the vectors' bytes, the task's files and cells, the source of the analysis and
scoring modules), beside the search checkpoints. A hit is used only if every figure it names exists in the figure
folder with the recorded sha256 (another run may have redrawn a figure of the same name); otherwise it is
recomputed. Writes are atomic; an unreadable entry is a miss.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..io import sha256_file, write_json

_CODE = ("runner/analysis.py", "scoring/bias.py", "scoring/geometry.py", "results/figures.py")


def _code_digest() -> str:
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for rel in _CODE:
        p = root / rel
        h.update(rel.encode())
        h.update(p.read_bytes() if p.exists() else b"-")
    return h.hexdigest()


def task_digest(task: Any) -> str:
    """sha256 over what defines a task's evaluation: its files, options, ids, languages, groups, qrels, cells."""
    h = hashlib.sha256()
    h.update(json.dumps({"name": task.spec.name, "files": task.file_hashes, "options": task.options},
                        sort_keys=True, default=str).encode())
    for corpus in (task.queries, task.docs):
        h.update("\x00".join(corpus.ids).encode())
        h.update("\x00".join(corpus.langs).encode())
        if corpus.groups is not None:
            h.update("\x00".join(map(str, corpus.groups)).encode())
    h.update(json.dumps(task.qrels, sort_keys=True).encode())
    for c in task.cells:
        h.update(f"{c.setting}/{c.name}".encode())
        h.update(c.query_idx.tobytes())
        h.update(c.doc_idx.tobytes())
    return h.hexdigest()


def memo_analysis(root: Path | None, parts: list[str], figure_dir: Path | None,
                  compute: Callable[[], dict[str, Any] | None]) -> dict[str, Any] | None:
    """``compute()``, or its stored result for the same ``parts`` (digests of the inputs) and analysis code."""
    if root is None:
        return compute()
    key = hashlib.sha256("\x00".join([*parts, _code_digest(), str(figure_dir is not None)]).encode()).hexdigest()
    path = Path(root) / key[:2] / f"bias-{key}.json"
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        figures: dict[str, str] = stored["figure_sha256"]
        if figure_dir is not None and not all(
                (figure_dir / name).exists() and sha256_file(figure_dir / name) == digest
                for name, digest in figures.items()):
            raise LookupError("figures missing or redrawn")
        return stored["result"]
    except (OSError, ValueError, KeyError, TypeError, LookupError):
        pass
    result = compute()
    names = (result or {}).get("figures", {}) if figure_dir is not None else {}
    figure_sha = {n: sha256_file(figure_dir / n) for n in names.values()
                  if figure_dir is not None and (figure_dir / n).exists()}
    write_json(path, {"result": result, "figure_sha256": figure_sha})
    return result
