"""From result files to the page's view models: one view per (task condition, setting), plain dicts for jinja.

Each view holds the table (headline metric with significance markers, the other metrics, bias and geometry
columns, rank intervals), its heatmaps and, for the setting the bias section describes, the alignment–uniformity
scatter. Nothing here renders HTML except the inline SVG figures from :mod:`.svg`.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any

from ..results.schema import CellScores
from ..scoring.bias_stats import definitions as bias_definitions
from . import svg
from .load import SETTING_LABELS, SETTING_ORDER, ResultEntry, geometry_value, number
from .significance import Comparison, align_per_query, compare, macro_weights
from .zero_shot import overlap

GEOMETRY_KEYS = (("xl_align", "XL-align"), ("uniformity", "uniformity"))


@dataclass(frozen=True)
class Options:
    """Significance settings: ``test`` is "fisher" (randomization) or "student"; Holm's correction at alpha."""

    test: str = "fisher"
    n_permutations: int = 10_000
    seed: int = 42
    alpha: float = 0.05


def slug(*parts: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")


def fmt(v: float | None) -> str:
    """Display a number: 4 decimals below 10, fewer for large values (rank distances)."""
    if v is None:
        return "—"
    if abs(v) >= 1000:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.4f}"


def hint(key: str, definitions: dict[str, str] | None = None) -> str:
    """A column tooltip: the definition the results recorded for ``key`` ("mrc@10" also matches "mrc@k"), else the
    registry's (:mod:`mlir_bench.scoring.bias_stats`), else the key itself."""
    generic = re.sub(r"@\d+$", "@k", key)
    for defs in (definitions or {}, bias_definitions()):
        if isinstance(defs.get(key), str) or isinstance(defs.get(generic), str):
            return str(defs.get(key) or defs.get(generic))
    return key


def condition_label(task: str, text_mode: str, entries: list[ResultEntry]) -> str:
    label = task + ("" if text_mode == "sentence" else f" · {text_mode}")
    if any(e.is_subset for e in entries):
        label += " · " + ",".join(entries[0].languages)
    return label


def _cells(entry: ResultEntry, setting: str) -> list[CellScores]:
    return entry.result.cells_of(setting)


def _bias_setting(entries: list[ResultEntry], settings: list[str], main: str) -> str:
    for e in entries:
        b = e.result.bias
        if b is not None:
            return b.setting if b.setting in settings else main
    return "multi" if "multi" in settings else main


def significance(entries: list[ResultEntry], setting: str, metric: str, opts: Options) -> Comparison | str:
    """Pairwise tests on the setting's per-query cells, or the reason why there are none."""
    cell_keys = [f"{setting}/{c.name}" for c in _cells(entries[0], setting)]
    have = {e.model: e.per_query() for e in entries}
    have = {m: pq for m, pq in have.items() if all(k in pq and metric in pq[k] for k in cell_keys)}
    if not cell_keys:
        return "no cells"
    if len(have) < 2:
        if not have and len(entries) > 1:
            label = SETTING_LABELS.get(setting, setting)
            return f"{label} cells have no per-query values (only Mono, Multi and per-language cells are stored)."
        return "Fewer than two models have per-query values for these cells."
    scores, sizes = align_per_query(have, metric, cell_keys)
    return compare(scores, macro_weights(sizes), test=opts.test, n_permutations=opts.n_permutations,
                   seed=opts.seed, alpha=opts.alpha, n_cells=sum(1 for n in sizes if n))


def _cell_heatmap(entries: list[ResultEntry], order: list[str], setting: str, metric: str,
                  vid: str) -> dict[str, Any] | None:
    names = list(dict.fromkeys(c.name for e in entries for c in _cells(e, setting)))
    if not names:
        return None
    by_model = {e.model: {c.name: number(c.scores.get(metric)) for c in _cells(e, setting)} for e in entries}
    matrix = [[by_model[m].get(n) for n in names] for m in order]
    vals = [v for row in matrix for v in row if v is not None]
    if not vals:
        return None
    lo, hi = min(vals), max(vals)
    col_title = "query language" if setting in ("mono", "multi") else "language"
    return {"svgs": [svg.heatmap(matrix, order, names, vmin=lo, vmax=hi, title=f"{metric} by {col_title}",
                                 row_title="model", col_title=col_title)],
            "colorbar": svg.colorbar(lo, hi, metric, gid=f"cb-{vid}")}


