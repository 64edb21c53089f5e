"""Page sections beside the views: model metadata, per-run manifests and the reproduction (2CR) table."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..results.expected import Condition, classify
from .load import ResultEntry
from .views import slug
from .zero_shot import overlap


def _params(n: Any) -> str:
    if not isinstance(n, int) or n <= 0:
        return "—"
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M"


def model_rows(entries: list[ResultEntry]) -> list[dict[str, Any]]:
    """One row per model name (its most recent result's metadata), with the tasks it is not zero-shot on."""
    latest: dict[str, ResultEntry] = {}
    flags: dict[str, list[str]] = {}
    for e in entries:
        prev = latest.get(e.model)
        created = e.result.manifest.created or ""
        if prev is None or created > (prev.result.manifest.created or ""):
            latest[e.model] = e
        hit = overlap(e.result.model.training_datasets, e.result.task.model_dump())
        if hit:
            flags.setdefault(e.model, []).append(f"{e.task} ({', '.join(hit)})")
    rows = []
    for name in sorted(latest):
        m = latest[name].result.model.model_dump()
        prompts = m.get("prompts") or {}
        langs = m.get("languages") or []
        rows.append({
            "name": name,
            "parameters": _params(m.get("n_parameters")),
            "parameters_sort": m.get("n_parameters"),
            "dim": m.get("dim") or "—",
            "similarity": m.get("similarity", "—"),
            "pooling": m.get("pooling", "—"),
            "max_length": m.get("max_length") or "—",
            "dtype": m.get("dtype", "—"),
            "prompts": "; ".join(f"{k}: {v!r}" for k, v in prompts.items()) or "none",
            "revision": str(m.get("revision", "unknown")),
            "languages": f"{len(langs)}: {' '.join(langs)}" if langs else "not declared",
            "training": ", ".join(m.get("training_datasets") or []) or "not declared",
            "n_training": len(m.get("training_datasets") or []),
            "not_zero_shot": sorted(set(flags.get(name, []))),
            "source": m.get("source", ""),
            "reference": m.get("reference", ""),
        })
    return rows


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out += _flatten(v, key + ".")
        elif isinstance(v, float):
            out.append((key, f"{v:g}"))
        else:
            out.append((key, "—" if v is None else str(v)))
    return out


def manifests(entries: list[ResultEntry], out_dir: Path) -> list[dict[str, Any]]:
    """Every result's manifest as titled sections of (key, value) rows, with a relative link to the JSON."""
    out = []
    for e in entries:
        man = e.result.manifest.model_dump()
        general = {k: v for k, v in man.items() if not isinstance(v, dict)}
        sections = [("run", _flatten(general))]
        titles = {"packages": "package versions", "dataset_sha256": "dataset sha256", "timings": "timings (s)",
                  "encoded": "texts encoded"}
        for k, v in man.items():
            if isinstance(v, dict):
                sections.append((titles.get(str(k), str(k)), _flatten(v)))
        model = e.result.model.model_dump()
        sections.insert(1, ("model", _flatten({k: model.get(k) for k in ("name", "revision", "dim", "n_parameters",
                                                                          "pooling", "max_length", "dtype",
                                                                          "similarity") if k in model})))
        link = os.path.relpath(e.path.resolve(), out_dir.resolve())
        figures = []
        figs = e.result.bias.figures if e.result.bias else {}
        for name, file in figs.items():
            p = e.path.parent / "figures" / e.stem / str(file)
            if p.exists():
                figures.append((str(name), Path(os.path.relpath(p.resolve(), out_dir.resolve())).as_posix()))
        out.append({"id": slug("m", e.stem), "title": f"{e.task} · {e.model} · {e.text_mode}", "stem": e.stem,
                    "link": Path(link).as_posix(), "figures": figures, "sections": sections})
    return out


def _matches(c: Condition, e: ResultEntry) -> bool:
    """Whether result ``e`` is the run condition ``c`` names (task, text mode, languages, model, dtype)."""
    ident = e.result.identity
    langs_ok = tuple(ident.languages or ()) == tuple(c.languages)
    return (e.task == c.task and e.text_mode == c.text_mode and c.model in (e.model, e.stem.split("__")[1])
            and langs_ok and (ident.model.dtype == "bfloat16") == (c.dtype == "bfloat16") and ident.transform is None)


def reproduction_rows(conditions: list[Condition], entries: list[ResultEntry]) -> list[dict[str, Any]]:
    """The expected-scores file checked against the results on the page (the file `mlir-bench check` reruns)."""
    rows = []
    for c in conditions:
        match = next((e for e in entries if _matches(c, e)), None)
        actual = match.result.score(c.setting, c.metric) if match else None
        rows.append({"label": c.label(), "expected": f"{c.expected:.6f}", "tolerance": f"{c.tolerance:.0e}",
                     "actual": f"{actual:.6f}" if actual is not None else "no result",
                     "status": classify(actual, c.expected, c.tolerance) if match else "missing",
                     "manifest": slug("m", match.stem) if match else None, "tags": ", ".join(c.tags)})
    return rows
