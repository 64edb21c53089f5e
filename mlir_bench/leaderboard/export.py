"""The page's numbers as files beside it: ``results.csv`` (one row per model × task condition × setting, every
metric, bias and geometry value, the rank interval and the row's flags) and ``summary.json`` (per task the headline
ranking; per model its card). Both are built from the same view models as the page, so they cannot disagree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..io import atomic_open

ID_COLUMNS = ["task", "text_mode", "languages", "setting", "model", "row_type", "zero_shot", "transformed",
              "transductive", "seed", "base_model", "transform", "rank_lo", "rank_hi", "letter", "significantly_better_than",
              "source"]


def records(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One flat record per row of every view's results table (reported rows included, marked)."""
    out = []
    for c in conditions:
        for v in c["views"]:
            cols = {col["key"]: col for col in v["columns"] + v["bias_columns"]}
            for r in v["rows"]:
                rec: dict[str, Any] = {
                    "task": c["task"]["name"], "text_mode": c["text_mode"], "languages": " ".join(c["languages"]),
                    "setting": v["setting"], "model": r["model"], "row_type": r["kind"], "zero_shot": r["zs"],
                    "transformed": r["transformed"], "transductive": r["transductive"], "seed": r.get("seed"),
                    "base_model": r["base_model"],
                    "transform": r["transform"], "rank_lo": r["rank"]["lo"], "rank_hi": r["rank"]["hi"],
                    "letter": r["letter"], "significantly_better_than": " ".join(r["beats"]),
                    "source": r.get("citation", "") or r.get("stem", ""),
                }
                for key, val in r["values"].items():
                    if key in cols and key not in ("rank", "model"):
                        name = key.split(":", 1)[-1]
                        rec[name] = val["sort"]
                out.append(rec)
    return out


def write_downloads(conditions: list[dict[str, Any]], models: list[dict[str, Any]], footer: dict[str, str],
                    out_dir: Path) -> tuple[Path, Path]:
    """Write ``results.csv`` and ``summary.json`` into ``out_dir`` (deterministic: sorted rows, fixed formats)."""
    import pandas as pd

    frame = pd.DataFrame.from_records(records(conditions))
    value_cols = sorted(c for c in frame.columns if c not in ID_COLUMNS)
    frame = frame[[c for c in ID_COLUMNS if c in frame.columns] + value_cols]
    frame["rank_lo"] = frame["rank_lo"].astype("Int64")
    frame["rank_hi"] = frame["rank_hi"].astype("Int64")
    frame = frame.sort_values(["task", "text_mode", "languages", "setting", "row_type", "model"], kind="stable")
    csv_path = out_dir / "results.csv"
    with atomic_open(csv_path, "w", encoding="utf-8", newline="") as fh:
        frame.to_csv(fh, index=False, float_format="%.6g", lineterminator="\n")

    tasks = []
    for c in conditions:
        view = next((v for v in c["views"] if v["is_main"]), c["views"][0])
        key = f"m:{view['headline']}"
        rows = [{"model": r["model"], "score": r["values"][key]["sort"], "row_type": r["kind"],
                 "zero_shot": r["zs"], "rank_interval": [r["rank"]["lo"], r["rank"]["hi"]] if r["rank"]["lo"] else None,
                 "transformed": r["transformed"], "transductive": r["transductive"]}
                for r in view["rows"]]
        tasks.append({"task": c["task"]["name"], "label": c["label"], "text_mode": c["text_mode"],
                      "languages": c["languages"], "setting": view["setting"], "metric": view["headline"],
                      "n_queries": view["n_queries"], "n_cells": view["n_cells"], "models": rows})
    summary = {
        "generator": {"mlir_bench_version": footer["version"], "results_git_sha": footer["sha"],
                      "results_newest": footer["created"]},
        "significance": footer["significance"],
        "tasks": tasks,
        "models": [{"name": m["name"], "description": m["card"]["description"], "licence": m["card"]["licence"],
                    "links": [{"label": lab, "url": url} for lab, url in m["card"]["links"]],
                    "parameters": m["parameters_sort"], "zero_shot": m["zs"], "revision": m["revision"]}
                   for m in models],
    }
    json_path = out_dir / "summary.json"
    with atomic_open(json_path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(summary, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
    return csv_path, json_path
