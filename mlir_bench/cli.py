"""The command line: a thin typer layer over the runner. Nothing below this module imports it."""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from .errors import UserError
from .scoring.bias_stats import cli_help as bias_cli_help

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="mlir-bench: multilingual retrieval over mixed-language pools.")
console = Console(stderr=True)
out = Console()


class RichReporter:
    """Progress bars on stderr while encoding; log lines above them."""

    def __init__(self, enabled: bool = True) -> None:
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TimeRemainingColumn(), console=console, disable=not enabled, transient=False)
        self.started = False

    def progress(self, description: str, total: int):
        if not self.started:
            self.bar.start()
            self.started = True
        tid = self.bar.add_task(description, total=total)
        return lambda n: self.bar.advance(tid, n)

    def log(self, message: str) -> None:
        console.print(f"[dim]{message}[/dim]")

    def close(self) -> None:
        if self.started:
            self.bar.stop()


NO_TRUNCATION_WIDTH = 100_000  # off a terminal a table is as wide as its content: no cell is cut to "…"


def _wide() -> Console:
    """The standard output console on a terminal; elsewhere (files, pipes, CI logs) one so wide that tables are
    never truncated, so ``mlir-bench list-tasks | grep NAME`` finds every full name."""
    return out if out.is_terminal else Console(width=NO_TRUNCATION_WIDTH)


def _print_json(obj: Any) -> None:
    """Machine-readable output: plain JSON on stdout (no rich markup, highlighting or wrapping)."""
    import json

    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=1) + "\n")


def _fmt(v: Any) -> str:
    return "—" if v is None else f"{v:.4f}"


def print_result(result: Any) -> None:
    """Metrics x settings (Mono / Cross / Multi), then the main setting's scores per query language."""
    settings = result.settings
    t = Table(title=f"{result.task.name} · {result.model.name} · {result.task.text_mode}")
    t.add_column("metric")
    for name in settings:
        t.add_column(name, justify="right")
    for m in result.metrics:
        t.add_row(m, *(_fmt(s.scores.get(m)) for s in settings.values()))
    t.add_row("cells", *(str(s.n_cells) for s in settings.values()))
    t.add_row("skipped queries", *(str(s.n_skipped) for s in settings.values()))
    out.print(t)
    main = result.main_score
    per = result.cells_of(main.setting)
    if per:
        cols = [m for m in dict.fromkeys([main.metric, "recall@10", "ndcg@10", "mrr@10"]) if m in result.metrics]
        t2 = Table(title=f"{main.setting} by query language")
        t2.add_column("query lang")
        for m in cols:
            t2.add_column(m, justify="right")
        for c in per:
            t2.add_row(c.name, *(_fmt(c.scores.get(m)) for m in cols))
        out.print(t2)
    if result.bias and result.bias.summary:
        t3 = Table(title="language bias and geometry (Multi)")
        t3.add_column("statistic")
        t3.add_column("value", justify="right")
        for k, v in result.bias.summary.items():
            t3.add_row(k, _fmt(v) if isinstance(v, float) else str(v))
        out.print(t3)


def _split(values: list[str] | None, option: str = "") -> list[str]:
    """The comma-separated names of a repeatable option, stripped; empty items (``a,,b``, a trailing comma) are
    dropped, but a value that names nothing at all (``""``, ``","``, ``" "``) is a UserError naming ``option``:
    an empty list must never silently mean "nothing" or "all"."""
    names: list[str] = []
    for v in values or []:
        items = [x.strip() for x in v.split(",") if x.strip()]
        if not items:
            raise UserError(f"{option or 'option'} {v!r}: names nothing, expected one or more comma-separated names")
        names += items
    return names


#: The most a top-k may hold (``--k``): the top k of every query and cell is kept in memory (and in run files).
MAX_K = 10_000


def _check_k(k: int) -> None:
    """Validate ``--k`` before any work: deep enough for the bias statistics, small enough to fit in memory.

    The metrics do not bound k from below: they are computed from the ranks of the relevant documents in the
    *full* ranking (``SearchResult.rel_ranks``), so ``ndcg@20`` is exact for any k. The language-bias statistics
    that read the top-k lists do (``needs_top_k`` in :mod:`mlir_bench.scoring.bias_stats`: mrc@20 correlates
    parallel queries' scores on the union of their top-20 lists; own_language_share@10 counts languages in the
    top 10); their deepest cutoff is :func:`~mlir_bench.scoring.bias_stats.min_depth`.
    """
    from .scoring.bias_stats import STATISTICS, min_depth

    need = min_depth()
    if k < need:
        which = ", ".join(f"{s.name}@{max(s.ks)}" for s in STATISTICS if s.needs_top_k and s.ks)
        raise UserError(f"--k {k}: the language-bias statistics read the top-k lists ({which}); "
                        f"expected --k >= {need}")
    if k > MAX_K:
        raise UserError(f"--k {k}: expected at most {MAX_K:,} (the top k of every query is held in memory and "
                        f"written to the run files; metrics use the full ranking whatever k is)")


