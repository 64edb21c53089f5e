"""Figure writer: PNGs appear whole (atomic write) and reject malformed input (mlir_bench.results.figures)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from mlir_bench.results import figures

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_heatmap_writes_png(tmp_path: Path) -> None:
    m = np.array([[0.5, 0.25, np.nan], [1.0, 0.0, 0.75]])
    out = figures.heatmap(m, ["ar", "de"], ["ar", "de", "en"], "share of top 10", tmp_path / "sub" / "h.png")
    assert out == tmp_path / "sub" / "h.png"
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert imread(out).ndim == 3
    assert [p.name for p in out.parent.iterdir()] == ["h.png"]  # no temporary file left behind


def test_heatmap_all_nan_and_constant(tmp_path: Path) -> None:
    """All-NaN, a single cell or all-equal values draw without matplotlib's empty-range warning; empty is refused."""
    import warnings

    warnings.simplefilter("error", UserWarning)
    figures.heatmap(np.full((2, 2), np.nan), ["a", "b"], ["a", "b"], "empty", tmp_path / "nan.png")
    figures.heatmap(np.ones((1, 1)), ["a"], ["a"], "one", tmp_path / "one.png", fmt="{:.0f}")
    assert (tmp_path / "nan.png").exists() and (tmp_path / "one.png").exists()
    with pytest.raises(ValueError, match="nothing to draw"):  # e.g. XL-align of a one-language run
        figures.heatmap(np.zeros((1, 0)), ["a"], [], "none", tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()


def test_heatmap_rejects_label_mismatch(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="labels"):
        figures.heatmap(np.zeros((2, 3)), ["a", "b"], ["a", "b"], "bad", tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


def test_failed_write_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "h.png"
    path.write_bytes(b"old")

    def broken(self: Figure, *args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError):
        figures.heatmap(np.eye(2), ["a", "b"], ["a", "b"], "t", path)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["h.png"]


def test_scatter_align_uniform(tmp_path: Path) -> None:
    points = [("bm25", 1.2, -1.5), ("e5", 0.6, -3.1), ("broken", float("nan"), -2.0)]
    out = figures.scatter_align_uniform(points, tmp_path / "s.png")
    assert out.read_bytes()[:8] == PNG_MAGIC
