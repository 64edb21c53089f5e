"""Interruption: a run killed while encoding or while scoring resumes to exactly the same scores.

The fast version of ``tests/harness/kill_resume.py`` (which records 20 independent points with a real model in
docs/RELIABILITY.md): the real command line in subprocesses, a deterministic fake encoder slowed to 40 ms per
batch of 4 texts, the two-article XQuAD-R de/en task, 16 texts per cache shard. One run is killed four times in
a row, each time in the run resumed from the previous kill: SIGKILL while encoding, SIGINT (Ctrl-C) while
encoding, SIGKILL while encoding, SIGKILL while searching/scoring/writing; then it is resumed to the end.

After every kill the cache verifies (an independent reader of the shard format); the SIGINT exits 130 with one
line and leaves no partial file; the final result, per-query values and TREC runs equal the uninterrupted run's,
and no temporary or lock file is left.
"""

from __future__ import annotations

import random
import signal
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _data import DATA  # noqa: E402
from fake_encoder import make_tiny_task  # noqa: E402
from harness import kill_resume as kr  # noqa: E402


def test_kill_resume_chain(tmp_path: Path) -> None:
    if not (DATA / "xquad-r" / "de.json").exists():
        pytest.skip(f"real data not found at {DATA}")
    spec = make_tiny_task(tmp_path / "data", DATA)
    setup = kr.Setup(tmp_path / "work", "fake-ok", str(spec), prefix=[sys.executable, str(HERE / "fake_encoder.py")],
                     extra=["--data-dir", str(tmp_path / "data"), "--batch-size", "4", "--cache-chunk", "16"],
                     env={"MLIR_BENCH_FAKE_DELAY": "0.04"})
    plan = kr.prepare(setup, log=print)
    kills = [("encoding", signal.SIGKILL), ("encoding", signal.SIGINT), ("encoding", signal.SIGKILL),
             ("scoring", signal.SIGKILL)]
    recs = kr.chain(plan, kills, random.Random(8), chunk=16, log=print)
    for rec in recs:
        assert rec["problems"] == [], rec
    rows = [r["state_at_kill"]["rows"] for r in recs[:3]]
    assert rows == sorted(rows) and rows[-1] < plan.n_rows  # each resume kept the previous runs' vectors
    assert recs[1]["exit_code"] == 130 and recs[1]["stderr_last_line"].startswith("interrupted:")
    assert recs[3]["state_at_kill"]["rows"] == plan.n_rows and not recs[3]["state_at_kill"]["result"]
    assert recs[-1]["identical"]
