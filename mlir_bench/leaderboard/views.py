"""From result files to the page's view models: one view per (task condition, setting), plain dicts for jinja.

Each view holds the results table (headline metric with significance markers, the other metrics, rank intervals,
reported rows for context), the bias and geometry table, the heatmaps with a sortable per-language table under
them, and, for the setting the bias section describes, the alignment–uniformity scatter. Every row carries its
zero-shot status and its kind (measured, reported, transformed, transductive) for the page's filters. Nothing here
renders HTML except the inline SVG figures from :mod:`.svg`.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from typing import Any

from ..results.schema import CellScores
from . import svg
from .cards import Card
from .glossary import HIGHER, LOWER, Term, term
from .load import SETTING_LABELS, SETTING_ORDER, ResultEntry, geometry_value, number
from .reported import ReportedRow, format_reported, rows_for
from .significance import Comparison, align_per_query, compare, macro_weights
from .zero_shot import ZERO_SHOT_LABELS, status

GEOMETRY_KEYS = (("xl_align", "XL-align"), ("uniformity", "uniformity"))
LETTERS = string.ascii_lowercase + string.ascii_uppercase


@dataclass(frozen=True)
class Options:
    """Significance settings: ``test`` is "fisher" (randomization) or "student"; Holm's correction at alpha;
    ``unit`` "auto" flips signs per query group where the sidecars store groups (else per query), "query" per query.
    """

    test: str = "fisher"
    n_permutations: int = 10_000
    seed: int = 42
    alpha: float = 0.05
    unit: str = "auto"


@dataclass
class Context:
    """What every view needs besides its results: model cards (by model name)."""

    cards: dict[str, Card] = field(default_factory=dict)


def slug(*parts: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")


def decimals_for(values: list[float | None], kind: str = "metric") -> int:
    """One number of decimals per column: 4 for scores in [-10, 10], 2 below 100, 1 below 10,000, else 0."""
    vals = [abs(v) for v in values if v is not None]
    if kind == "count":
        return 0
    if not vals:
        return 4
    top = max(vals)
    return 4 if top < 10 else 2 if top < 100 else 1 if top < 10_000 else 0


def fmt(v: float | None, decimals: int) -> str:
    return "—" if v is None else f"{v:.{decimals}f}"


def letter(i: int) -> str:
    """Row letters: a–z, A–Z, then aa, ab, ... (two letters) past 52 rows."""
    n = len(LETTERS)
    return LETTERS[i] if i < n else LETTERS[i // n - 1] + LETTERS[i % n]


def letter_ranges(letters: list[str]) -> str:
    """Marker letters with runs of three or more consecutive letters shortened: b c d e g -> "b–e g" (a space
    between parts once letters have two characters, so "b–Z aa" stays readable)."""
    order = {letter(i): i for i in range(len(LETTERS) * (len(LETTERS) + 1))}
    idx = [order.get(x, -1) for x in letters]
    out, i = [], 0
    while i < len(letters):
        j = i
        while j + 1 < len(letters) and idx[j] >= 0 and idx[j + 1] == idx[j] + 1:
            j += 1
        out.append(f"{letters[i]}–{letters[j]}" if j - i >= 2 else ("" if len(letters[i]) == 1 else " ").join(
            letters[i:j + 1]))
        i = j + 1
    sep = " " if any(len(x) > 1 for x in letters) else ""
    return sep.join(out)


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
    scores, sizes, groups = align_per_query(have, metric, cell_keys)
    return compare(scores, macro_weights(sizes), test=opts.test, n_permutations=opts.n_permutations,
                   seed=opts.seed, alpha=opts.alpha, n_cells=sum(1 for n in sizes if n), tail_bound=True,
                   groups=None if opts.unit == "query" else groups)


# ------------------------------------------------------------------------------------------------- rows


#: one seed of a seeded trainer experiment: models/<recipe>/seed-<n>/<method> (`mlir-bench experiment`)
_SEED_RUN = re.compile(r"/seed-(\d+)/[^/+]+$")


def seed_of(model: str) -> int | None:
    """The seed of a seeded experiment's student (``st:models/cpu-small/seed-2/mimo`` -> 2), else None."""
    m = _SEED_RUN.search(model)
    return int(m.group(1)) if m else None


