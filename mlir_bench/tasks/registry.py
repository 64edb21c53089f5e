"""The task registry: every task spec, loaded once; duplicate names are an error.

Specs are read from the folders in ``$MLIR_BENCH_TASKS`` (colon-separated), then from the specs shipped with the
package: the repository's top-level ``tasks/`` folder, installed as the package ``mlir_bench.task_specs`` (read
with :mod:`importlib.resources`, so an installed wheel has them too). ``expected.toml`` in that folder is the
expected-scores file (:func:`mlir_bench.results.expected.packaged_expected_scores`), not a task.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path

from ..errors import DataError, UserError
from . import lareqa, miracl, mmlir, ntrex
from .base import TaskData, check_task_data
from .spec import TaskSpec

ENV_TASKS = "MLIR_BENCH_TASKS"
SPECS_PACKAGE = "mlir_bench.task_specs"
EXPECTED_SCORES = "expected.toml"  # in the packaged specs folder; never read as a task spec


def packaged_task_dir() -> Path:
    """The folder of the task specs shipped with the package (``tasks/`` in the repository)."""
    root = resources.files(SPECS_PACKAGE)
    if not isinstance(root, Path):  # e.g. a zip import: TaskSpec.from_file needs a file on disk
        raise DataError(str(root), f"the packaged task specs ({SPECS_PACKAGE}) are not a folder on disk")
    return root


def task_dirs() -> list[Path]:
    """Folders searched for task specs: $MLIR_BENCH_TASKS (colon-separated), then the packaged specs."""
    dirs = [Path(p) for p in os.environ.get(ENV_TASKS, "").split(os.pathsep) if p]
    dirs.append(packaged_task_dir())
    return dirs


@cache
def _specs(dirs: tuple[Path, ...]) -> dict[str, tuple[TaskSpec, Path]]:
    specs: dict[str, tuple[TaskSpec, Path]] = {}
    for d in dirs:
        for path in sorted(d.glob("*.toml")):
            if path.name == EXPECTED_SCORES:
                continue
            spec = TaskSpec.from_file(path)
            if spec.name in specs:
                raise DataError(path, f"task name {spec.name!r} is already defined by {specs[spec.name][1]}")
            specs[spec.name] = (spec, path)
    return specs


def list_task_specs() -> list[TaskSpec]:
    return [s for s, _ in _specs(tuple(task_dirs())).values()]


def get_task_spec(name_or_path: str) -> TaskSpec:
    """A registered task by name, or a spec file given by path."""
    if name_or_path.endswith(".toml"):
        return TaskSpec.from_file(name_or_path)
    specs = _specs(tuple(task_dirs()))
    if name_or_path not in specs:
        known = ", ".join(sorted(specs)) or "none"
        raise UserError(f"unknown task {name_or_path!r}; known tasks: {known} (or pass a path to a .toml spec)")
    return specs[name_or_path][0]


Builder = Callable[..., TaskData]


def _builders() -> dict[str, Builder]:
    return {"lareqa": lareqa.build, "miracl": miracl.build, "mmlir": mmlir.build, "ntrex": ntrex.build}


def load_task(name_or_path: str | TaskSpec, *, data_dir: str | Path | None = None, **options: object) -> TaskData:
    """Build a task's queries, pool, qrels and cells from its published files (a name, a spec path or a spec)."""
    spec = name_or_path if isinstance(name_or_path, TaskSpec) else get_task_spec(name_or_path)
    builders = _builders()
    if spec.family not in builders:
        raise UserError(f"task {spec.name!r} has family {spec.family!r}, which this version cannot build")
    task = builders[spec.family](spec, data_dir=data_dir, **options)
    check_task_data(task)
    return task
