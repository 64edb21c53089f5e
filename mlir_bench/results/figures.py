"""Figures for result pages: annotated heatmaps (language × language matrices) and the alignment–uniformity plot.

Rendering uses matplotlib's object API on an Agg canvas — no pyplot, no global backend switch, safe in
threads and headless runs. Every PNG is written atomically (:func:`mlir_bench.io.atomic_open`: a temporary file in
the same folder, then ``os.replace``), so a crash never leaves a half-written figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..io import atomic_open

DPI = 120


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    FigureCanvasAgg(fig)
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=DPI)
    return path


def heatmap(
    matrix: np.ndarray,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    title: str,
    path: str | Path,
    fmt: str = "{:.2f}",
    cmap: str = "viridis",
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> Path:
    """Write ``matrix`` as a PNG heatmap at ``path``, every cell annotated with ``fmt`` (``nan`` cells left blank
    and grey). Rows are ``row_labels`` (y axis), columns ``col_labels`` (x axis). Returns the path."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape != (len(row_labels), len(col_labels)):
        raise ValueError(
            f"matrix shape {m.shape} does not match {len(row_labels)} row and {len(col_labels)} column labels"
        )
    n_rows, n_cols = m.shape
    if not m.size:
        raise ValueError(f"an empty {n_rows}x{n_cols} matrix has nothing to draw")
    fig = Figure(figsize=(max(4.0, 0.6 * n_cols + 2.0), max(3.0, 0.5 * n_rows + 1.5)))
    ax = fig.add_subplot()
    masked = np.ma.masked_invalid(m)
    colours = matplotlib.colormaps[cmap].with_extremes(bad="lightgrey")
    finite = m[np.isfinite(m)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    # one value (a single cell, or all equal) would give the colour bar an empty range: widen it around the value
    pad = 0.0 if hi > lo else max(abs(lo), 1.0) * 0.05
    vmin, vmax = lo - pad, hi + pad
    image = ax.imshow(masked, cmap=colours, aspect="auto", vmin=vmin, vmax=vmax)
    fig.colorbar(image, ax=ax)
    ax.set_xticks(range(n_cols), labels=[str(c) for c in col_labels])
    ax.set_yticks(range(n_rows), labels=[str(r) for r in row_labels])
    ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    font = 8 if max(n_rows, n_cols) <= 12 else 6
    for i in range(n_rows):
        for j in range(n_cols):
            value = m[i, j]
            if not math.isfinite(value):
                continue
            colour = "black" if (value - vmin) / (vmax - vmin) > 0.5 else "white"
            ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=font, color=colour)
    fig.tight_layout()
    return _save(fig, path)


def scatter_align_uniform(
    points: Sequence[tuple[str, float, float]],
    path: str | Path,
    title: str = "Alignment vs uniformity (lower-left is better)",
) -> Path:
    """Write the Wang & Isola alignment–uniformity plot: one labelled point (align on x, uniform on y) per
    ``(label, align, uniform)``; points with a non-finite coordinate are skipped. Returns the path."""
    fig = Figure(figsize=(6.0, 4.5))
    ax = fig.add_subplot()
    for label, align, uniform in points:
        if not (math.isfinite(align) and math.isfinite(uniform)):
            continue
        ax.scatter([align], [uniform], s=30)
        ax.annotate(str(label), (align, uniform), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("alignment  E‖f(x) − f(y)‖²  (lower is better)")
    ax.set_ylabel("uniformity  log E exp(−2‖f(x) − f(y)‖²)  (lower is better)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)
