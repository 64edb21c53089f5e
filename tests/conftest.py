"""Shared fixtures: the real data root (../shared/data unless MLIR_BENCH_DATA says otherwise)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MLIR_BENCH_DATA", REPO.parent / "shared" / "data"))
os.environ.setdefault("MLIR_BENCH_DATA", str(DATA))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA / "xquad-r" / "en.json").exists():
        pytest.skip(f"real data not found at {DATA}; set MLIR_BENCH_DATA")
    return DATA
