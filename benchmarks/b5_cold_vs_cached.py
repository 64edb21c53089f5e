"""Benchmark 5: a cold run of a full task against a cached re-run, through the real CLI.

1. cold: an empty embedding cache (and no search checkpoints) in a fresh folder; every text is encoded;
2. re-run with ``--overwrite``: the same command; every vector comes from the cache, every searched cell from
   its checkpoint, the model's weights are never loaded, unchanged TREC files are not rewritten;
3. re-run without ``--overwrite``: the existing result is returned as is.

Each is a separate process (startup and imports included). Wall time, CPU time (user + sys of the child) and the
machine's load average are printed; on a shared, overloaded machine CPU seconds are the stable figure.

    nice -n 10 python benchmarks/b5_cold_vs_cached.py --model muse-v3 --task xquad-r [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, header, load_avg  # noqa: E402


def run_cli(args: list[str]) -> tuple[float, float, float]:
    """(wall, cpu, load average at the end) of one ``mlir-bench`` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", "from mlir_bench.cli import main; main()", *args],
                          capture_output=True, text=True, env={**os.environ, "MLIR_BENCH_DATA": DATA})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        sys.exit(f"mlir-bench failed ({proc.returncode}): {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, load_avg()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="muse-v3")
    ap.add_argument("--task", default="xquad-r")
    ap.add_argument("--languages", default=None)
    ap.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: a temporary one)")
    ap.add_argument("--warm-only", action="store_true", help="reuse the cache in --keep; skip the cold run")
    args = ap.parse_args()

    header(f"benchmark 5: cold run vs cached re-run ({args.model} on {args.task})")
    work = args.keep or Path(tempfile.mkdtemp(prefix="h7_b5_"))
    if args.warm_only and not (args.keep and (work / "cache").exists()):
        sys.exit("--warm-only needs --keep DIR holding the cache of an earlier cold run")
    if (work / "cache").exists() and not args.warm_only:
        shutil.rmtree(work / "cache")
    base = ["run", "-m", args.model, "-t", args.task, "--output-dir", str(work / "results"), "--runs-dir",
            str(work / "runs"), "--cache-dir", str(work / "cache"), "--no-progress"]
    if args.languages:
        base += ["--languages", args.languages]
    rows = []
    plan = [("cold", ["--overwrite"])] if not args.warm_only else []
    plan += [("cached re-run --overwrite", ["--overwrite"]), ("cached re-run --overwrite (2)", ["--overwrite"]),
             ("existing result", [])]
    for name, extra in plan:
        wall, cpu, la = run_cli(base + extra)
        res = json.loads(next((work / "results").glob("*.json")).read_text())
        enc = res["manifest"].get("encoded", {})
        n_enc = sum(v.get("encoded", 0) for v in enc.values())
        timings = res["manifest"].get("timings", {})
        rows.append((name, wall, cpu, la, n_enc, timings))
        print(f"{name:30s} {wall:8.2f} s wall {cpu:8.2f} s cpu  load {la:5.1f}  texts encoded {n_enc}")
    warm = min((r for r in rows if r[0].startswith("cached")), key=lambda r: r[1])
    if not args.warm_only:
        cold = rows[0]
        print(f"ratio cold/cached re-run: wall {cold[1] / warm[1]:.1f}x, cpu {cold[2] / warm[2]:.1f}x")
    print(f"cached re-run under 3 s wall: {'yes' if warm[1] < 3 else 'no'} ({warm[1]:.2f} s wall, {warm[2]:.2f} s cpu)")
    print("phases of the best cached re-run (seconds, wall, from the result manifest):")
    print("  " + ", ".join(f"{k.replace('_seconds', '')} {v}" for k, v in warm[5].items() if k.endswith("_seconds")))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
