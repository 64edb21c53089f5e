"""The real data root, one definition for every test: ``$MLIR_BENCH_DATA``, else ``../shared/data`` beside the repo.

Import it as ``from _data import DATA, needs_data`` (pytest puts ``tests/`` on ``sys.path``); ``conftest.py``
also exports it to ``$MLIR_BENCH_DATA`` for subprocesses and has the ``data_dir`` fixture.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MLIR_BENCH_DATA") or REPO.parent / "shared" / "data")


def has_data(*paths: str) -> bool:
    """Whether every ``DATA/<path>`` (a folder or a file, e.g. ``"xquad-r/en.json"``) exists."""
    return all((DATA / p).exists() for p in paths)


def needs_data(*paths: str) -> pytest.MarkDecorator:
    """A skip marker for tests that read ``DATA/<path>`` for each of ``paths`` (default: XQuAD-R)."""
    paths = paths or ("xquad-r/en.json",)
    return pytest.mark.skipif(not has_data(*paths),
                              reason=f"real data ({', '.join(paths)}) not found at {DATA}; set MLIR_BENCH_DATA")
