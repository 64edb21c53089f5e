"""Page sections beside the views: model cards, per-run manifests, the reproduction (2CR) table and the footer."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..results.expected import Condition, classify
from .cards import Card
from .commands import check_command, portable_text, run_command
from .load import ResultEntry
from .views import seed_of, slug
from .zero_shot import status

SHORT_REVISION = 12


def _params(n: Any) -> str:
    if not isinstance(n, int) or n <= 0:
        return "—"
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M"


def short_revision(rev: str) -> str:
    return rev if len(rev) <= SHORT_REVISION + 1 else rev[:SHORT_REVISION] + "…"


def latest_entries(entries: list[ResultEntry]) -> dict[str, ResultEntry]:
    """Per model name, its most recent result (by the manifest's creation time; ties: the first file)."""
    latest: dict[str, ResultEntry] = {}
    for e in entries:
        prev = latest.get(e.model)
        if prev is None or (e.result.manifest.created or "") > (prev.result.manifest.created or ""):
            latest[e.model] = e
    return latest


def model_rows(entries: list[ResultEntry], cards: dict[str, Card]) -> list[dict[str, Any]]:
    """One row per model name (its most recent result's metadata) with its card and its zero-shot status per task."""
    latest = latest_entries(entries)
    per_task: dict[str, dict[str, tuple[str, list[str]]]] = {}
    for e in entries:
        card = cards.get(e.model)
        per_task.setdefault(e.model, {})[e.task] = status(e.result.model.training_datasets, e.result.task.model_dump(),
                                                          untrained=bool(card and card.untrained))
    rows = []
    for name in sorted(latest):
        meta = latest[name].result.model
        card = cards[name]
        tasks = per_task.get(name, {})
        not_zs = [f"{t} ({', '.join(hits)})" for t, (s, hits) in sorted(tasks.items()) if s == "no"]
        states = {s for s, _ in tasks.values()}
        zs = "no" if "no" in states else "unknown" if "unknown" in states else "yes"
        langs = meta.languages or []
        training = list(meta.training_datasets)
        rows.append({
            "name": name, "id": slug("card", name), "card": card.to_dict(),
            "parameters": _params(meta.n_parameters), "parameters_sort": meta.n_parameters,
            "dim": meta.dim or "—", "similarity": meta.similarity, "pooling": meta.pooling,
            "max_length": meta.max_length or "—", "dtype": meta.dtype,
            "prompts": "; ".join(f"{k}: {v!r}" for k, v in meta.prompts.items()) or "none",
            "revision": meta.revision, "revision_short": short_revision(meta.revision),
            "languages": f"{len(langs)}: {' '.join(langs)}" if langs else "not declared",
            "training": ", ".join(training) if training else ("none (nothing trained)" if card.untrained
                                                              else "not declared"),
            "n_training": len(training), "not_zero_shot": not_zs, "zs": zs,
            "zs_label": {"no": "not zero-shot on " + ", ".join(t for t, (s, _) in sorted(tasks.items()) if s == "no"),
                         "unknown": "unknown (training data not declared)",
                         "yes": "zero-shot on every task here"}[zs],
            "transformed": latest[name].result.transform is not None, "seed": seed_of(name),
            "transductive": bool(latest[name].result.transform and latest[name].result.transform.transductive),
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
            out.append((key, "—" if v is None else portable_text(str(v))))
    return out


def _short_digest(v: Any) -> str:
    return v[:16] + "…" if isinstance(v, str) and len(v) > 17 else str(v)


def transform_rows(t: dict[str, Any]) -> list[tuple[str, str]]:
    """A transform section as compact rows: its spec, then per role the rows estimated per language on one line,
    and the estimation files with short digests (the result JSON has everything in full)."""
    est = dict(t.get("estimation") or {})
    rows = [(k, "—" if t.get(k) is None else str(t.get(k))) for k in ("name", "method", "param", "source",
                                                                     "transductive", "base_model")]
    for role, per_lang in sorted((est.pop("estimation_rows", None) or {}).items()):
        if isinstance(per_lang, dict):
            rows.append((f"estimation rows ({role})", " · ".join(f"{lang} {n}" for lang, n in per_lang.items())))
    files = est.pop("files_sha256", None) or {}
    rows += [(f"file {name}", _short_digest(digest)) for name, digest in files.items()]
    for k, v in est.items():
        if isinstance(v, dict):
            rows.append((f"estimation {k}", " · ".join(f"{a} {b}" for a, b in v.items()) or "—"))
        elif isinstance(v, list):
            rows.append((f"estimation {k}", ", ".join(map(str, v)) or "—"))
        else:
            rows.append((f"estimation {k}", f"{v:g}" if isinstance(v, float) else portable_text(str(v))))
    return rows


def manifests(entries: list[ResultEntry], out_dir: Path, cards: dict[str, Card],
              results_name: str = "results") -> list[dict[str, Any]]:
    """Every result's manifest as titled sections of (key, value) rows, with a relative link to the JSON, the
    command that reproduces it and its model card. Absolute paths are shown machine-independent."""
    out = []
    for e in entries:
        man = e.result.manifest.model_dump()
        general = {k: v for k, v in man.items() if not isinstance(v, dict)}
        sections = [("run", _flatten(general))]
        titles = {"packages": "package versions", "dataset_sha256": "dataset sha256 (first 16 hex digits; the JSON "
                  "has them in full)", "timings": "timings (s)", "encoded": "texts encoded"}
        for k, v in man.items():
            if isinstance(v, dict):
                rows = _flatten(v)
                if k == "dataset_sha256":
                    rows = [(name, _short_digest(digest)) for name, digest in rows]
                sections.append((titles.get(str(k), str(k)), rows))
        model = e.result.model.model_dump()
        sections.insert(1, ("model", _flatten({k: model.get(k) for k in ("name", "revision", "dim", "n_parameters",
                                                                          "pooling", "max_length", "dtype",
                                                                          "similarity") if k in model})))
        if e.result.transform is not None:
            sections.insert(2, ("transform", transform_rows(e.result.transform.model_dump())))
        link = os.path.relpath(e.path.resolve(), out_dir.resolve())
        figures = []
        figs = e.result.bias.figures if e.result.bias else {}
        for name, file in figs.items():
            p = e.path.parent / "figures" / e.stem / str(file)
            if p.exists():
                figures.append((str(name), Path(os.path.relpath(p.resolve(), out_dir.resolve())).as_posix()))
        card = cards.get(e.model)
        out.append({"id": slug("m", e.stem), "title": f"{e.task} · {e.model} · {e.text_mode}", "stem": e.stem,
                    "link": Path(link).as_posix(), "figures": figures, "sections": sections,
                    "command": run_command(e.result, results_name), "card": card.to_dict() if card else None,
                    "card_id": slug("card", e.model)})
    return out


def _matches(c: Condition, e: ResultEntry) -> bool:
    """Whether result ``e`` is the run condition ``c`` names (task, text mode, languages, model, dtype)."""
    ident = e.result.identity
    langs_ok = tuple(ident.languages or ()) == tuple(c.languages)
    return (e.task == c.task and e.text_mode == c.text_mode and c.model in (e.model, e.stem.split("__")[1])
            and langs_ok and (ident.model.dtype == "bfloat16") == (c.dtype == "bfloat16")
            and (ident.transform is None or c.model == e.model))  # a transformed result only by its full name


def reproduction_rows(conditions: list[Condition], entries: list[ResultEntry],
                      results_name: str = "results") -> list[dict[str, Any]]:
    """The expected-scores file checked against the results on the page (the file `mlir-bench check` reruns),
    with per row the command that reproduces the result and the check line."""
    rows = []
    for c in conditions:
        match = next((e for e in entries if _matches(c, e)), None)
        actual = match.result.score(c.setting, c.metric) if match else None
        rows.append({"label": c.label(), "expected": f"{c.expected:.6f}", "tolerance": f"{c.tolerance:.0e}",
                     "tolerance_sort": c.tolerance, "expected_sort": c.expected,
                     "actual": f"{actual:.6f}" if actual is not None else "no result", "actual_sort": actual,
                     "diff": f"{actual - c.expected:+.1e}" if actual is not None else "",
                     "status": classify(actual, c.expected, c.tolerance) if match else "missing",
                     "manifest": slug("m", match.stem) if match else None, "tags": ", ".join(c.tags),
                     "command": run_command(match.result, results_name) if match else "",
                     "check": check_command(c)})
    return rows


def provenance(entries: list[ResultEntry]) -> dict[str, str]:
    """The newest result's git commit and date: what the footer says generated the numbers (stable for a given
    set of results, so the committed page does not go stale with every commit)."""
    newest = max(entries, key=lambda e: (e.result.manifest.created or "", e.stem))
    sha = str(getattr(newest.result.manifest, "git_sha", "") or "unknown")
    dirty = sha.endswith("-dirty")
    return {"sha": sha.removesuffix("-dirty"), "short": sha.removesuffix("-dirty")[:12], "dirty": "yes" if dirty else "",
            "created": (newest.result.manifest.created or "")[:10], "stem": newest.stem}
