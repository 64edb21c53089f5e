"""Wall time per phase of a run, recorded in the result's manifest (``manifest.timings``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

#: Phases every manifest lists (0 when a phase did not run), in this order, as ``<phase>_seconds``.
PHASES = ("load", "search", "score", "bias", "write_runs")


class PhaseTimer:
    """``with timer.phase("search"): ...`` adds the block's wall time to that phase; started at creation."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0

    def as_manifest(self) -> dict[str, float | None]:
        """``{"load_seconds": ..., ..., "total_seconds": ...}`` rounded to milliseconds."""
        names = list(PHASES) + [p for p in self.seconds if p not in PHASES]
        out: dict[str, float | None] = {f"{p}_seconds": round(self.seconds.get(p, 0.0), 3) for p in names}
        out["total_seconds"] = round(time.perf_counter() - self.start, 3)
        return out
