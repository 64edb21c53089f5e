"""Memoised language-bias analysis: a re-run with the same vectors and the same code reuses the bias section.

The bias and geometry statistics (:func:`mlir_bench.runner.bias_section.language_analysis`) are a pure function
of the task, the query and document vectors, ``k`` and the analysis code; they cost seconds (rank correlations,
uniformity, two heatmaps), more than the rest of a cached re-run together. So the section is stored as JSON under a
digest of exactly those inputs (the vectors' bytes, the task's files and cells, ``k``, the search version and
:data:`mlir_bench.scoring.bias_stats.BIAS_VERSION`, bumped whenever the section's code changes), beside the search
checkpoints. A hit is used only if every figure it names exists in the figure
folder with the recorded sha256 (another run may have redrawn a figure of the same name); otherwise it is
recomputed. Writes are atomic. Each memo carries the sha256 of its content (``sha256``: of the canonical JSON of
``result`` and ``figure_sha256``), checked on every read: a memo that is unreadable, lacks the checksum or does
not match it (one digit changed by hand is enough) is a miss: it is removed with a
:class:`~mlir_bench.search.checkpoint.SearchCacheWarning` and the analysis is recomputed.

:func:`verify_searches` checks every file of the ``searches/`` folder (search checkpoints and bias memos) for
``mlir-bench cache verify``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..io import sha256_file, write_json
from ..scoring.bias_stats import BIAS_VERSION
from ..search.checkpoint import OlderFormat, read_checked_npz, set_aside


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


def _canonical(payload: Any) -> bytes:
    """The bytes a memo's checksum covers: ``payload`` as sorted, compact JSON (as it reads back from the file)."""
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).encode("utf-8")


def read_memo(path: Path) -> dict[str, Any]:
    """A memo's content (``result`` and ``figure_sha256``) after checking its sha256; ValueError saying why not.

    FileNotFoundError passes through (a miss, not damage).
    """
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, IsADirectoryError):
        raise
    except (OSError, ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ValueError(f"unreadable ({type(exc).__name__}: {exc})") from None
    if isinstance(stored, dict) and set(stored) == {"result", "figure_sha256"}:
        raise OlderFormat("older format without a sha256")
    if not isinstance(stored, dict) or not isinstance(stored.get("sha256"), str):
        raise ValueError("no sha256 field")
    payload = {k: v for k, v in stored.items() if k != "sha256"}
    if set(payload) != {"result", "figure_sha256"} or not isinstance(payload["figure_sha256"], dict):
        raise ValueError(f"fields {sorted(stored)}, expected figure_sha256, result and sha256")
    if hashlib.sha256(_canonical(payload)).hexdigest() != stored["sha256"]:
        raise ValueError("sha256 mismatch")
    return payload


def write_memo(path: Path, result: dict[str, Any] | None, figure_sha256: dict[str, str]) -> None:
    """Write a memo atomically, with the sha256 of its canonical content."""
    payload = json.loads(_canonical({"result": result, "figure_sha256": figure_sha256}))  # as it will read back
    write_json(path, {**payload, "sha256": hashlib.sha256(_canonical(payload)).hexdigest()})


def memo_analysis(root: Path | None, parts: list[str], figure_dir: Path | None,
                  compute: Callable[[], dict[str, Any] | None]) -> dict[str, Any] | None:
    """``compute()``, or its stored result for the same ``parts`` (digests of the inputs) and analysis code."""
    if root is None:
        return compute()
    key = hashlib.sha256("\x00".join([*parts, f"bias-version={BIAS_VERSION}", str(figure_dir is not None)]).encode()).hexdigest()
    path = Path(root) / key[:2] / f"bias-{key}.json"
    try:
        stored = read_memo(path)
        figures: dict[str, str] = stored["figure_sha256"]
        if figure_dir is None or all(
                (figure_dir / name).exists() and sha256_file(figure_dir / name) == digest
                for name, digest in figures.items()):
            return stored["result"]
        # figures missing or redrawn: recompute (the memo itself is fine)
    except (FileNotFoundError, IsADirectoryError, OlderFormat):  # a miss; an older memo is overwritten below
        pass
    except ValueError as exc:
        set_aside(path, str(exc))
    except OSError:  # a figure that cannot be read: recompute
        pass
    result = compute()
    names = (result or {}).get("figures", {}) if figure_dir is not None else {}
    figure_sha = {n: sha256_file(figure_dir / n) for n in names.values()
                  if figure_dir is not None and (figure_dir / n).exists()}
    write_memo(path, result, figure_sha)
    return result


def verify_searches(root: Path) -> dict[str, Any]:
    """Read every file of a ``searches/`` folder in full and check its sha256; remove the damaged ones.

    Search checkpoints (``*.npz``) and bias memos (``bias-*.json``) are checked; temporary files (``.*.tmp``)
    are left to :meth:`mlir_bench.embedding.cache.EmbeddingCache.remove_stale_tmp`. Returns
    ``{"checkpoints", "memos", "damaged": [one line per removed file], "older": [files of the format without
    checksum, removed], "other": [unknown files, left alone]}``.
    """
    report: dict[str, Any] = {"checkpoints": 0, "memos": 0, "damaged": [], "older": [], "other": []}
    if not root.is_dir():
        return report
    for p in sorted(root.rglob("*")):
        if not p.is_file() or (p.name.startswith(".") and p.name.endswith(".tmp")):
            continue
        if p.suffix == ".npz":
            kind, read = "checkpoints", read_checked_npz
        elif p.suffix == ".json" and p.name.startswith("bias-"):
            kind, read = "memos", read_memo
        else:
            report["other"].append(str(p))
            continue
        try:
            read(p)
        except FileNotFoundError:  # removed by a concurrent run's eviction
            continue
        except OlderFormat:  # cannot be verified: removed, but not damage (recomputed and rewritten on demand)
            report["older"].append(str(p))
            with contextlib.suppress(OSError):
                p.unlink()
            continue
        except ValueError as exc:
            report["damaged"].append(f"{p}: {exc}; removed")
            with contextlib.suppress(OSError):
                p.unlink()
            continue
        report[kind] += 1
    return report
