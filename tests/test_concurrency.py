"""Concurrency: identical runs started at the same moment all finish with identical results; nothing is corrupted.

One round of ``tests/harness/concurrent_runs.py`` with the deterministic fake encoder (slowed so the runs overlap)
on the two-article XQuAD-R de/en task, through the real command line: two identical commands (the second waits
on the result lock, then reuses the result), two runs sharing one cache but writing different results folders
(both encode at once into the same cache), and two ``--overwrite`` runs into one folder (serialised).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _data import DATA  # noqa: E402
from fake_encoder import make_tiny_task  # noqa: E402
from harness import concurrent_runs as cr  # noqa: E402
from harness import kill_resume as kr  # noqa: E402


def test_concurrent_identical_runs(tmp_path: Path) -> None:
    if not (DATA / "xquad-r" / "de.json").exists():
        pytest.skip(f"real data not found at {DATA}")
    spec = make_tiny_task(tmp_path / "data", DATA)
    base = kr.Setup(tmp_path / "work", "fake-ok", str(spec), prefix=[sys.executable, str(HERE / "fake_encoder.py")],
                    extra=["--data-dir", str(tmp_path / "data"), "--batch-size", "8", "--cache-chunk", "16"],
                    env={"MLIR_BENCH_FAKE_DELAY": "0.03"})
    report = cr.concurrent_runs(base, rounds=1, log=print)
    for rec in report["scenarios"]:
        assert rec["problems"] == [], rec
        assert rec["exit_codes"] == [0, 0]
    by_name = {r["scenario"]: r for r in report["scenarios"]}
    same = by_name["same-output"]
    assert same["waited"] + same["reused"] >= 1  # one of the two waited on the lock and reused the result
    assert same["cache"]["rows"] == by_name["overwrite"]["cache"]["rows"]  # the waiter encoded nothing
    assert by_name["shared-cache"]["cache"]["rows"] >= same["cache"]["rows"]  # both encoders wrote, no loss
    assert report["runs"] == 6 and report["ok"]


def test_lock_is_exclusive_and_leaves_no_file(tmp_path: Path) -> None:
    """The result lock: a second holder blocks until the first releases; the file is gone afterwards."""
    import threading
    import time

    from mlir_bench.io import exclusive_lock

    path = tmp_path / ".x.lock"
    events: list[str] = []
    with exclusive_lock(path):
        t = threading.Thread(target=lambda: _hold(path, events))
        t.start()
        time.sleep(0.3)
        events.append("first releases")
    t.join(5)
    assert events == ["waiting", "first releases", "second holds"]
    assert not path.exists()


def _hold(path: Path, events: list[str]) -> None:
    from mlir_bench.io import exclusive_lock

    with exclusive_lock(path, on_wait=lambda: events.append("waiting")):
        events.append("second holds")
