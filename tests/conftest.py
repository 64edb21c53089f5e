"""Shared fixtures: the real data root (``_data.DATA``: ../shared/data unless MLIR_BENCH_DATA says otherwise)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _data import DATA, has_data

os.environ.setdefault("MLIR_BENCH_DATA", str(DATA))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not has_data("xquad-r/en.json"):
        pytest.skip(f"real data not found at {DATA}; set MLIR_BENCH_DATA")
    return DATA