def entry_flags(e: ResultEntry, card: Card | None) -> dict[str, Any]:
    """Zero-shot status and kind of a measured row (shared by every table of its view and the overview)."""
    zs, hits = status(e.result.model.training_datasets, e.result.task.model_dump(),
                      untrained=bool(card and card.untrained))
    t = e.result.transform
    sub = e.result.submitted or {}
    origin = (f"submitted by {sub.get('by', '?')}, validated {sub.get('validated', '?')} (not re-run here)" if sub
              else "imported from mteb results (not run here)" if e.result.imported else "")
    return {"kind": "measured", "zs": zs, "zs_hits": hits, "zs_title": _zs_title(zs, hits, e.task),
            "seed": seed_of(e.result.model.name), "transformed": t is not None,
            "transductive": bool(t and t.transductive),
            "transform": t.name if t else "", "base_model": t.base_model if t else "",
            "description": card.description if card else "", "origin": origin,
            "origin_label": "submitted" if sub else "imported" if e.result.imported else ""}


def reported_flags(r: ReportedRow) -> dict[str, Any]:
    zs, hits = status(r.training_datasets, {"name": r.task})
    title = _zs_title(zs, hits, r.task) + (f"; {r.zero_shot_note}" if r.zero_shot_note else "")
    return {"kind": "reported", "zs": zs, "zs_hits": hits, "zs_title": title, "seed": None, "transformed": False,
            "transductive": False, "transform": "", "base_model": "", "origin": "", "origin_label": "",
            "description": f"{r.description}. Reported by {r.citation} ({r.where})."}


def _zs_title(zs: str, hits: list[str], task: str) -> str:
    if zs == "no":
        return f"not zero-shot: training data overlaps {task}'s source ({', '.join(hits)})"
    if zs == "unknown":
        return "training data not declared: zero-shot status unknown"
    return "zero-shot: no declared training data overlaps this task's source"


