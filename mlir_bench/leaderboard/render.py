"""Render the static leaderboard page: one self-contained HTML file (CSS, JS and SVG inlined, no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UserError
from ..io import atomic_open
from .load import group_conditions, load_results
from .meta import manifests, model_rows, reproduction_rows
from .significance import TESTS
from .views import Options, build_condition

TEMPLATES = Path(__file__).with_name("templates")
FAMILY_ORDER = {"lareqa": 0, "mmlir": 1, "miracl": 2}  # sentence-level LAReQA first, then passage level


def _env() -> Any:
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def page_context(results_dir: Path, out: Path, opts: Options, expected: Path | None = None) -> dict[str, Any]:
    """Everything the template needs, computed from the result files in ``results_dir``."""
    from ..results.expected import load_expected

    entries = load_results(results_dir)
    if not entries:
        raise UserError(f"{results_dir}: no result JSON files to put on a leaderboard")
    conditions = [build_condition(k, v, opts) for k, v in group_conditions(entries).items()]
    conditions.sort(key=lambda c: (FAMILY_ORDER.get(c["task"].get("family"), len(FAMILY_ORDER)), c["label"]))
    # the page opens on the headline view of the task with the most models (ties: the first in page order)
    top = max(conditions, key=lambda c: len(c["models"]))
    default_view = next((v["id"] for v in top["views"] if v["is_main"]), top["views"][0]["id"])
    repro = reproduction_rows(load_expected(expected), entries) if expected and expected.exists() else []
    return {
        "conditions": conditions,
        "default_view": default_view,
        "models": model_rows(entries),
        "manifests": manifests(entries, out.parent),
        "reproduction": repro,
        "expected_file": expected.name if expected else None,
        "opts": opts,
        "test_name": {"fisher": "paired randomization (Fisher) test", "student": "paired Student t-test"}[opts.test],
        "n_results": len(entries),
        "results_dir": results_dir.name or str(results_dir),
        "css": (TEMPLATES / "leaderboard.css").read_text(encoding="utf-8"),
        "js": (TEMPLATES / "leaderboard.js").read_text(encoding="utf-8"),
    }


def build_leaderboard(results_dir: str | Path = "results", out: str | Path = "leaderboard/index.html", *,
                      test: str = "fisher", n_permutations: int = 10_000, seed: int = 42, alpha: float = 0.05,
                      expected: str | Path | None = None) -> Path:
    """Write the leaderboard for ``results_dir`` to ``out`` and return its path.

    ``expected`` defaults to ``results_dir/expected.toml`` if that exists, else the expected scores shipped with
    the package (``tasks/expected.toml``); it is shown as the reproduction table when it exists.
    The output is deterministic for the same results and options (fixed permutation seed, no timestamps).
    """
    if test not in TESTS:
        raise UserError(f"--test {test!r}: expected one of {', '.join(TESTS)}")
    if not 0 < alpha < 1:
        raise UserError(f"--alpha {alpha}: expected a level between 0 and 1")
    rdir, out_path = Path(results_dir), Path(out)
    exp = Path(expected) if expected else _default_expected(rdir)
    ctx = page_context(rdir, out_path, Options(test, n_permutations, seed, alpha), exp)
    html = _env().get_template("index.html.j2").render(**ctx)
    with atomic_open(out_path, "w", encoding="utf-8") as fh:
        fh.write(html)
    return out_path


def _default_expected(results_dir: Path) -> Path:
    """``results_dir/expected.toml`` if present, else the packaged expected scores (what ``mlir-bench check`` reruns)."""
    local = results_dir / "expected.toml"
    if local.is_file():
        return local
    from ..results.expected import packaged_expected_scores

    return packaged_expected_scores()