def _check_test(test: str, alpha: float) -> None:
    """Validate the significance-test options of compare and leaderboard."""
    from .leaderboard.significance import TESTS

    if test not in TESTS:
        raise UserError(f"--test {test!r}: expected one of {', '.join(TESTS)}")
    if not 0 < alpha < 1:
        raise UserError(f"--alpha {alpha}: expected a significance level strictly between 0 and 1 (e.g. 0.05)")


@app.command()
def run(
    model: Annotated[list[str], typer.Option("--model", "-m", help="Registered name, sentence-transformers id or "
                                              "local path; repeat or comma-separate for several.")],
    task: Annotated[list[str], typer.Option("--task", "-t", help="Task name or .toml spec; repeatable.")] = ["xquad-r"],  # noqa: B006
    data_dir: Annotated[Path | None, typer.Option(help="Data root (else $MLIR_BENCH_DATA, else the cache).")] = None,
    output_dir: Annotated[Path, typer.Option(help="Where result JSON is written.")] = Path("results"),
    text_mode: Annotated[str, typer.Option(help="Candidate text: sentence or sentence+context.")] = "sentence",
    batch_size: Annotated[int | None, typer.Option(min=1, help="Texts per batch (default: the model's own; 32 on "
                                                   "the CPU and 128 on a GPU for sentence-transformers models).")] = None,
    k: Annotated[int, typer.Option(min=1, help="Depth of the stored top-k (run files; the bias statistics need "
                                   ">= 20; at most 10,000). Metrics use the full ranking whatever k is.")] = 100,
    metric: Annotated[list[str] | None, typer.Option("--metric", help="Metrics (e.g. map, ndcg@10); repeatable.")] = None,
    languages: Annotated[str | None, typer.Option(help="Comma-separated subset of the task's languages.")] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where TREC run files (top k per cell) go.")] = Path("runs"),
    runs: Annotated[str, typer.Option(help="TREC run files to write: 'main' (Mono and Multi cells), 'all' "
                                      "(also the Cross cells) or 'none'.")] = "main",
    save_embeddings: Annotated[Path | None, typer.Option(help="Also save the vectors (.npy + ids) here.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Recompute even if the result file exists.")] = False,
    threads: Annotated[int | None, typer.Option(min=1, help="Encoder threads.")] = None,
    dtype: Annotated[str, typer.Option(help="float32 or bfloat16 (autocast on the CPU or a bf16 GPU, or OpenVINO's bf16; "
                                       "where the adapter supports it).")] = "float32",
    device: Annotated[str, typer.Option(help="auto (a GPU when torch sees one, else the CPU), cpu, cuda, cuda:N or "
                                        "mps. Recorded in the result's manifest.")] = "auto",
    engine: Annotated[str, typer.Option(help="What runs a sentence-transformers model: torch, onnx (ONNX Runtime) or "
                                        "openvino; exported once into the model cache. Part of the result's "
                                        "identity.")] = "torch",
    quantize: Annotated[str, typer.Option(help="none or int8 (dynamic int8 of the engine). Part of the result's "
                                          "identity.")] = "none",
    cache_dir: Annotated[Path | None, typer.Option(help="Embedding cache folder (default: the mlir-bench cache).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the embedding cache.")] = False,
    cache_chunk: Annotated[int | None, typer.Option(min=1, help="Texts encoded per cache shard (default 2048): "
                                                    "an interrupted run loses at most this much encoding.")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    backend: Annotated[str, typer.Option(help="Where texts are encoded: 'local' (this process) or 'ray' (a Ray "
                                         "Data actor pool; pip install mlir-bench[ray]; needs the cache).")] = "local",
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster address for --backend ray (default: "
                                                    "$RAY_ADDRESS, else a local Ray instance).")] = None,
    ray_actors: Annotated[int, typer.Option(min=1, help="Encoder actors for --backend ray.")] = 1,
    ray_gpus: Annotated[float, typer.Option(min=0, help="GPUs per actor for --backend ray (0: CPU actors; "
                                            ">0 loads the model on cuda).")] = 0.0,
    shard_size: Annotated[int | None, typer.Option(min=1, help="Encode the pool into shards of this many vectors "
                                                   "on disk and stream them at search time (automatic above 2M "
                                                   "documents; dense models only).")] = None,
    shards_dir: Annotated[Path | None, typer.Option(help="Where shard stores are kept (default: "
                                                    "<cache>/shards).")] = None,
    ann: Annotated[str | None, typer.Option(help="With shards: also build a faiss index (ivf, ivfpq or hnsw) and "
                                            "record its recall@k against exact search.")] = None,
) -> None:
    """Evaluate model(s) on task(s): Mono, Cross and Multi from one encoding; print tables, write results/."""
    from .dtypes import canonical_dtype
    from .embedding.lazy import load_encoder_lazily
    from .encoders.device import canonical_device, check_available
    from .encoders.engines import canonical_engine, canonical_quantization
    from .runner import RunConfig, run_evaluation
    from .runner.run import DEFAULT_METRICS

    # every argument is checked before any work (nothing is loaded, encoded or written for a bad one)
    models, tasks = _split(model, "--model"), _split(task, "--task")
    langs = _split([languages], "--languages") if languages is not None else None
    _check_k(k)
    dtype = canonical_dtype(dtype)  # once: the result's reuse check and the loader see the same name
    device, engine, quantize = canonical_device(device), canonical_engine(engine), canonical_quantization(quantize)
    check_available(device)  # an explicit GPU torch cannot use fails now (auto and cpu import nothing)
    if dtype == "bfloat16" and engine == "torch" and device in ("auto", "cpu") and backend == "local":
        from .dtypes import cpu_bf16_warning
        from .encoders.device import resolve_device

        if (note := cpu_bf16_warning()) and resolve_device(device) == "cpu":
            console.print(f"warning: --dtype bfloat16: {note}", highlight=False, markup=False, soft_wrap=True)

    cache = None if no_cache else _open_cache(cache_dir)
    remote_factory = None
    if backend == "ray":
        if cache is None:
            raise UserError("--backend ray writes vectors into the embedding cache; drop --no-cache")
        from .embedding.ray_backend import ray_factory

        remote_factory = ray_factory(cache.root, address=ray_address, num_actors=ray_actors, batch_size=batch_size,
                                     threads=threads, dtype=dtype, gpus_per_actor=ray_gpus, device=device,
                                     engine=engine, quantization=quantize,
                                     chunk_size=cache_chunk)
    elif backend != "local":
        raise UserError(f"--backend {backend!r}: expected local or ray")
    reporter = RichReporter(enabled=progress and sys.stderr.isatty() or progress and bool(os.environ.get("CI")) is False)
    try:
        for mname in models:
            for tname in tasks:
                cfg = RunConfig(
                    model=mname, task=tname, data_dir=data_dir, output_dir=output_dir, text_mode=text_mode,
                    batch_size=batch_size, k=k, metrics=metric or list(DEFAULT_METRICS),
                    runs_dir=None if runs == "none" else runs_dir, run_settings=_run_settings(runs), save_embeddings=save_embeddings,
                    languages=langs, overwrite=overwrite, cache=cache,
                    cache_chunk=cache_chunk, dtype=dtype, device=device, engine=engine, quantization=quantize,
                    encoder_factory=lambda n: load_encoder_lazily(n, batch_size=batch_size, threads=threads,
                                                                  dtype=dtype, device=device, engine=engine,
                                                                  quantization=quantize),
                    remote_factory=remote_factory, shard_size=shard_size, shards_dir=shards_dir, ann=ann,
                )
                result = run_evaluation(cfg, reporter)
                reporter.close()
                reporter.started = False
                print_result(result)
    finally:
        reporter.close()


