"""Reproduction: rerun the expected-score conditions (:mod:`mlir_bench.results.expected`) and judge them.

:func:`run_check` reruns each (model, task, text mode, languages, dtype) once through the runner, into a scratch
output folder (committed results are never touched) and with the embedding cache. With ``reuse`` it reads the
results already in the output folder instead, through the runner's identity check: a stored result is used only
when its full identity (data sha256s, task spec, model revision and settings, ``k``, metrics) matches the
condition's run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .results.expected import Condition, Outcome, judge
from .results.schema import Result


def run_check(conditions: Sequence[Condition], *, output_dir: Path, data_dir: str | Path | None = None,
              cache: Any = None, reuse: bool = False, reporter: Any = None,
              encoder_factory: Callable[[str], Any] | None = None,
              on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Rerun every distinct (model, task, text mode, languages) of ``conditions`` once and judge each condition.

    Results go to ``output_dir`` (use a scratch folder); ``reuse=True`` keeps results already there (Pyserini's
    "skip runs already done"), otherwise every run is recomputed (``overwrite``). The embedding cache is used
    when given. A run that raises is reported as FAIL for its conditions; the others still run.
    """
    from .runner import RunConfig, run_evaluation
    from .runner.run import DEFAULT_METRICS

    runs: dict[tuple[str, str, str, tuple[str, ...], str], list[Condition]] = {}
    for c in conditions:
        runs.setdefault(c.run_key, []).append(c)
    outcomes = []
    for (model, task, text_mode, languages, dtype), conds in runs.items():
        metrics = list(dict.fromkeys(DEFAULT_METRICS + [c.metric for c in conds if c.setting != "bias"]))
        cfg = RunConfig(model=model, task=task, data_dir=data_dir, output_dir=Path(output_dir),
                        text_mode=text_mode, metrics=metrics, runs_dir=None, languages=list(languages) or None,
                        overwrite=not reuse, cache=cache, dtype=dtype,
                        bias=any(c.setting == "bias" for c in conds),  # bias statistics only when a condition asks
                        encoder_factory=encoder_factory)
        result: Result | None
        error = ""
        try:
            result = run_evaluation(cfg, reporter)
        except Exception as exc:  # a failed run is a FAIL of its conditions, not the end of the check
            result, error = None, f"run failed: {type(exc).__name__}: {exc}"
        for c in conds:
            o = judge(c, result, error)
            outcomes.append(o)
            if on_outcome:
                on_outcome(o)
    return outcomes