def badges(flags: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(css class, text, tooltip) of a row's markers."""
    out = []
    if flags["kind"] == "reported":
        out.append(("b-reported", "reported", "a published figure, not run here; not in the significance tests"))
    if flags.get("origin_label"):
        out.append(("b-origin", flags["origin_label"], flags["origin"]))
    if flags["transductive"]:
        out.append(("b-transductive", "transductive", f"{flags['transform']}: estimated on the evaluation pool"))
    elif flags["transformed"]:
        out.append(("b-transformed", "transformed", f"{flags['transform']} applied to {flags['base_model']}"))
    if flags.get("seed") is not None:
        out.append(("b-seed", f"seed {flags['seed']}", "one seed of a seeded trainer experiment; its mean ± sd over "
                    "seeds and the claims' tests are in the experiment report (results/experiments/<recipe>.md)"))
    if flags["zs"] == "no":
        out.append(("b-nzs", "not zero-shot", flags["zs_title"]))
    elif flags["zs"] == "unknown":
        out.append(("b-unknown", "zero-shot?", flags["zs_title"]))
    return out


def _column(key: str, label: str, kind: str, t: Term | None, decimals: int, *, headline: bool = False,
            title: str = "", **extra: Any) -> dict[str, Any]:
    better = t.direction if t else ""
    return {"key": key, "label": label, "kind": kind, "title": title or (t.definition if t else label),
            "arrow": {HIGHER: "↑", LOWER: "↓"}.get(better, ""), "better": better, "decimals": decimals,
            "headline": headline, **extra}


def _value(v: float | None, decimals: int) -> dict[str, Any]:
    return {"display": fmt(v, decimals), "sort": v}


# ------------------------------------------------------------------------------------------------- figures


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
    # One matrix per model, drawn by the page's script when the view opens (svg.heatmap's layout, in
    # leaderboard.js): as inline SVG they would be most of the page's weight (models × languages² squares).
    data = {"langs": langs, "vmin": round(lo, 6), "vmax": round(hi, 6), "note": "Mono, colour clipped",
            "models": [{"name": m, "m": [[None if v is None else round(v, 4) for v in row] for row in mats[m]]}
                       for m in order]}
    return {"svgs": [], "cross": {"id": f"cx-{vid}", "n": len(order),
                                   "json": json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")},
            "colorbar": svg.colorbar(lo, hi, f"{metric} (diagonal: Mono)", gid=f"cb-{vid}")}


def per_language(entries: list[ResultEntry], order: list[str], setting: str, metric: str
                 ) -> tuple[list[str], dict[str, dict[str, float | None]]]:
    """Query languages of the setting and model -> language -> score (Cross: the mean over document languages)."""
    by_model = {e.model: e for e in entries}
    langs = list(dict.fromkeys(c.query_lang for e in entries for c in _cells(e, setting)))
    out: dict[str, dict[str, float | None]] = {}
    for m in order:
        vals: dict[str, list[float]] = {}
        for c in _cells(by_model[m], setting):
            v = number(c.scores.get(metric))
            if v is not None:
                vals.setdefault(c.query_lang, []).append(v)
        out[m] = {lang: (sum(vals[lang]) / len(vals[lang]) if vals.get(lang) else None) for lang in langs}
    return langs, out


# ------------------------------------------------------------------------------------------------- views


def build_view(task_id: str, setting: str, entries: list[ResultEntry], opts: Options, bias_here: bool,
               ctx: Context | None = None, reported: list[ReportedRow] | None = None) -> dict[str, Any]:
    """The view model of one setting of one task condition."""
    ctx = ctx or Context()
    reported = [r for r in (reported or []) if setting in r.scores or (bias_here and "bias" in r.scores)]
    main = entries[0].result.main_score
    headline = main.metric
    metrics = list(dict.fromkeys(m for e in entries for m in e.result.metrics))
    metrics = [headline] + [m for m in metrics if m != headline]
    label = SETTING_LABELS.get(setting, setting)

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
    letters = {m: letter(i) for i, m in enumerate(order)}

    bias_keys: list[str] = []
    geo_keys: list[tuple[str, str]] = []
    recorded: dict[str, str] = {}
    if bias_here:
        geo_keys = [(k, lab) for k, lab in GEOMETRY_KEYS
                    if any(geometry_value(geometry(e), k) is not None for e in entries)]
        shown = {k for k, _ in geo_keys}
        for e in entries:
            b = e.result.bias
            if b is None:
                continue
            bias_keys += [k for k, v in b.summary.items() if number(v) is not None and k not in bias_keys + list(shown)]
            recorded.update(b.definitions)

    # raw values first: each column's decimals are fixed from its measured values
    raw: dict[str, dict[str, float | None]] = {}
    for m in order:
        e = by_model[m]
        summary = e.result.bias.summary if e.result.bias else {}
        vals: dict[str, float | None] = {f"m:{mt}": score(e, mt) for mt in metrics}
        vals.update({f"b:{k}": number(summary.get(k)) for k in bias_keys})
        vals.update({f"g:{k}": geometry_value(geometry(e), k) for k, _ in geo_keys})
        raw[m] = vals

    def dec(key: str, kind: str = "metric") -> int:
        return decimals_for([raw[m].get(key) for m in order], kind)

    rank_col = {"key": "rank", "label": "rank", "kind": "rank", "title": term("rank").definition, "arrow": "",
                "better": "", "decimals": 0, "headline": False, "sticky": 0}
    model_col = {"key": "model", "label": "model", "kind": "text", "better": "", "arrow": "", "decimals": 0,
                 "headline": False, "sticky": 1,
                 "title": "the model (its card in Models); a click opens the run's manifest and its command"}
    columns: list[dict[str, Any]] = [rank_col, model_col]
    for mt in metrics:
        t = term(mt)
        columns.append(_column(f"m:{mt}", mt, "metric", t, dec(f"m:{mt}"), headline=mt == headline,
                               title=f"{label} {mt}, macro-averaged over cells: {t.definition}. Higher is better."))
    columns.append(_column("skipped", "skipped", "count", None, 0,
                           title="queries with no relevant candidate in a cell, left out of its mean"))
    extra = []
    for k in bias_keys:
        t = term(k, recorded)
        extra.append(_column(f"b:{k}", k, "bias", t, dec(f"b:{k}"),
                             title=f"{t.definition} ({t.direction_text})"))
    for k, lab in geo_keys:
        t = term(k, recorded)
        extra.append(_column(f"g:{k}", lab, "geometry", t, dec(f"g:{k}"),
                             title=f"{k}: {t.definition} ({t.direction_text})"))
    bias_columns = columns[:3] + extra if extra else []
    decimals = {c["key"]: c["decimals"] for c in columns + extra}

    rows = []
    for m in order:
        e = by_model[m]
        flags = entry_flags(e, ctx.cards.get(m))
        vals = {k: _value(v, decimals[k]) for k, v in raw[m].items() if k in decimals}
        sc = e.result.settings.get(setting)
        skipped = sc.n_skipped if sc else None
        vals["skipped"] = {"display": str(skipped if skipped is not None else "—"), "sort": skipped}
        row: dict[str, Any] = {"model": m, "manifest": slug("m", e.stem), "letter": letters.get(m, ""),
                               "values": vals, **flags, "badges": badges(flags), "stem": e.stem}
        if comp and m in comp.models:
            i = comp.models.index(m)
            lo, hi = comp.rank_interval[i]
            row["rank"] = {"display": str(lo) if lo == hi else f"{lo}–{hi}", "sort": lo + hi / 100, "lo": lo,
                           "hi": hi}
            row["group"] = comp.group[i]
            row["beats"] = [letters[comp.models[j]] for j in range(len(comp.models)) if comp.better[i][j]]
            row["beaten_by"] = [letters[comp.models[j]] for j in range(len(comp.models)) if comp.better[j][i]]
            row["beats_short"] = letter_ranges(row["beats"])
        else:
            row["rank"] = {"display": "—", "sort": None, "lo": None, "hi": None}
            row["beats"], row["beaten_by"], row["group"], row["beats_short"] = [], [], None, ""
        rows.append(row)

    for r in reported:
        flags = reported_flags(r)
        vals = {}
        for key, d in decimals.items():
            kind, _, name = key.partition(":")
            rv = r.score("bias", name) if kind in ("b", "g") else r.score(setting, name) if kind == "m" else None
            vals[key] = {"display": format_reported(rv, d), "sort": rv.value} if rv else {"display": "—", "sort": None}
        vals["skipped"] = {"display": "—", "sort": None}
        rows.append({"model": r.model, "manifest": None, "letter": "", "values": vals, **flags,
                     "badges": badges(flags), "stem": "", "citation": r.citation, "url": r.url, "where": r.where,
                     "rank": {"display": "—", "sort": None, "lo": None, "hi": None}, "beats": [], "beaten_by": [],
                     "group": None, "beats_short": ""})
    measured_rows = [r for r in rows if r["kind"] == "measured"]

    vid = slug(task_id, setting)
    pmatrix = None
    if comp:  # drawn by the page's script when opened: n² cells would weigh more than the rest of the view
        data = {"labels": [f"{letters[m]} {m}" for m in comp.models],
                "p": [[None if p is None else float(f"{p:.4g}") for p in prow] for prow in comp.p_adjusted],
                "sig": ["".join("1" if comp.better[i][j] or comp.better[j][i] else "0" for j in range(len(prow)))
                        for i, prow in enumerate(comp.p_adjusted)]}
        pmatrix = {"id": f"pm-{vid}", "json": json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")}
    heat = _cross_heatmaps(entries, order, headline, vid) if setting == "cross" else \
        _cell_heatmap(entries, order, setting, headline, vid)

    lang_table = None
    langs, per_lang = per_language(entries, order, setting, headline)
    if len(langs) > 1:
        d = decimals_for([v for m in order for v in per_lang[m].values()])
        lang_cols = [dict(model_col, sticky=0)]
        lang_cols += [_column(f"l:{lang}", lang, "lang", term(headline), d, lang=lang,
                              title=f"{label} {headline} of queries in {lang}"
                                    + (" (mean over document languages)" if setting == "cross" else ""))
                      for lang in langs]
        lang_cols.append(_column("avg", "avg", "avg", term(headline), d, headline=True,
                                 title=f"mean of the language columns shown ({term('avg').definition})"))
        lang_rows = []
        for r in measured_rows:
            m = r["model"]
            vals = {f"l:{lang}": _value(per_lang[m][lang], d) for lang in langs}
            present = [v for v in per_lang[m].values() if v is not None]
            avg = sum(present) / len(present) if len(present) == len(langs) else None
            vals["avg"] = _value(avg, d)
            lang_rows.append({**r, "values": vals})
        lang_table = {"columns": lang_cols, "rows": lang_rows, "langs": langs, "decimals": d}

    scatter = None
    if bias_here and any(e.result.bias is not None for e in entries):
        pts = [(m, geometry_value(geometry(by_model[m]), "uniformity"),
                geometry_value(geometry(by_model[m]), "xl_align")) for m in order]
        pts2 = [(letters[m], m, x, y) for m, x, y in pts if x is not None and y is not None]
        styles = svg.point_styles(len(order))
        style_of = {m: styles[i] for i, m in enumerate(order)}
        scatter = {"svg": svg.scatter([(lt, m, x, y, style_of[m]) for lt, m, x, y in pts2], xlabel="uniformity",
                                      ylabel="XL-align", title="alignment against uniformity (lower-left is better)")
                   if pts2 else None,
                   "legend": [{"letter": lt, "model": m, "marker": svg.marker_icon(style_of[m]),
                               "x": fmt(x, 4), "y": fmt(y, 4)} for lt, m, x, y in pts2],
                   "missing": [m for m, x, y in pts if x is None or y is None]}
    extra_keys = [c["key"] for c in extra]
    bias_rows = [r for r in rows if r["kind"] == "measured"
                 or any(r["values"][k]["sort"] is not None for k in extra_keys)] if extra else []
    s0 = entries[0].result.settings.get(setting)
    return {
        "id": vid, "setting": setting, "label": label,
        "is_main": setting == main.setting, "headline": headline, "columns": columns, "bias_columns": bias_columns,
        "rows": rows, "bias_rows": bias_rows, "n_reported": len(reported),
        "sources": sorted({(r.citation, r.url) for r in reported}),
        "n_cells": s0.n_cells if s0 else None, "n_queries": s0.n_queries if s0 else None,
        "significance": comp, "no_significance": None if comp else sig, "pmatrix": pmatrix,
        "heatmap": heat, "lang_table": lang_table, "scatter": scatter, "bias_here": bias_here,
        "has_transformed": any(r["transformed"] for r in rows),
        "has_transductive": any(r["transductive"] for r in rows),
    }


def build_condition(key: tuple[str, str, tuple[str, ...]], entries: list[ResultEntry], opts: Options,
                    ctx: Context | None = None) -> dict[str, Any]:
    """All views of one task condition, settings in the order Mono, Cross, Multi, per-language."""
    task, text_mode, _ = key
    t = entries[0].result.task.model_dump()
    present = {s for e in entries for s in e.result.settings}
    settings = [s for s in SETTING_ORDER if s in present] + sorted(present - set(SETTING_ORDER))
    main = entries[0].result.main_score.setting
    bias_setting = _bias_setting(entries, settings, main)
    label = condition_label(task, text_mode, entries)
    tid = slug(label)  # the label names the text mode and the languages when they are not the task's defaults
    reported = rows_for(task, text_mode, any(e.is_subset for e in entries))
    views = [build_view(tid, s, entries, opts, bias_here=(s == bias_setting), ctx=ctx, reported=reported)
             for s in settings]
    return {
        "id": tid, "label": label, "task": t, "text_mode": text_mode, "languages": list(key[2]),
        "main_setting": main, "headline": entries[0].result.main_score.metric,
        "models": [e.model for e in entries], "views": views,
        "zero_shot_labels": ZERO_SHOT_LABELS,
        "citation_url": _citation_url(str(t.get("citation", ""))),
        "sources": sorted({(r.citation, r.url) for r in reported}),
    }


def _citation_url(citation: str) -> str:
    m = re.search(r"arXiv[: ]?(\d{4}\.\d{4,5})", citation, re.IGNORECASE)
    if m:
        return f"https://arxiv.org/abs/{m.group(1)}"
    m = re.search(r"https?://\S+", citation)
    return m.group(0).rstrip(".,;)") if m else ""
