"""Shared helpers of the issue-7 benchmarks: timers (wall and CPU), real texts, machine load, printing.

The machine these run on is shared and often overloaded, so every figure is printed with the CPU seconds this
process used and the 1-minute load average at the time: wall-clock ratios between two interleaved measurements
are meaningful, absolute wall times much less so.
"""

from __future__ import annotations

import os
import platform
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
DATA = os.environ.get("MLIR_BENCH_DATA", "/work/shared/data")


@dataclass
class Timing:
    wall: float = 0.0
    cpu: float = 0.0  # user + system seconds of this process and its threads (children excluded)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@contextmanager
def timed() -> Iterator[Timing]:
    """``with timed() as t: ...`` then ``t.wall``, ``t.cpu``."""
    t = Timing()
    w0, c0 = time.perf_counter(), _cpu()
    try:
        yield t
    finally:
        t.wall, t.cpu = time.perf_counter() - w0, _cpu() - c0


def interleave(fns: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[Timing]]:
    """Run each function ``rounds`` times, alternating between them (noise hits both sides alike)."""
    out: dict[str, list[Timing]] = {k: [] for k in fns}
    for r in range(rounds):
        names = list(fns) if r % 2 == 0 else list(fns)[::-1]
        for name in names:
            with timed() as t:
                fns[name]()
            out[name].append(t)
    return out


def best(ts: list[Timing]) -> Timing:
    return min(ts, key=lambda t: t.wall)


def median_wall(ts: list[Timing]) -> float:
    s = sorted(t.wall for t in ts)
    return s[len(s) // 2]


def load_avg() -> float:
    return os.getloadavg()[0]


def header(title: str) -> None:
    print(f"# {title}")
    print(f"date {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} · {platform.processor() or platform.machine()}"
          f" · {os.cpu_count()} cores · load average {load_avg():.1f}")


def real_texts(n: int, *, role: str = "document", languages: list[str] | None = None) -> list[str]:
    """``n`` real unique texts from XQuAD-R (candidate sentences, or questions for role 'query')."""
    from mlir_bench.tasks import load_task

    task = load_task("xquad-r", data_dir=DATA, languages=languages or ["en"])
    texts = task.docs.texts if role == "document" else task.queries.texts
    uniq = list(dict.fromkeys(texts))
    if len(uniq) < n:
        raise SystemExit(f"only {len(uniq)} unique texts available, asked for {n}")
    return uniq[:n]