def _run_settings(runs: str) -> tuple[str, ...]:
    if runs not in ("main", "all", "none"):
        raise UserError(f"--runs {runs!r}: expected main, all or none")
    return ("mono", "cross", "multi", "per-language") if runs == "all" else ("mono", "multi", "per-language")


def _open_cache(cache_dir: Path | None, *, must_exist: bool = False) -> Any:
    """The embedding cache at ``cache_dir`` (default: the mlir-bench cache); ``must_exist``: a UserError when the
    folder is missing (reading commands: an empty listing or "OK" would hide a mistyped path)."""
    try:
        from .embedding.cache import EmbeddingCache  # type: ignore[import-not-found]
    except ImportError:
        return None
    from .io import default_cache_root

    cache = EmbeddingCache(cache_dir or default_cache_root() / "embeddings")
    if must_exist and not cache.root.is_dir():
        what = "is not a folder" if cache.root.exists() else "does not exist"
        raise UserError(f"{cache.root}: embedding cache folder {what}; expected the folder given to "
                        f"`run --cache-dir` (default: {default_cache_root() / 'embeddings'})")
    return cache


@contextlib.contextmanager
def _corruption_notes() -> Iterator[list[str]]:
    """Collect the cache's corruption warnings (one message per set-aside file) instead of printing them."""
    from .embedding.cache import CacheCorruptionWarning

    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CacheCorruptionWarning)
        yield notes
    for w in caught:
        if issubclass(w.category, CacheCorruptionWarning):
            notes.append(str(w.message))
        else:  # not ours to swallow
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)


