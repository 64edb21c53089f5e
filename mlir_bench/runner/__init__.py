"""The runner composes one evaluation: task -> encoder -> search -> scores -> result (see :mod:`.run`)."""

from __future__ import annotations

from .run import NullReporter, Reporter, RunConfig, run_evaluation

__all__ = ["NullReporter", "Reporter", "RunConfig", "run_evaluation"]