def _cross_heatmaps(entries: list[ResultEntry], order: list[str], metric: str, vid: str) -> dict[str, Any] | None:
    by_model = {e.model: e for e in entries}
    langs = list(dict.fromkeys(c.query_lang for e in entries for c in _cells(e, "cross")))
    if not langs:
        return None
    mats = {}
    off = []
    for m in order:
        e = by_model[m]
        mat: list[list[float | None]] = [[None] * len(langs) for _ in langs]
        for c in _cells(e, "cross"):
            if c.query_lang in langs and len(c.doc_langs) == 1 and c.doc_langs[0] in langs:
                v = number(c.scores.get(metric))
                mat[langs.index(c.query_lang)][langs.index(c.doc_langs[0])] = v
                if v is not None:
                    off.append(v)
        for c in _cells(e, "mono"):
            if c.query_lang in langs:
                i = langs.index(c.query_lang)
                mat[i][i] = number(c.scores.get(metric))
        mats[m] = mat
    if not off:
        return None
    lo, hi = min(off), max(off)
    return {"svgs": [svg.heatmap(mats[m], langs, langs, vmin=lo, vmax=hi, title=m, row_title="query ↓",
                                 col_title="document language", diagonal_note="Mono, colour clipped")
                     for m in order],
            "colorbar": svg.colorbar(lo, hi, f"{metric} (diagonal: Mono)", gid=f"cb-{vid}")}


