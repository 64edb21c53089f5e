"""Kill a real run with SIGKILL at random points (while encoding and while scoring), resume it, compare.

For each kill point:

1. start the run (``mlir-bench run ...``) into fresh output folders: an *encoding* point starts with an empty
   embedding cache, a *scoring* point with the reference run's vectors but no search checkpoints, so the
   process is killed while it loads/encodes, or while it searches, scores, draws figures and writes files;
2. SIGKILL it at a random point of that phase, counted from the moment it has loaded its task: while encoding,
   once the cache holds a random number of vectors plus a random fraction of one chunk's encoding time; while
   scoring, at a random time within the reference's search/score/write time. What the process had done by then (vectors stored, search checkpoints, figures, run
   files, per-query file, result) is recorded; a kill that missed its phase is drawn again and does not count;
3. check the cache at once: every shard parses and matches its checksum (an independent reader of the
   documented ``.vec`` format, not the cache's own code), every search checkpoint passes zip's CRC test;
4. resume: the same command, to the end; then the result (all scores, per cell and per setting, bias
   statistics), the per-query file and every TREC run must equal the uninterrupted reference exactly, no
   ``*.tmp``/lock file may be left in the output folders, and the cache must verify again with nothing
   quarantined.

With ``--sigint N`` it also sends SIGINT (Ctrl-C) N times while encoding: exit code 130, exactly one
``interrupted:`` line as the last line on stderr, no traceback, nothing partial left; then resume and compare.

Usage (the recorded run; minutes per point on a loaded 2-core machine)::

    nice -n 10 python tests/harness/kill_resume.py --model muse-v3 --task xquad-r --languages de \\
        --points 20 --sigint 2 --report /tmp/kill_resume.json

(or ``python -m tests.harness.kill_resume ...`` from the repository). ``tests/test_interrupt.py`` uses
:func:`chain` (one run killed again and again, then resumed) with a fake, deterministic, slowed-down encoder.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MAGIC = b"MLIRVEC1"


# ------------------------------------------------------------------------------------------------ the command
@dataclass
class Setup:
    """One run's command line and folders; ``prefix`` is how mlir-bench is launched."""

    work: Path
    model: str
    task: str
    languages: str | None = None
    prefix: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cache_dir: Path | None = None  # default: <work>/cache

    @property
    def out(self) -> Path:
        return self.work / "results"

    @property
    def runs(self) -> Path:
        return self.work / "runs"

    @property
    def cache(self) -> Path:
        return self.cache_dir or self.work / "cache"

    def command(self) -> list[str]:
        cmd = [*(self.prefix or default_prefix()), "run", "-m", self.model, "-t", self.task,
               "--output-dir", str(self.out), "--runs-dir", str(self.runs), "--cache-dir", str(self.cache),
               "--no-progress", *self.extra]
        if self.languages:
            cmd += ["--languages", self.languages]
        return cmd

    def at(self, work: Path, cache_dir: Path | None = None) -> Setup:
        """The same run in another folder (and, if given, with another cache folder)."""
        return replace(self, work=work, cache_dir=cache_dir)


def default_prefix() -> list[str]:
    exe = shutil.which("mlir-bench")
    return [exe] if exe else [sys.executable, "-c", "from mlir_bench.cli import main; main()"]


