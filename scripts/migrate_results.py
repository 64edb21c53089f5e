"""Upgrade result files to the current schema in place (schema 1 -> 2: the ``identity`` section).

Schema 1 did not record the task spec a result was computed with. This script stamps the digest of the spec now
registered under the result's task name, so run it only on results computed with the current specs (true of every
committed result: ``git log -- tasks/`` shows the specs unchanged since 2026-11-22, before the first of them).
The upgraded identity is marked ``migrated_from: 1``. Files already at the current version are left alone.

    python scripts/migrate_results.py results/
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mlir_bench.results.schema import SCHEMA_VERSION, looks_like_result, parse_result, write_result
from mlir_bench.tasks import get_task_spec


def migrate(folder: Path) -> int:
    n = 0
    for p in sorted(folder.glob("*.json")):
        data = json.loads(p.read_text(encoding="utf-8"))
        if not looks_like_result(data) or data.get("schema_version") == SCHEMA_VERSION:
            continue
        result = parse_result(data, p, spec=get_task_spec(data["task"]["name"]))
        write_result(p, result)
        n += 1
        print(f"upgraded {p}")
    return n


if __name__ == "__main__":
    total = sum(migrate(Path(a)) for a in (sys.argv[1:] or ["results"]))
    print(f"{total} file(s) upgraded to schema {SCHEMA_VERSION}")
