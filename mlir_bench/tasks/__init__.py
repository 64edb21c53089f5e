"""Tasks: declarative specs (``tasks/*.toml``) -> queries, pool and qrels per setting."""

from __future__ import annotations

from .base import Cell, Corpus, TaskData
from .registry import get_task_spec, list_task_specs, load_task
from .spec import TaskSpec

__all__ = ["Cell", "Corpus", "TaskData", "TaskSpec", "get_task_spec", "list_task_specs", "load_task"]