@app.command()
def leaderboard(
    results_dir: Annotated[Path, typer.Option(help="Folder of result JSON (and per-query sidecars).")] = Path("results"),
    output: Annotated[Path, typer.Option("--out", help="The HTML page to write.")] = Path("leaderboard/index.html"),
    test: Annotated[str, typer.Option(help="Paired test for the markers: fisher (randomization) or student.")] = "fisher",
    permutations: Annotated[int, typer.Option(min=100, help="Sign flips for the randomization test.")] = 10_000,
    alpha: Annotated[float, typer.Option(help="Family-wise level after Holm's correction.")] = 0.05,
    seed: Annotated[int, typer.Option(help="Seed of the randomization test (the page is deterministic).")] = 42,
    expected: Annotated[Path | None, typer.Option(help="Expected scores shown as the reproduction table "
                                                  "(default: RESULTS_DIR/expected.toml).")] = None,
    downloads: Annotated[bool, typer.Option(help="Also write results.csv and summary.json beside the page.")] = True,
    unit: Annotated[str, typer.Option(help="Unit of the paired tests: auto (one per question group where the queries "
                                      "are translations of one question, else per query) or query.")] = "auto",
) -> None:
    """Render the static leaderboard page (one self-contained HTML file) from result files, and beside it the same
    numbers as results.csv (every model × task × setting) and summary.json (headline rankings, model cards)."""
    from .leaderboard import build_leaderboard

    _check_test(test, alpha)

    path = build_leaderboard(results_dir, output, test=test, n_permutations=permutations, seed=seed, alpha=alpha,
                             expected=expected, downloads=downloads, unit=unit)
    size = path.stat().st_size
    out.print(f"wrote {path} ({size:,} bytes)", highlight=False)
    if downloads:
        out.print(f"wrote {path.parent / 'results.csv'} and {path.parent / 'summary.json'}", highlight=False)


@app.command()
def compare(
    model: Annotated[list[str], typer.Option("--model", "-m", help="Models to compare (names as in their results, "
                                              "or the path/id given to run); repeat or comma-separate.")],
    task: Annotated[str, typer.Option("--task", "-t", help="Task name.")] = "xquad-r",
    setting: Annotated[str, typer.Option(help="Setting: mono, multi, ... (whose cells have per-query values).")] = "multi",
    metric: Annotated[str, typer.Option(help="Per-query statistic: a metric (map, ndcg@10, ...) or a bias "
                                        f"statistic ({bias_cli_help()}).")] = "map",
    results_dir: Annotated[Path, typer.Option(help="Folder of result JSON and per-query sidecars.")] = Path("results"),
    text_mode: Annotated[str, typer.Option(help="Candidate text mode of the results.")] = "sentence",
    test: Annotated[str, typer.Option(help="fisher (paired randomization) or student (paired t-test).")] = "fisher",
    permutations: Annotated[int, typer.Option(min=100, help="Sign flips for the randomization test.")] = 10_000,
    alpha: Annotated[float, typer.Option(help="Family-wise level after Holm's correction.")] = 0.05,
    seed: Annotated[int, typer.Option(help="Seed of the randomization test.")] = 42,
    unit: Annotated[str, typer.Option(help="Unit of the test: auto (per question group when the queries carry "
                                      "groups, else per query), group (required) or query.")] = "auto",
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the comparison as JSON here.")] = None,
) -> None:
    """Paired significance tests between models on one task's per-query values (Holm-corrected)."""
    from .io import write_json
    from .leaderboard.compare import compare_models

    models = _split(model, "--model")
    _check_test(test, alpha)
    mc = compare_models(results_dir, task, models, setting=setting, metric=metric, text_mode=text_mode,
                        test=test, n_permutations=permutations, seed=seed, alpha=alpha, unit=unit)
    c = mc.comparison
    prefix = os.path.commonprefix(c.models) if len(c.models) > 1 else ""
    prefix = prefix[: prefix.rfind("/") + 1] if "/" in prefix else ""  # shown once, in the caption
    arrow = "lower is better" if mc.lower_is_better else "higher is better"
    units = f" in {c.n_units} question groups (grouped test)" if c.unit == "group" else ""
    t = Table(title=f"{task} · {setting} · {metric} ({arrow}) · {c.n_queries} paired queries{units}, {c.n_cells} "
                    f"cells · {test}, Holm over {len(c.models) * (len(c.models) - 1) // 2} pairs")
    t.add_column("#")
    t.add_column("model")
    t.add_column(metric, justify="right")
    t.add_column("rank interval", justify="right")
    for i in range(len(c.models)):
        t.add_column(f"p vs {i + 1}", justify="right")
    for i, name in enumerate(c.models):
        ps = []
        for j in range(len(c.models)):
            p = c.p_adjusted[i][j]
            ps.append("" if p is None else f"{p:.4f}{'*' if c.better[i][j] or c.better[j][i] else ''}")
        lo, hi = c.rank_interval[i]
        t.add_row(str(i + 1), name[len(prefix):], f"{mc.means[i]:.4f}", f"{lo}-{hi}" if lo != hi else str(lo), *ps)
    wide = _wide()
    wide.print(t)
    wide.print(f"* Holm-adjusted p < {alpha}" + (f"; model names without the prefix {prefix!r}" if prefix else ""),
               highlight=False, markup=False)
    if json_out:
        write_json(json_out, mc.to_dict())


