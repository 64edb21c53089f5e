"""The runner composes one evaluation: task -> encoder -> search -> scores -> result JSON."""

from __future__ import annotations

from .run import NullReporter, Reporter, RunConfig, result_path, run_evaluation

__all__ = ["NullReporter", "Reporter", "RunConfig", "result_path", "run_evaluation"]
