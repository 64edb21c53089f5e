"""The task registry: every ``tasks/*.toml`` spec, loaded once; duplicate names are an error."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from pathlib import Path

from ..errors import DataError, UserError
from .base import TaskData, check_task_data
from .spec import TaskSpec

ENV_TASKS = "MLIR_BENCH_TASKS"


def task_dirs() -> list[Path]:
    """Folders searched for task specs: $MLIR_BENCH_TASKS (colon-separated), then the repository's tasks/."""
    dirs = [Path(p) for p in os.environ.get(ENV_TASKS, "").split(os.pathsep) if p]
    dirs.append(Path(__file__).resolve().parents[2] / "tasks")
    return dirs


@cache
def _specs(dirs: tuple[Path, ...]) -> dict[str, tuple[TaskSpec, Path]]:
    specs: dict[str, tuple[TaskSpec, Path]] = {}
    for d in dirs:
        for path in sorted(d.glob("*.toml")):
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
    from . import lareqa

    builders: dict[str, Builder] = {"lareqa": lareqa.build}
    try:  # families added by later stages register here
        from . import miracl  # type: ignore[attr-defined]

        builders["miracl"] = miracl.build
    except ImportError:
        pass
    try:
        from . import mmlir  # type: ignore[attr-defined]

        builders["mmlir"] = mmlir.build
    except ImportError:
        pass
    return builders


def load_task(name_or_path: str, *, data_dir: str | Path | None = None, **options: object) -> TaskData:
    """Build a task's queries, pool, qrels and cells from its published files."""
    spec = get_task_spec(name_or_path)
    builders = _builders()
    if spec.family not in builders:
        raise UserError(f"task {spec.name!r} has family {spec.family!r}, which this version cannot build")
    task = builders[spec.family](spec, data_dir=data_dir, **options)
    check_task_data(task)
    return task