@app.command()
def check(
    expected: Annotated[Path | None, typer.Option(help="Expected-scores TOML (Pyserini 2CR style; default: the "
                                                  "one shipped with mlir-bench, tasks/expected.toml).")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Only conditions with this tag (e.g. fast); repeatable.")] = None,
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="Only these models; repeatable.")] = None,
    task: Annotated[list[str] | None, typer.Option("--task", "-t", help="Only these tasks; repeatable.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data root (else $MLIR_BENCH_DATA, else the cache).")] = None,
    output_dir: Annotated[Path | None, typer.Option(help="Keep the rerun results here (default: a temporary "
                                                    "folder, removed afterwards; committed results are never touched).")] = None,
    reuse: Annotated[bool, typer.Option(help="Reuse results already in --output-dir instead of rerunning.")] = False,
    cache_dir: Annotated[Path | None, typer.Option(help="Embedding cache folder (default: the mlir-bench cache).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the embedding cache.")] = False,
) -> None:
    """Rerun the expected-score conditions; print OK / OKish / FAIL per condition; exit 1 on any FAIL."""
    import tempfile

    from .reproduction import run_check
    from .results.expected import format_outcome, load_expected, packaged_expected_scores, select, summary

    if expected is None:
        expected = packaged_expected_scores()
    conds = select(load_expected(expected), tags=_split(tag, "--tag"), models=_split(model, "--model"),
                   tasks=_split(task, "--task"))
    if not conds:
        raise UserError(f"{expected}: no condition matches the given --tag/--model/--task")
    cache = None if no_cache else _open_cache(cache_dir)
    with tempfile.TemporaryDirectory(prefix="mlir-bench-check-") as tmp:
        outcomes = run_check(conds, output_dir=output_dir or Path(tmp), data_dir=data_dir, cache=cache,
                             reuse=reuse, reporter=RichReporter(enabled=False),
                             on_outcome=lambda o: out.print(format_outcome(o), highlight=False, markup=False,
                                                              soft_wrap=True))
    counts = summary(outcomes)
    out.print(" · ".join(f"{n} {s}" for s, n in counts.items()), highlight=False)
    if counts["FAIL"]:
        raise SystemExit(1)