def build_view(task_id: str, setting: str, entries: list[ResultEntry], opts: Options,
               bias_here: bool) -> dict[str, Any]:
    """The view model of one setting of one task condition."""
    main = entries[0].result.main_score
    headline = main.metric
    metrics = list(dict.fromkeys(m for e in entries for m in e.result.metrics))
    metrics = [headline] + [m for m in metrics if m != headline]

    def score(e: ResultEntry, m: str) -> float | None:
        return number(e.result.score(setting, m))

    def geometry(e: ResultEntry) -> Any:
        return e.result.bias.geometry if e.result.bias else None

    by_model = {e.model: e for e in entries}
    sig = significance(entries, setting, headline, opts)
    comp = sig if isinstance(sig, Comparison) else None

    def head(m: str) -> float:
        v = score(by_model[m], headline)
        return -v if v is not None else float("inf")

    tested = comp.models if comp else []
    order = tested + sorted((m for m in by_model if m not in tested), key=lambda m: (head(m), m))
    letters = {m: string.ascii_lowercase[i % 26] for i, m in enumerate(comp.models)} if comp else {}

    bias_keys: list[str] = []
    geo_keys: list[tuple[str, str]] = []
    definitions: dict[str, str] = {}
    if bias_here:
        geo_keys = [(k, lab) for k, lab in GEOMETRY_KEYS
                    if any(geometry_value(geometry(e), k) is not None for e in entries)]
        shown = {k for k, _ in geo_keys}
        for e in entries:
            b = e.result.bias
            if b is None:
                continue
            bias_keys += [k for k, v in b.summary.items() if number(v) is not None and k not in bias_keys + list(shown)]
            definitions.update(b.definitions)

    columns: list[dict[str, Any]] = [{"key": "rank", "label": "rank", "kind": "rank", "title": "rank interval from the significance tests"},
               {"key": "model", "label": "model", "kind": "text", "title": "click for the run's manifest"}]
    columns += [{"key": f"m:{m}", "label": m, "kind": "metric", "headline": m == headline,
                 "title": f"{SETTING_LABELS.get(setting, setting)} {m}, macro-averaged over cells"} for m in metrics]
    columns += [{"key": "skipped", "label": "skipped", "kind": "count", "title": "queries with no relevant candidate"}]
    extra = [{"key": f"b:{k}", "label": k, "kind": "bias", "title": hint(k, definitions)} for k in bias_keys]
    extra += [{"key": f"g:{k}", "label": lab, "kind": "geometry", "title": hint(k, definitions)}
              for k, lab in geo_keys]
    bias_columns = columns[:3] + extra if extra else []
    for col in columns + extra:
        col.setdefault("headline", False)

    rows = []
    for m in order:
        e = by_model[m]
        summary = e.result.bias.summary if e.result.bias else {}
        vals: dict[str, dict[str, Any]] = {}
        for mt in metrics:
            v = score(e, mt)
            vals[f"m:{mt}"] = {"display": fmt(v), "sort": v}
        for k in bias_keys:
            v = number(summary.get(k))
            vals[f"b:{k}"] = {"display": fmt(v), "sort": v}
        for k, _ in geo_keys:
            v = geometry_value(geometry(e), k)
            vals[f"g:{k}"] = {"display": fmt(v), "sort": v}
        sc = e.result.settings.get(setting)
        skipped = sc.n_skipped if sc else None
        vals["skipped"] = {"display": str(skipped if skipped is not None else "—"), "sort": skipped}
        row: dict[str, Any] = {"model": m, "manifest": slug("m", e.stem), "letter": letters.get(m, ""),
                               "values": vals, "not_zero_shot": overlap(e.result.model.training_datasets,
                                                                        e.result.task.model_dump())}
        if comp and m in comp.models:
            i = comp.models.index(m)
            lo, hi = comp.rank_interval[i]
            row["rank"] = {"display": str(lo) if lo == hi else f"{lo}–{hi}", "sort": lo + hi / 100}
            row["group"] = comp.group[i]
            row["beats"] = [letters[comp.models[j]] for j in range(len(comp.models)) if comp.better[i][j]]
            row["beaten_by"] = [letters[comp.models[j]] for j in range(len(comp.models)) if comp.better[j][i]]
        else:
            row["rank"] = {"display": "—", "sort": None}
            row["beats"], row["beaten_by"], row["group"] = [], [], None
        rows.append(row)

    pmatrix = None
    if comp:
        pmatrix = {"labels": [f"{letters[m]} {m}" for m in comp.models],
                   "cells": [[(None if p is None else f"{p:.4f}", comp.better[i][j] or comp.better[j][i])
                              for j, p in enumerate(prow)] for i, prow in enumerate(comp.p_adjusted)]}
    vid = slug(task_id, setting)
    heat = _cross_heatmaps(entries, order, headline, vid) if setting == "cross" else \
        _cell_heatmap(entries, order, setting, headline, vid)
    scatter = None
    if bias_here and any(e.result.bias is not None for e in entries):
        pts = [(m, geometry_value(geometry(by_model[m]), "uniformity"),
                geometry_value(geometry(by_model[m]), "xl_align")) for m in order]
        pts2 = [(m, x, y) for m, x, y in pts if x is not None and y is not None]
        scatter = {"svg": svg.scatter(pts2, xlabel="uniformity", ylabel="XL-align",
                                      title="alignment against uniformity (lower-left is better)")
                   if pts2 else None,
                   "missing": [m for m, x, y in pts if x is None or y is None]}
    s0 = entries[0].result.settings.get(setting)
    return {
        "id": vid, "setting": setting, "label": SETTING_LABELS.get(setting, setting),
        "is_main": setting == main.setting, "headline": headline, "columns": columns, "bias_columns": bias_columns,
        "rows": rows,
        "n_cells": s0.n_cells if s0 else None, "n_queries": s0.n_queries if s0 else None,
        "significance": comp, "no_significance": None if comp else sig, "pmatrix": pmatrix,
        "heatmap": heat, "scatter": scatter, "bias_here": bias_here,
    }


def build_condition(key: tuple[str, str, tuple[str, ...]], entries: list[ResultEntry], opts: Options) -> dict[str, Any]:
    """All views of one task condition, settings in the order Mono, Cross, Multi, per-language."""
    task, text_mode, _ = key
    t = entries[0].result.task.model_dump()
    present = {s for e in entries for s in e.result.settings}
    settings = [s for s in SETTING_ORDER if s in present] + sorted(present - set(SETTING_ORDER))
    main = entries[0].result.main_score.setting
    bias_setting = _bias_setting(entries, settings, main)
    tid = slug(task, text_mode, *key[2]) if condition_label(task, text_mode, entries) != task else slug(task)
    return {
        "id": tid, "label": condition_label(task, text_mode, entries), "task": t,
        "main_setting": main, "headline": entries[0].result.main_score.metric,
        "models": [e.model for e in entries],
        "views": [build_view(tid, s, entries, opts, bias_here=(s == bias_setting)) for s in settings],
    }
