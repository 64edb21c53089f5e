"""Copy-paste commands per result (Pyserini 2CR style): the ``mlir-bench run`` that reproduces it, and the check.

A result's manifest records the command that produced it, often for several models and tasks at once and with
machine-specific paths (``--output-dir /tmp/h4_results``). :func:`run_command` narrows it to this result's model
and task, drops scratch and absolute paths (the data comes from ``$MLIR_BENCH_DATA``; the output goes to
``results/``, the folder the page was built from), keeps every option that changes a number (``--dtype``,
``--languages``, ``--text-mode``, ``--k``, ``--metric``...) and adds ``--overwrite``, so that in a clone with the
committed results the command recomputes the file instead of reusing it.
"""

from __future__ import annotations

import re
import shlex
from pathlib import PurePosixPath

from ..results.expected import Condition
from ..results.schema import Result

#: Options of ``mlir-bench run`` that take a value (long and short names).
_VALUED = {"-m", "--model", "-t", "--task", "--data-dir", "--output-dir", "--text-mode", "--batch-size", "--k",
           "--metric", "--languages", "--runs-dir", "--runs", "--save-embeddings", "--threads", "--dtype",
           "--cache-dir", "--cache-chunk", "--backend", "--ray-address", "--ray-actors", "--ray-gpus",
           "--shard-size", "--shards-dir", "--ann", "--transform"}
#: Path options: kept only when relative (and not a scratch folder); absolute ones are machine-specific.
_PATHS = {"--data-dir", "--output-dir", "--runs-dir", "--save-embeddings", "--cache-dir", "--shards-dir"}
#: Options that only change how a run looks or where it runs, not its numbers.
_DROP = {"--no-progress", "--progress", "--overwrite", "--backend", "--ray-address", "--ray-actors", "--ray-gpus",
         "--threads", "--batch-size", "--cache-chunk", "--no-cache"}
_OUTPUT_DEFAULT = "results"


def _is_portable(path: str) -> bool:
    p = PurePosixPath(path)
    return not p.is_absolute() and not path.startswith("~") and ".." not in p.parts and "tmp" not in p.parts[:1]


def _model_matches(value: str, model: str) -> bool:
    return value in (model, model.removeprefix("st:")) or f"st:{value}" == model


def _task_matches(value: str, task: str) -> bool:
    return value == task or PurePosixPath(value).stem == task


def run_command(result: Result, output_dir: str = _OUTPUT_DEFAULT) -> str:
    """The ``mlir-bench run`` command that reproduces ``result`` into ``output_dir`` (see the module docstring)."""
    model, task = result.model.name, result.task.name
    try:
        tokens = shlex.split(result.manifest.command or "")
    except ValueError:
        tokens = []
    if tokens[:2] != ["mlir-bench", "run"]:
        tokens = ["mlir-bench", "run"]
    opts: list[tuple[str, str | None]] = []
    i = 2
    while i < len(tokens):
        tok = tokens[i]
        name, eq, inline = tok.partition("=")
        if name in _VALUED:
            value = inline if eq else (tokens[i + 1] if i + 1 < len(tokens) else "")
            i += 1 if eq else 2
            opts.append((name, value))
        else:
            opts.append((tok, None))
            i += 1
    models = [v for n, v in opts if n in ("-m", "--model") and v for v in v.split(",")]
    model_arg = next((v.strip() for v in models if _model_matches(v.strip(), model)), None)
    if model_arg is None:  # the command named the model otherwise (a hub id, an absolute folder): use the result's
        model_arg = model
    if model_arg.startswith("/"):
        model_arg = model
    out = ["mlir-bench", "run", "-m", model_arg, "-t", task]
    seen_output = False
    for name, value in opts:
        if name in ("-m", "--model", "-t", "--task") or name in _DROP:
            continue
        if value is None:
            if name.startswith("-"):
                out.append(name)
            continue
        if name in _PATHS:
            if name == "--output-dir":
                seen_output = True
                value = value if _is_portable(value) else output_dir
                if value.rstrip("/") == _OUTPUT_DEFAULT:
                    continue
            elif not _is_portable(value):
                continue
        out += [name, value]
    if not seen_output and output_dir != _OUTPUT_DEFAULT:
        out += ["--output-dir", output_dir]
    ident = result.identity
    flat = " ".join(out)
    if ident.languages and "--languages" not in flat:
        out += ["--languages", ",".join(ident.languages)]
    if ident.model.dtype != "float32" and "--dtype" not in flat:
        out += ["--dtype", ident.model.dtype]
    out.append("--overwrite")
    return shlex.join(out)


def check_command(condition: Condition) -> str:
    """The ``mlir-bench check`` line that reruns ``condition`` (with the other conditions of its model and task)."""
    return shlex.join(["mlir-bench", "check", "-m", condition.model, "-t", condition.task])


_ABS_PATH = re.compile(r"(?<![\w.~:])(/(?:[\w.@+-]+/)*[\w.@+-]+/?)")
_ANCHORS = ("models/", "results/", "leaderboard/", "runs/")


def portable_text(text: str) -> str:
    """``text`` with absolute paths made machine-independent: from a known repository folder on (``models/...``),
    else ``…/<last folder>``. No reader needs, or should see, the machine's layout."""

    def repl(m: re.Match[str]) -> str:
        path = m.group(1)
        for anchor in _ANCHORS:
            k = path.find("/" + anchor)
            if k >= 0:
                return path[k + 1:]
        name = PurePosixPath(path).name
        return f"…/{name}" if name else "…"

    return _ABS_PATH.sub(repl, text)
