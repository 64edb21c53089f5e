"""Start identical runs at the same moment and check that nothing is lost or corrupted.

Scenarios, each with fresh folders and an empty embedding cache, repeated ``--rounds`` times:

* ``same-output``: two identical commands (same results folder, same cache). The second must wait on the
  result's lock (its log says "another run is computing ...") and then reuse the first one's result; both exit 0.
* ``shared-cache``: the same model and task into two different results folders sharing one cache: both encode
  at once and write shards into the same cache folder concurrently; both exit 0 with identical results.
* ``overwrite``: two identical ``--overwrite`` commands into one results folder: serialised by the lock, both
  recompute, both exit 0, and the files left are complete and identical to the others.

For every run: exit code 0; results (all scores, per-query values, TREC runs) identical across all runs of
the round; no ``*.tmp`` or lock file left in the results folders; every cache shard and search checkpoint
verifies (``kill_resume.verify_cache``) and none was quarantined.

Usage (the recorded run)::

    nice -n 10 python tests/harness/concurrent_runs.py --model muse-v3 --task xquad-r --languages de --rounds 2

(or ``python -m tests.harness.concurrent_runs ...`` from the repository).

``tests/test_concurrency.py`` runs one round with a fake, deterministic encoder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

if __package__:  # imported (harness.concurrent_runs) or run with python -m tests.harness.concurrent_runs
    from . import kill_resume as kr
else:  # run as a script: python tests/harness/concurrent_runs.py
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import kill_resume as kr  # noqa: E402


def at_once(setups: list[kr.Setup], tag: str) -> list[tuple[int, str]]:
    """Start every run (back to back, within milliseconds), wait for all; (exit code, stderr) of each."""
    procs = [kr.start(s, f"{tag}-{i}") for i, s in enumerate(setups)]
    out = []
    for proc, log in procs:
        code = proc.wait(timeout=7200)
        out.append((code, log.read_text(encoding="utf-8", errors="replace")))
    return out


def scenario(base: kr.Setup, name: str, work: Path) -> dict[str, Any]:
    """Run one scenario; returns its record (``problems`` empty when it passed) and the outputs compared."""
    shutil.rmtree(work, ignore_errors=True)
    cache = work / "cache"
    a = base.at(work / "a", cache)
    if name == "same-output":
        setups = [a, a]
    elif name == "shared-cache":
        setups = [a, base.at(work / "b", cache)]
    elif name == "overwrite":
        a = replace(a, extra=[*a.extra, "--overwrite"])
        setups = [a, a]
    else:
        raise ValueError(name)
    t0 = time.monotonic()
    results = at_once(setups, name)
    rec: dict[str, Any] = {"scenario": name, "runs": len(setups), "seconds": round(time.monotonic() - t0, 1),
                           "exit_codes": [c for c, _ in results], "problems": []}
    for i, (code, err) in enumerate(results):
        if code != 0 or "Traceback" in err:
            rec["problems"].append(f"run {i} exit {code}: {err[-400:]}")
    rec["waited"] = sum("another run is computing" in err for _, err in results)
    rec["reused"] = sum("reusing it" in err for _, err in results)
    if name == "same-output" and rec["waited"] + rec["reused"] < 1:
        rec["problems"].append("neither run waited on the lock or reused the other's result")
    outputs = []
    for s in {str(s.work): s for s in setups}.values():
        left = kr.leftovers(s)
        if left:
            rec["problems"].append(f"left behind: {left}")
        if not rec["problems"]:
            outputs.append(kr.comparable(s))
    if outputs and any(o != outputs[0] for o in outputs[1:]):
        rec["problems"].append("the runs' results differ")
    cache_report = kr.verify_cache(cache)
    rec["cache"] = {k: (len(v) if isinstance(v, list) else v) for k, v in cache_report.items()}
    rec["problems"] += [f"corrupt cache entry: {b}" for b in cache_report["bad"]]
    rec["problems"] += [f"quarantined: {q}" for q in cache_report["quarantined"]]
    rec["outputs"] = outputs[0] if outputs else None
    return rec


def concurrent_runs(base: kr.Setup, rounds: int, scenarios: tuple[str, ...] = ("same-output", "shared-cache",
                    "overwrite"), log: Any = print) -> dict[str, Any]:
    """Every scenario ``rounds`` times; all outputs of all rounds must also agree with each other."""
    t0 = time.monotonic()
    recs = []
    first = None
    for r in range(rounds):
        for name in scenarios:
            rec = scenario(base, name, base.work / f"round-{r}" / name)
            out = rec.pop("outputs")
            if out is not None:
                first = first or out
                if out != first:
                    rec["problems"].append("results differ from the other scenarios'")
            rec["round"] = r
            log(f"  round {r} {name:12s} runs={rec['runs']} exit={rec['exit_codes']} waited={rec['waited']} "
                f"reused={rec['reused']} shards={rec['cache']['shards']} rows={rec['cache']['rows']} "
                f"{rec['seconds']}s -> {'OK' if not rec['problems'] else 'FAIL ' + '; '.join(rec['problems'])}")
            recs.append(rec)
            shutil.rmtree(base.work / f"round-{r}" / name, ignore_errors=True)
    return {"command": " ".join(base.command()), "rounds": rounds, "runs": sum(r["runs"] for r in recs),
            "ok": all(not r["problems"] for r in recs), "seconds": round(time.monotonic() - t0, 1),
            "scenarios": recs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="muse-v3")
    ap.add_argument("--task", default="xquad-r")
    ap.add_argument("--languages", default="de")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--cache-chunk", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/mlir-bench-concurrent"))
    ap.add_argument("--report", type=Path, default=None)
    a = ap.parse_args()
    base = kr.Setup(a.work, a.model, a.task, a.languages or None,
                    extra=["--cache-chunk", str(a.cache_chunk), "--threads", str(a.threads)])
    report = concurrent_runs(base, a.rounds, log=lambda m: print(m, flush=True))
    if a.report:
        a.report.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"concurrent runs: {report['runs']} in {len(report['scenarios'])} scenario rounds; "
          f"{'ALL OK' if report['ok'] else 'FAILURES'} in {report['seconds']} s")
    raise SystemExit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
