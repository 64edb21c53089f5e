"""Add the query groups to per-query sidecars written before they were stored (in place, atomically).

Grouped paired tests (``mlir-bench compare``, the leaderboard, the claims and transform tables) flip one sign per
question group: all language versions of one question. Runs store the group of every query beside its id; this
script adds them to older sidecars from the task itself (its explicit group field, never parsed from ids). It
rebuilds each result's task from the data files, refuses a result whose recorded data files (sha256) differ from
the ones read now, and refuses a sidecar with a query id the task does not have. Values are not touched.

    MLIR_BENCH_DATA=../shared/data python scripts/add_query_groups.py results/
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlir_bench.results.schema import per_query_path, read_per_query, read_result, write_per_query
from mlir_bench.tasks import load_task


def add_groups(folder: Path) -> int:
    tasks: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, str] | None] = {}
    changed = 0
    for p in sorted(folder.glob("*.json")):
        sidecar = per_query_path(p)
        if not sidecar.exists():
            continue
        try:
            result = read_result(p)
        except Exception:  # not a result file (expected.toml companions, claims JSON, ...)
            continue
        ident = result.identity
        key = (ident.task, tuple(sorted(ident.dataset_sha256.items())))
        if key not in tasks:
            opts: dict[str, object] = {}
            if ident.text_mode != "sentence":
                opts["text_mode"] = ident.text_mode
            if ident.languages:
                opts["languages"] = ident.languages
            task = load_task(ident.task, **opts)
            if task.file_hashes != ident.dataset_sha256:
                raise SystemExit(f"{p}: computed from other data files than the ones read now; not touched")
            tasks[key] = None if task.queries.groups is None else dict(
                zip(task.queries.ids, task.queries.groups, strict=True))
        group_of = tasks[key]
        if group_of is None:
            continue
        pq = read_per_query(sidecar)
        dirty = False
        for cell, entry in pq.items():
            if "groups" in entry:
                continue
            missing = [q for q in entry["qids"] if q not in group_of]
            if missing:
                raise SystemExit(f"{sidecar}: [{cell}] query {missing[0]!r} is not a query of {ident.task}")
            entry["groups"] = [group_of[q] for q in entry["qids"]]
            dirty = True
        if dirty:
            write_per_query(sidecar, pq)
            changed += 1
            print(f"added groups to {sidecar}")
    return changed


if __name__ == "__main__":
    total = sum(add_groups(Path(a)) for a in (sys.argv[1:] or ["results"]))
    print(f"{total} sidecar(s) updated")
