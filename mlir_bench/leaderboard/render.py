"""Render the static leaderboard page: one self-contained HTML file (CSS, JS and SVG inlined, no network), and
beside it the same numbers as ``results.csv`` and ``summary.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..io import atomic_open
from .cards import Card, model_card
from .export import write_downloads
from .glossary import glossary
from .load import SELECTION_FAMILIES, group_conditions, load_results
from .meta import manifests, model_rows, provenance, reproduction_rows
from .overview import build_overview
from .significance import TESTS
from .views import Context, Options, build_condition

TEMPLATES = Path(__file__).with_name("templates")
FAMILY_ORDER = {"lareqa": 0, "mmlir": 1, "miracl": 2}  # sentence-level LAReQA first, then passage level
TEST_NAMES = {"fisher": "paired randomization (Fisher) test", "student": "paired Student t-test"}


def _env() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["sortkey"] = sort_key
    env.filters["breakable"] = breakable
    return env


def breakable(name: str) -> Any:
    """A model name, escaped, with line-break opportunities after "/", "+" and ":" (narrow screens)."""
    import re

    from markupsafe import Markup, escape

    return Markup(re.sub(r"([/+:])", r"\1<wbr>", str(escape(name))))


def sort_key(v: Any) -> str:
    """A cell's ``data-sort``: numbers to 8 significant digits (what sorting and the CSV need), None empty."""
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.8g}"
    return str(v)


def _version() -> str:
    from .. import __version__

    return str(__version__)


def page_context(results_dir: Path, out: Path, opts: Options, expected: Path | None = None) -> dict[str, Any]:
    """Everything the template needs, computed from the result files in ``results_dir``."""
    from ..results.expected import load_expected

    entries = [e for e in load_results(results_dir) if e.result.task.family not in SELECTION_FAMILIES]
    if not entries:
        raise UserError(f"{results_dir}: no result JSON files to put on a leaderboard")
    cards: dict[str, Card] = {}
    for e in entries:
        if e.model not in cards:
            cards[e.model] = model_card(e.result, results_dir)
    ctx = Context(cards=cards)
    conditions = [build_condition(k, v, opts, ctx) for k, v in group_conditions(entries).items()]
    # XQuAD-derived tasks before MLQA-derived ones in a family, as LAReQA and MIMO list them
    conditions.sort(key=lambda c: (FAMILY_ORDER.get(c["task"].get("family"), len(FAMILY_ORDER)),
                                   not c["label"].startswith("xquad"), c["label"]))
    # the task with the most models leads the overview (ties: the first in page order)
    top = max(conditions, key=lambda c: len(c["models"]))
    results_name = results_dir.name or str(results_dir)
    repro = reproduction_rows(load_expected(expected), entries, results_name) \
        if expected and expected.exists() else []
    models = model_rows(entries, cards)
    metric_keys = list(dict.fromkeys(m for e in entries for m in e.result.metrics))
    bias_keys = list(dict.fromkeys(k for e in entries if e.result.bias for k in e.result.bias.summary))
    prov = provenance(entries)
    footer = {"version": _version(), **prov,
              "significance": {"test": opts.test, "n_permutations": opts.n_permutations, "seed": opts.seed, "unit": opts.unit,
                               "alpha": opts.alpha}}
    languages = sorted({lang for c in conditions for lang in c["languages"]})
    rows = [r for c in conditions for v in c["views"] for r in v["rows"]]
    return {
        "any_transformed": any(r["transformed"] for r in rows),
        "any_transductive": any(r["transductive"] for r in rows),
        "any_seed_runs": any(r.get("seed") is not None for r in rows),
        "conditions": conditions,
        "overview": build_overview(conditions, top["id"]),
        "default_view": "overview",
        "models": models,
        "manifests_json": json.dumps({m["id"]: m for m in manifests(entries, out.parent, cards, results_name)},
                                     ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c"),
        "reproduction": repro,
        "expected_file": expected.name if expected else None,
        "glossary": glossary(metric_keys, bias_keys),
        "opts": opts,
        "test_name": TEST_NAMES[opts.test],
        "n_results": len(entries),
        "n_languages": len(languages),
        "results_dir": results_name,
        "footer": footer,
        "css": (TEMPLATES / "leaderboard.css").read_text(encoding="utf-8"),
        "js": (TEMPLATES / "leaderboard.js").read_text(encoding="utf-8"),
    }


def build_leaderboard(results_dir: str | Path = "results", out: str | Path = "leaderboard/index.html", *,
                      test: str = "fisher", n_permutations: int = 10_000, seed: int = 42, alpha: float = 0.05,
                      expected: str | Path | None = None, downloads: bool = True, unit: str = "auto") -> Path:
    """Write the leaderboard for ``results_dir`` to ``out`` and return its path; with ``downloads`` also
    ``results.csv`` and ``summary.json`` beside it (linked from the page).

    ``expected`` defaults to ``results_dir/expected.toml`` if that exists, else the expected scores shipped with
    the package (``tasks/expected.toml``); it is shown as the reproduction table when it exists.
    The output is deterministic for the same results and options (fixed permutation seed; the only dates are the
    newest result's, in the footer).
    """
    if test not in TESTS:
        raise UserError(f"--test {test!r}: expected one of {', '.join(TESTS)}")
    if not 0 < alpha < 1:
        raise UserError(f"--alpha {alpha}: expected a level between 0 and 1")
    rdir, out_path = Path(results_dir), Path(out)
    exp = Path(expected) if expected else _default_expected(rdir)
    if unit not in ("auto", "query"):
        raise UserError(f"--unit {unit!r}: expected auto (grouped where queries have groups) or query")
    ctx = page_context(rdir, out_path, Options(test, n_permutations, seed, alpha, unit), exp)
    ctx["downloads"] = downloads
    html = _env().get_template("index.html.j2").render(**ctx)
    with atomic_open(out_path, "w", encoding="utf-8") as fh:
        fh.write(html)
    if downloads:
        write_downloads(ctx["conditions"], ctx["models"], ctx["footer"], out_path.parent)
    return out_path


def _default_expected(results_dir: Path) -> Path:
    """``results_dir/expected.toml`` if present, else the packaged expected scores (what ``mlir-bench check`` reruns)."""
    local = results_dir / "expected.toml"
    if local.is_file():
        return local
    from ..results.expected import packaged_expected_scores

    return packaged_expected_scores()