def start(s: Setup, tag: str) -> tuple[subprocess.Popen[bytes], Path]:
    """Start the run in its own session with SIGINT at its default (so Ctrl-C becomes KeyboardInterrupt)."""
    s.work.mkdir(parents=True, exist_ok=True)
    log = s.work / f"{tag}.stderr"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200", **s.env}
    proc = subprocess.Popen(s.command(), stdout=subprocess.DEVNULL, stderr=open(log, "wb"), env=env,  # noqa: SIM115
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    return proc, log


def run_to_end(s: Setup, tag: str, timeout: float = 7200) -> tuple[int, str]:
    proc, log = start(s, tag)
    code = proc.wait(timeout=timeout)
    return code, log.read_text(encoding="utf-8", errors="replace")


# ------------------------------------------------------------------------------------------------ the checks
def verify_cache(root: Path) -> dict[str, Any]:
    """Check every shard of the embedding cache and every search checkpoint, without the cache's own code.

    Returns counts and the lists of bad shards, quarantined (``*.corrupt``) and temporary files.
    """
    report: dict[str, Any] = {"shards": 0, "rows": 0, "bad": [], "quarantined": [], "tmp": [], "checkpoints": 0}
    if not root.exists():
        return report
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        if p.name.endswith(".corrupt"):
            report["quarantined"].append(str(p))
        elif p.name.endswith(".tmp"):
            report["tmp"].append(str(p))
        elif p.suffix == ".vec":
            why = _shard_problem(p)
            if why:
                report["bad"].append(f"{p}: {why}")
            else:
                report["shards"] += 1
                report["rows"] += _shard_rows(p)
        elif p.suffix == ".npz" and "searches" in p.parts:
            try:
                with zipfile.ZipFile(p) as z:
                    bad = z.testzip()
                if bad:
                    report["bad"].append(f"{p}: CRC error in {bad}")
                else:
                    report["checkpoints"] += 1
            except (zipfile.BadZipFile, OSError) as exc:
                report["bad"].append(f"{p}: {exc}")
    return report


def _shard_rows(p: Path) -> int:
    with open(p, "rb") as fh:
        head = fh.read(12)
        (hlen,) = struct.unpack("<I", head[8:12])
        return int(json.loads(fh.read(hlen))["n"])


def _shard_problem(p: Path) -> str | None:
    """Why ``p`` is not a valid shard (magic, header, exact size, payload sha256), or None."""
    raw = p.read_bytes()
    if len(raw) < 12 or raw[:8] != MAGIC:
        return "bad magic"
    (hlen,) = struct.unpack("<I", raw[8:12])
    try:
        header = json.loads(raw[12:12 + hlen])
        n, dim = int(header["n"]), int(header["dim"])
    except (ValueError, KeyError, TypeError):
        return "bad header"
    if header.get("key") != p.parent.name:
        return f"key {header.get('key')} in folder {p.parent.name}"
    payload = raw[12 + hlen:]
    if len(payload) != n * 32 + n * dim * 4:
        return f"payload {len(payload)} bytes, expected {n * 32 + n * dim * 4}"
    if hashlib.sha256(payload).hexdigest() != header.get("sha256"):
        return "checksum mismatch"
    return None


def leftovers(s: Setup) -> list[str]:
    """Temporary or lock files in the output folders (a finished run must leave none)."""
    out = []
    for d in (s.out, s.runs):
        if d.exists():
            out += [str(p) for p in d.rglob("*") if p.is_file() and (p.name.endswith(".tmp") or p.name.endswith(".lock"))]
    return sorted(out)


def comparable(s: Setup) -> dict[str, Any]:
    """Everything a run reports except its manifest (timings, versions): result, per-query values, TREC runs."""
    results = sorted(s.out.glob("*.json"))
    assert len(results) == 1, results
    result = json.loads(results[0].read_text(encoding="utf-8"))
    result.pop("manifest", None)
    perq = results[0].with_suffix(".perquery.json.gz")
    runs = {str(p.relative_to(s.runs)): hashlib.sha256(gzip.decompress(p.read_bytes())).hexdigest()
            for p in sorted(s.runs.rglob("*.trec.gz"))}
    return {"result": result, "perquery": json.loads(gzip.decompress(perq.read_bytes())), "runs": runs}


def progress_state(s: Setup) -> dict[str, Any]:
    """What a run had done: cache rows stored, search checkpoints, figures, run files, per-query file, result."""
    rows = 0
    if s.cache.exists():
        for p in s.cache.rglob("*.vec"):
            with contextlib.suppress(Exception):
                rows += _shard_rows(p)
    ckpt = len(list((s.cache / "searches").rglob("*.npz"))) if (s.cache / "searches").exists() else 0
    return {"rows": rows, "checkpoints": ckpt,
            "figures": len(list((s.out / "figures").rglob("*.png"))) if (s.out / "figures").exists() else 0,
            "runs": len(list(s.runs.rglob("*.trec.gz"))) if s.runs.exists() else 0,
            "perquery": any(s.out.glob("*.perquery.json.gz")) if s.out.exists() else False,
            "result": any(s.out.glob("*.json")) if s.out.exists() else False}


# ------------------------------------------------------------------------------------------------ kills
@dataclass
class Plan:
    """The uninterrupted reference run: its outputs, its cache, and how long its stages took."""

    reference: Setup
    n_rows: int  # vectors a complete run stores in the cache (unique query + document texts)
    seconds_per_row: float
    scoring_seconds: float  # search + score + bias + TREC runs + result files, from the reference manifest
    expected: dict[str, Any]


def prepare(s: Setup, log: Any = print) -> Plan:
    """Run the uninterrupted reference (empty cache) and note its outputs and stage timings."""
    ref = s.at(s.work / "reference")
    shutil.rmtree(ref.work, ignore_errors=True)
    code, err = run_to_end(ref, "reference")
    if code != 0:
        raise SystemExit(f"reference run failed ({code}): {err[-2000:]}")
    expected = comparable(ref)
    n_rows = progress_state(ref)["rows"]
    result = json.loads(next(ref.out.glob("*.json")).read_text(encoding="utf-8"))
    t = result["manifest"]["timings"]
    enc = t["encode_query_seconds"] + t["encode_document_seconds"]
    scoring = t["total_seconds"] - t["load_seconds"] - enc
    log(f"reference: {n_rows} vectors, encoding {enc:.1f}s, search/score/write {scoring:.1f}s, "
        f"total {t['total_seconds']:.1f}s")
    return Plan(ref, n_rows, enc / max(1, n_rows), max(scoring, 0.2), expected)


def copy_cache(src: Path, dest: Path) -> None:
    """The vectors of ``src`` without its search checkpoints."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("searches"))


def classify(state: dict[str, Any], n_rows: int) -> str:
    if state["result"]:
        return "finished"
    return "encoding" if state["rows"] < n_rows else "scoring"


def kill_at(s: Setup, plan: Plan, phase: str, rng: random.Random, sig: int, tag: str,
            chunk: int) -> tuple[int | None, dict[str, Any], float, Path]:
    """Start the run and send ``sig`` at a random point of ``phase``.

    Both wait until the run has loaded its task (its ``task ...`` log line). Encoding: then until the cache
    holds a random number of rows between what it held at start and the total, plus a random part of one
    chunk's encoding time (so the kill lands anywhere in a chunk, model loading and shard writes included).
    Scoring (the cache is complete): a random time within the reference's search/score/write time.
    Returns (exit code, or None if the run finished first; progress at the kill; seconds after start; log).
    """
    rows0 = progress_state(s)["rows"]
    if phase == "encoding":
        target = rng.randint(rows0, plan.n_rows - 1)
        delay = rng.uniform(0, chunk * plan.seconds_per_row)
    else:
        target = plan.n_rows
        delay = rng.uniform(0, plan.scoring_seconds)
    proc, log = start(s, tag)
    t0 = time.monotonic()
    while proc.poll() is None and "task " not in log.read_text(encoding="utf-8", errors="replace"):
        time.sleep(0.02)  # the task is loaded (logged after imports, model lookup and reading the data)
    while proc.poll() is None and progress_state(s)["rows"] < target:
        time.sleep(0.02)
    t_end = time.monotonic() + delay
    while proc.poll() is None and time.monotonic() < t_end:
        time.sleep(0.01)
    if proc.poll() is not None:
        return None, progress_state(s), time.monotonic() - t0, log
    os.kill(proc.pid, sig)
    t_kill = time.monotonic() - t0
    code = proc.wait()
    return code, progress_state(s), t_kill, log


def check_after_kill(s: Setup, sig: int, code: int, log: Path, rec: dict[str, Any]) -> list[str]:
    """Cache integrity right after the kill; for SIGINT also the exit code, the one line and no leftovers."""
    cache = verify_cache(s.cache)
    rec["cache_after_kill"] = {k: (len(v) if isinstance(v, list) else v) for k, v in cache.items()}
    rec["tmp_after_kill"] = leftovers(s)
    problems = [f"corrupt cache entry after kill: {b}" for b in cache["bad"]]
    if sig == signal.SIGINT:
        err = log.read_text(encoding="utf-8", errors="replace")
        lines = [ln for ln in err.splitlines() if ln.strip()]
        rec["stderr_last_line"] = lines[-1] if lines else ""
        if code != 130:
            problems.append(f"SIGINT exit code {code}, expected 130")
        if "Traceback" in err:
            problems.append("SIGINT printed a traceback")
        if not lines or not lines[-1].startswith("interrupted:") or sum(ln.startswith("interrupted") for ln in lines) != 1:
            problems.append(f"SIGINT: expected one final 'interrupted:' line, got {lines[-3:]}")
        if rec["tmp_after_kill"]:
            problems.append(f"SIGINT left {rec['tmp_after_kill']}")
    return problems


def check_final(s: Setup, plan: Plan, rec: dict[str, Any]) -> list[str]:
    """Resume to the end; compare with the reference; no leftovers; cache verifies, nothing quarantined."""
    t1 = time.monotonic()
    code, err = run_to_end(s, "resumed")
    rec["resume_seconds"] = round(time.monotonic() - t1, 1)
    problems = []
    if code != 0:
        problems.append(f"resumed run failed ({code}): {err[-500:]}")
    else:
        rec["identical"] = comparable(s) == plan.expected
        if not rec["identical"]:
            problems.append("resumed run's scores differ from the uninterrupted run")
        if leftovers(s):
            problems.append(f"partial files left after resuming: {leftovers(s)}")
    final = verify_cache(s.cache)
    rec["cache_after_resume"] = {k: (len(v) if isinstance(v, list) else v) for k, v in final.items()}
    problems += [f"corrupt cache entry after resume: {b}" for b in final["bad"]]
    problems += [f"quarantined cache entry: {q}" for q in final["quarantined"]]
    return problems


def trial(plan: Plan, i: int, phase: str, rng: random.Random, *, sig: int = signal.SIGKILL, chunk: int = 128,
          max_attempts: int = 6, log: Any = print) -> dict[str, Any]:
    """One independent kill point: fresh outputs (empty cache for encoding, the reference's vectors without
    search checkpoints for scoring), kill in ``phase``, check, resume, compare. A kill that missed its phase
    (the run ended first, or a scoring kill came too late) is drawn again and does not count."""
    for attempt in range(max_attempts):
        s = plan.reference.at(plan.reference.work.parent / f"point-{i:02d}")
        shutil.rmtree(s.work, ignore_errors=True)
        if phase == "scoring":
            copy_cache(plan.reference.cache, s.cache)
        code, state, t_kill, log_path = kill_at(s, plan, phase, rng, sig, "killed", chunk)
        got = "finished" if code is None else classify(state, plan.n_rows)
        if got != phase:
            log(f"  point {i}: the kill landed in {got}, not {phase}; drawing again")
            continue
        rec: dict[str, Any] = {"point": i, "phase": phase, "signal": signal.Signals(sig).name,
                               "t_kill": round(t_kill, 2), "attempt": attempt + 1, "exit_code": code,
                               "state_at_kill": state, "identical": False}
        rec["problems"] = check_after_kill(s, sig, code, log_path, rec) + check_final(s, plan, rec)
        _log_point(log, rec, plan)
        shutil.rmtree(s.work, ignore_errors=True)
        return rec
    raise RuntimeError(f"point {i}: could not land a kill in {phase} in {max_attempts} attempts")


def chain(plan: Plan, kills: list[tuple[str, int]], rng: random.Random, *, chunk: int = 16,
          log: Any = print) -> list[dict[str, Any]]:
    """Kill one run again and again: each kill hits the run resumed from the previous one (the cheap version for
    the test suite); the last resume goes to the end and is compared. Kills that miss are drawn again."""
    s = plan.reference.at(plan.reference.work.parent / "chain")
    shutil.rmtree(s.work, ignore_errors=True)
    recs: list[dict[str, Any]] = []
    for i, (phase, sig) in enumerate(kills):
        attempts = 0
        for _ in range(6):
            attempts += 1
            code, state, t_kill, log_path = kill_at(s, plan, phase, rng, sig, f"killed-{i}", chunk)
            got = "finished" if code is None else classify(state, plan.n_rows)
            if got == phase:
                break
            log(f"  kill {i}: landed in {got}, not {phase}; drawing again")
            for p in s.out.glob("*.json*"):  # a finished run: drop its result so the next attempt runs
                p.unlink()
            if s.runs.exists():
                shutil.rmtree(s.runs)
            shutil.rmtree(s.cache / "searches", ignore_errors=True)
        else:
            raise RuntimeError(f"kill {i}: could not land in {phase}")
        rec: dict[str, Any] = {"point": i, "phase": phase, "signal": signal.Signals(sig).name,
                               "t_kill": round(t_kill, 2), "attempt": attempts, "exit_code": code,
                               "state_at_kill": state}
        rec["problems"] = check_after_kill(s, sig, code, log_path, rec)
        recs.append(rec)
        _log_point(log, rec, plan)
    final: dict[str, Any] = {"identical": False}
    final["problems"] = check_final(s, plan, final)
    recs.append({"point": "final-resume", **final})
    return recs


def _log_point(log: Any, rec: dict[str, Any], plan: Plan) -> None:
    st = rec["state_at_kill"]
    log(f"  point {rec['point']:>2} {rec['phase']:8s} {rec['signal']:7s} t={rec['t_kill']:6.1f}s "
        f"rows={st['rows']}/{plan.n_rows} ckpt={st['checkpoints']} fig={st['figures']} runs={st['runs']} "
        f"perquery={int(st['perquery'])} -> {'OK' if not rec['problems'] else 'FAIL ' + '; '.join(rec['problems'])}")


def kill_resume(s: Setup, points: int, *, sigint: int = 0, seed: int = 0, encoding_share: float = 0.6,
                chunk: int = 128, log: Any = print) -> dict[str, Any]:
    """The whole experiment; returns a JSON-able report (``ok`` is True when every point passed)."""
    rng = random.Random(seed)
    t0 = time.monotonic()
    plan = prepare(s, log)
    n_enc = round(points * encoding_share)
    phases = ["encoding"] * n_enc + ["scoring"] * (points - n_enc)
    rng.shuffle(phases)
    recs = [trial(plan, i, ph, rng, chunk=chunk, log=log) for i, ph in enumerate(phases)]
    recs += [trial(plan, points + j, "encoding", rng, sig=signal.SIGINT, chunk=chunk, log=log)
             for j in range(sigint)]
    ok = all(not r["problems"] for r in recs)
    return {"command": " ".join(plan.reference.command()), "points": points, "sigint": sigint, "seed": seed,
            "n_rows": plan.n_rows, "seconds_per_row": plan.seconds_per_row, "scoring_seconds": plan.scoring_seconds,
            "survived": sum(1 for r in recs if not r["problems"] and r["signal"] == "SIGKILL"),
            "sigint_ok": sum(1 for r in recs if not r["problems"] and r["signal"] == "SIGINT"),
            "ok": ok, "seconds": round(time.monotonic() - t0, 1), "trials": recs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="muse-v3")
    ap.add_argument("--task", default="xquad-r")
    ap.add_argument("--languages", default="de")
    ap.add_argument("--points", type=int, default=20)
    ap.add_argument("--sigint", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-chunk", type=int, default=128, help="texts per cache shard (resume granularity)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/mlir-bench-kill-resume"))
    ap.add_argument("--report", type=Path, default=None)
    a = ap.parse_args()
    extra = ["--cache-chunk", str(a.cache_chunk), "--threads", str(a.threads)]
    s = Setup(a.work, a.model, a.task, a.languages or None, extra=extra)
    report = kill_resume(s, a.points, sigint=a.sigint, seed=a.seed, chunk=a.cache_chunk,
                         log=lambda m: print(m, flush=True))
    text = json.dumps(report, indent=1)
    if a.report:
        a.report.write_text(text + "\n", encoding="utf-8")
    print(f"kill points survived: {report['survived']}/{a.points}; SIGINT stops OK: {report['sigint_ok']}/{a.sigint}; "
          f"{'ALL OK' if report['ok'] else 'FAILURES'} in {report['seconds']} s")
    raise SystemExit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