@app.command("train-reference")
def train_reference(
    method: Annotated[str, typer.Option(help="kd-only, mimo, x-x, x-x-mono, x-y, hybrid or hybrid-single-pair.")
                      ] = "mimo",
    recipe: Annotated[str, typer.Option(help="smoke, cpu-small, cpu-small-self, cpu-medium, cpu-1h, paper, or a recipe "
                                        ".toml path.")] = "cpu-small",
    output_dir: Annotated[Path | None, typer.Option(help="Parent folder of the checkpoints: the student goes to "
                                                    "OUTPUT_DIR/METHOD (default: models/<recipe name>/seed-<seed>, "
                                                    "so that mimo finds the kd-only of its seed beside it).")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data root (else $MLIR_BENCH_DATA).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of every random choice (language plans, item order, projection "
                                      "initialisation, dropout); recorded in the training manifest.")] = 0,
    resume: Annotated[bool, typer.Option(help="Return a completed run as is and continue an interrupted one; "
                                         "--no-resume starts afresh (overwriting the folder's run).")] = True,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Train a reference student (MIMO or a baseline); evaluate it with `mlir-bench run --model <folder>`."""
    from .data.fetch import data_root
    from .training.api import train_reference as _train
    from .training.recipes import load_recipe, resolve_method

    method = resolve_method(method).name  # the folder is named by the method, never by an alias
    if output_dir is None:
        from .training.api import run_folder

        output_dir = run_folder(load_recipe(recipe).name, method, seed).parent
    out_path = _train(recipe, method, output_dir / method, data_dir=data_root(data_dir), seed=seed,
                      resume=resume, progress=progress)
    out.print(f"trained {method} ({recipe}, seed {seed}) -> {out_path}")


cache_app = typer.Typer(no_args_is_help=True, help="The embedding cache: what it holds, and a full integrity check.")
app.add_typer(cache_app, name="cache")


@cache_app.command("info")
def cache_info(
    cache_dir: Annotated[Path | None, typer.Option(help="Embedding cache folder (default: the mlir-bench cache).")] = None,
) -> None:
    """One line per vector key: model, role, prompt, dtype (with the engine and quantization when not torch),
    shards, stored vectors and size.

    Shard headers are read (not the vectors); a shard whose header is damaged is set aside, as on any read, and
    named on stderr."""
    cache = _open_cache(cache_dir, must_exist=True)
    t = Table(title=f"embedding cache {cache.root}")
    for col in ("key", "model", "role", "prompt", "max length", "dtype", "shards", "vectors", "MB"):
        t.add_column(col, justify="right" if col in ("shards", "vectors", "MB", "max length") else "left")
    with _corruption_notes() as notes:
        for key in cache.keys():
            f, st = cache.describe_key(key), cache.stats(key)
            t.add_row(key, str(f.get("name", "?")), str(f.get("role", "?")), repr(f.get("prompt", "")),
                      str(f.get("max_length", "")),
                      "/".join(str(f[k]) for k in ("dtype", "engine", "quantization") if k in f),  # engine if not torch
                      str(st["shards"]), f"{st['rows']:,}",
                      f"{st['bytes'] / 1e6:.1f}")
    _wide().print(t)
    for line in notes:
        console.print(f"warning: {line}", highlight=False, markup=False, soft_wrap=True)


@cache_app.command("verify")
def cache_verify(
    cache_dir: Annotated[Path | None, typer.Option(help="Embedding cache folder (default: the mlir-bench cache).")] = None,
    key: Annotated[list[str] | None, typer.Option("--key", help="Only these vector keys; repeatable (the "
                                                  "searches/ folder is then not checked).")] = None,
) -> None:
    """Read every shard, search checkpoint and bias memo in full and check its sha256; set aside (shards) or remove
    (searches/) the damaged ones; remove temporary files of killed writers; exit 1 if anything was damaged."""
    from .embedding.cache import VERIFY_TMP_SECONDS
    from .runner.bias_memo import verify_searches

    cache = _open_cache(cache_dir, must_exist=True)
    keys = _split(key, "--key") or cache.keys()
    unknown = sorted(set(keys) - set(cache.keys()))
    if unknown:
        raise UserError(f"{cache.root}: no vector key {', '.join(unknown)}; see `mlir-bench cache info`")

    def say(line: str) -> None:
        out.print(line, highlight=False, markup=False, soft_wrap=True)

    bad = 0
    for k in keys:
        r = cache.verify(k)
        name = cache.describe_key(k).get("name", "?")
        status = "OK" if not r["corrupt"] else f"CORRUPT ({len(r['corrupt'])} shard(s) set aside)"
        say(f"{k} {name}: {r['shards']} shards, {r['rows']:,} vectors, {r['unique_texts']:,} texts: {status}")
        for line in r["corrupt"]:
            say(f"  {line}")
        bad += len(r["corrupt"])
    if not key:
        searches = cache.root / "searches"
        r = verify_searches(searches)
        status = "OK" if not r["damaged"] else f"DAMAGED ({len(r['damaged'])} file(s) removed; recomputed on the next run)"
        say(f"searches: {r['checkpoints']} search checkpoints, {r['memos']} bias memos: {status}")
        for line in r["damaged"]:
            say(f"  {line}")
        if r["older"]:
            say(f"  {len(r['older'])} file(s) of the older format without a checksum removed (recomputed on demand)")
        for line in r["other"]:
            say(f"  not a search checkpoint or bias memo, left alone: {line}")
        bad += len(r["damaged"])
        removed, kept = cache.remove_stale_tmp()
        minutes = f"{VERIFY_TMP_SECONDS / 60:g}"
        say(f"temporary files of killed writers: {len(removed)} removed"
            + (f", {len(kept)} younger than {minutes} minutes kept (a writer may be running)" if kept else ""))
        for p in removed:
            say(f"  removed {p}")
        for p in kept:
            say(f"  kept {p}")
    if bad:
        raise SystemExit(1)


@app.command("list-tasks")
def list_tasks(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON (one object per task) instead of a table.")] = False,
) -> None:
    """The registered tasks (full names, never truncated when the output is not a terminal)."""
    from .tasks import list_task_specs

    specs = list_task_specs()
    if json_out:
        _print_json([{"name": s.name, "family": s.family, "level": s.level, "languages": list(s.languages),
                      "main_setting": s.main_setting, "main_score": s.main_score, "license": s.license,
                      "description": s.description} for s in specs])
        return
    t = Table(title="tasks")
    for col in ("name", "family", "level", "languages", "main score", "licence"):
        t.add_column(col)
    for s in specs:
        t.add_row(s.name, s.family, s.level, " ".join(s.languages), f"{s.main_setting} {s.main_score}", s.license)
    _wide().print(t)


@app.command("list-models")
def list_models(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON (one object per model) instead of a table.")] = False,
) -> None:
    """The registered models (any sentence-transformers id or local path also works)."""
    from .encoders.registry import list_models as _list

    models = _list()
    if json_out:
        _print_json([{"name": m.name, "dim": m.dim, "similarity": m.similarity, "prompts": dict(m.prompts),
                      "max_length": m.max_length, "revision": m.revision, "source": m.source} for m in models])
        return
    t = Table(title="models")
    for col in ("name", "dim", "similarity", "prompts", "max length", "revision", "source"):
        t.add_column(col)
    for m in models:
        prompts = " / ".join(f"{k}={v!r}" for k, v in m.prompts.items()) or "—"
        t.add_row(m.name, str(m.dim or "—"), m.similarity, prompts, str(m.max_length or "—"), m.revision, m.source)
    _wide().print(t)


@app.command("import-mteb")
def import_mteb(
    files: Annotated[list[Path], typer.Argument(help="mteb TaskResult JSON files, or folders of them (mteb's "
                                                "results layout; other tasks in folders are skipped).")],
    output_dir: Annotated[Path, typer.Option(help="Where our result JSON is written.")] = Path("results"),
    model: Annotated[str | None, typer.Option(help="Model name to record (default: mteb:<mteb model name>).")] = None,
) -> None:
    """Import mteb results of tasks we share (MIRACLRetrieval per language) as our results, marked imported."""
    from .integrations.mteb_results import import_files

    written, skipped = import_files([str(f) for f in files], output_dir, model=model)
    for p in written:
        out.print(f"imported {p}")
    if skipped:
        console.print(f"[dim]skipped {len(skipped)} result file(s) of mteb tasks we do not share[/dim]")


@app.command("export-mteb")
def export_mteb(
    files: Annotated[list[Path], typer.Argument(help="Our result JSON files.")],
    output_dir: Annotated[Path, typer.Option(help="mteb results folder (<model>/<revision>/<task>.json).")]
    = Path("mteb-results"),
    setting: Annotated[str | None, typer.Option(help="Setting to export (default: multi, else the main one).")]
    = None,
) -> None:
    """Export our results as mteb TaskResult JSON (one subset per cell of the setting)."""
    from .integrations.mteb_results import export_result

    for f in files:
        out.print(f"wrote {export_result(f, output_dir, setting=setting)}")


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Result JSON files (each with its .perquery.json.gz beside "
                                                "it), or folders of them.")],
    accept_dir: Annotated[Path | None, typer.Option("--accept", help="If every file passes, copy each (and its "
                                                    "per-query file) into this results folder, marked submitted "
                                                    "(not re-run here).")] = None,
    by: Annotated[str | None, typer.Option(help="With --accept: who submitted the results (a name or handle).")]
    = None,
) -> None:
    """Check result files from elsewhere: schema, the task's data sha256s and counts, internal consistency
    (macro-averages, per-query values, bias summary) and plausibility. One line per problem; exit 1 on any."""
    from .results.validate import accept, accepted_path, expand, validate_file
    from .scoring.bias_stats import STATISTICS
    from .tasks import get_task_spec

    if accept_dir is not None and not (by or "").strip():
        raise UserError("--accept: expected --by NAME (who submitted the results), found none")
    files = expand(list(paths))
    if not files:
        raise UserError(f"{' '.join(map(str, paths))}: no result file (*.json) there")
    kinds = {key: s.summary for s in STATISTICS for key in s.keys()}
    n_bad = n_problems = 0
    for f in files:
        problems = validate_file(f, resolve_spec=get_task_spec, bias_summary=kinds)
        for p in problems:
            sys.stdout.write(_one_line(p) + "\n")
        n_bad += bool(problems)
        n_problems += len(problems)
    sys.stdout.write(f"{len(files)} file(s): {len(files) - n_bad} passed, {n_bad} with {n_problems} problem(s)\n")
    if n_bad:
        if accept_dir is not None:
            sys.stdout.write(f"nothing accepted into {accept_dir}: fix the problems above first\n")
        raise SystemExit(1)
    if accept_dir is not None:
        taken = [t for f in files for t in (accepted_path(f, accept_dir),) if t.exists()]
        if taken:  # all or nothing: check every destination before writing any
            raise UserError(f"{taken[0]}: a result with this identity is already there; nothing accepted "
                            "(remove it first to replace it with the submitted one)")
        for f in files:
            sys.stdout.write(f"accepted {accept(f, accept_dir, by=str(by))} (submitted by {str(by).strip()})\n")



@app.command()
def experiment(
    recipe: Annotated[str, typer.Option(help="Recipe name or .toml path.")] = "cpu-small",
    method: Annotated[list[str] | None, typer.Option("--method", help="Methods; repeat or comma-separate (default: "
                                                     "kd-only, mimo, x-x, x-x-mono, x-y, hybrid).")] = None,
    seed: Annotated[list[str] | None, typer.Option("--seed", help="Seeds; repeat or comma-separate.")] = None,
    task: Annotated[list[str] | None, typer.Option("--task", "-t", help="Tasks to evaluate on (default: xquad-r, "
                                                   "mlqa-r).")] = None,
    dtype: Annotated[str, typer.Option(help="Evaluation dtype of every model.")] = "bfloat16",
    models_dir: Annotated[Path, typer.Option(help="Root of the students: <dir>/<recipe>/seed-<n>/<method>.")
                          ] = Path("models"),
    results_dir: Annotated[Path, typer.Option(help="Results, and the report experiments/<recipe>.md/.json.")
                           ] = Path("results"),
    data_dir: Annotated[Path | None, typer.Option(help="Data root (else $MLIR_BENCH_DATA).")] = None,
    permutations: Annotated[int, typer.Option(min=100, help="Sign flips of the claims' tests.")] = 10_000,
    reference: Annotated[list[str] | None, typer.Option(
        "--reference", help="Training-free transforms of the base to evaluate and test MIMO against; repeat or "
        "comma-separate; 'none' for no reference (default: center:ntrex, shift:ntrex).")] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Embedding cache folder (default: the mlir-bench cache).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the embedding cache.")] = False,
) -> None:
    """Train every method and seed of a recipe, evaluate each (and the untrained base), test the papers' claims
    with grouped paired tests on seed-averaged values, and write the report; every finished step is reused."""
    from .dtypes import canonical_dtype
    from .experiment import Plan, markdown, run_experiment

    methods = _split(method, "--method") if method else ["kd-only", "mimo", "x-x", "x-x-mono", "x-y", "hybrid"]
    seeds_raw = _split(seed, "--seed") if seed else ["0", "1", "2"]
    try:
        seeds = [int(x) for x in seeds_raw]
    except ValueError:
        raise UserError(f"--seed {','.join(seeds_raw)!r}: expected integers") from None
    tasks = _split(task, "--task") if task else ["xquad-r", "mlqa-r"]
    refs = _split(reference, "--reference") if reference else ["center:ntrex", "shift:ntrex"]
    refs = [] if refs == ["none"] else refs
    for ref in refs:
        from .transforms.spec import parse_transform

        parse_transform(ref)  # a malformed transform is one error line before any training
    plan = Plan(recipe=recipe, methods=methods, seeds=seeds, tasks=tasks, dtype=canonical_dtype(dtype),
                models_root=models_dir, results_dir=results_dir, data_dir=data_dir, permutations=permutations,
                references=refs, cache=None if no_cache else _open_cache(cache_dir))
    report = run_experiment(plan, log=lambda msg: console.print(msg, highlight=False, markup=False))
    sys.stdout.write(markdown(report))

def _one_line(text: object) -> str:
    """A message squeezed onto one line (the CLI contract: one line per error)."""
    return " ".join(str(text).split())


def _usage_message(exc: Exception) -> str:
    """One line for a command-line usage error (typer's vendored click exceptions): what and where."""
    msg = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    cause = exc.__cause__
    errors = getattr(cause, "errors", None)
    if callable(errors):  # typer validates option values with pydantic: name the rejected value too
        try:
            found = errors()[0].get("input")
        except Exception:  # noqa: BLE001 - best effort only
            found = None
        if found is not None:
            msg += f" (got {found!r})"
    return _one_line(msg)


def _error(message: str) -> None:
    from rich.markup import escape

    console.print(f"[red]error:[/red] {escape(_one_line(message))}", highlight=False, soft_wrap=True)


#: OSErrors of the machine, not of the program: a full or read-only disk, a folder without permission.
_WRITE_ERRORS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
}


def _os_error_message(exc: OSError) -> str:
    """One line for a full / read-only / forbidden disk: the file, what happened, what to do."""
    where = exc.filename if exc.filename is not None else exc.filename2
    what = _WRITE_ERRORS[exc.errno]
    return (f"{where if where is not None else '(file not known)'}: {what} ({errno.errorcode[exc.errno]}); "
            f"no partial file was kept (writes are atomic); free space or fix the permissions, or choose another "
            f"--output-dir / --runs-dir / --cache-dir, and rerun")


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """mlir-bench's own warnings (a corrupt cache file set aside, ...) as one line; others as Python shows them."""
    if category.__module__.startswith("mlir_bench"):
        console.print(f"warning: {_one_line(message)}", highlight=False, markup=False, soft_wrap=True)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


_python_showwarning = warnings.showwarning


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback.

    A full disk (ENOSPC, EDQUOT), a read-only file system (EROFS) or a denied write (EACCES) is one line naming
    the file, exit code 1. Ctrl-C (SIGINT) prints one line and exits with 130; finished work is kept (atomic
    writes, cache).
    """
    warnings.showwarning = _show_warning
    try:
        rv = app(standalone_mode=False)
    except UserError as exc:
        _error(str(exc))
        raise SystemExit(exc.exit_code) from None
    except OSError as exc:
        if exc.errno not in _WRITE_ERRORS:
            raise
        _error(_os_error_message(exc))
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        rv = 130
    except typer.Abort:
        rv = 130
    except Exception as exc:
        if isinstance(exc, typer.TyperException) or hasattr(exc, "format_message"):  # click usage errors
            if type(exc).__name__ != "NoArgsIsHelpError":  # bare `mlir-bench`: the help is already shown
                _error(_usage_message(exc))
            raise SystemExit(2) from None
        raise
    if rv == 130:  # typer turns KeyboardInterrupt into exit code 130 when not standalone
        console.print("interrupted: partial work is kept in the cache; rerun the same command to resume",
                      highlight=False, soft_wrap=True)
        raise SystemExit(130)
    if isinstance(rv, int) and rv:
        raise SystemExit(rv)
