"""The landing overview: models × tasks, each cell the task's headline score (its main setting and metric).

Cells carry the zero-shot status of that model on that task, so the zero-shot filter masks cells, not whole
models (a model can be zero-shot on MLQA-R and not on XQuAD-R). Reported figures appear as their own rows.
"""

from __future__ import annotations

from typing import Any

from .glossary import term
from .views import badges, slug


def build_overview(conditions: list[dict[str, Any]], first: str | None = None) -> dict[str, Any]:
    """The overview table from the conditions' headline views; rows sorted by the ``first`` condition's score."""
    columns: list[dict[str, Any]] = [{"key": "model", "label": "model", "kind": "text", "title": "the model; see "
                                      "Models for its card", "arrow": "", "better": "", "decimals": 0,
                                      "headline": False, "sticky": 0}]
    rows: dict[str, dict[str, Any]] = {}
    order = sorted(conditions, key=lambda c: c["id"] != first)
    for c in order:
        view = next((v for v in c["views"] if v["is_main"]), c["views"][0])
        head = next(col for col in view["columns"] if col["key"] == f"m:{view['headline']}")
        key = f"c:{c['id']}"
        t = term(view["headline"])
        columns.append({"key": key, "label": f"{c['label']}", "sub": f"{view['label']} {view['headline']}",
                        "kind": "metric", "arrow": "↑", "better": "higher", "decimals": head["decimals"],
                        "headline": c["id"] == first, "view": view["id"],
                        "title": f"{c['label']}: {view['label']} {view['headline']} ({t.definition}); the task's "
                                 "headline score"})
        n = sum(1 for r in view["rows"] if r["kind"] == "measured")
        for r in view["rows"]:
            name = r["model"]
            row = rows.setdefault(name, {"model": name, "values": {}, "kind": r["kind"],
                                         "transformed": r["transformed"], "transductive": r["transductive"],
                                         "seed": r.get("seed"), "description": r["description"], "badges": [], "manifest": None,
                                         "zs": "", "letter": "", "origin": r["origin"],
                                         "origin_label": r["origin_label"],
                                         "href": r.get("url", "") if r["kind"] == "reported"
                                         else "#" + slug("card", name)})
            v = r["values"][f"m:{view['headline']}"]
            rank = r["rank"]
            note = "" if rank["lo"] is None else f"; rank {rank['display']} of {n}"
            row["values"][key] = {**v, "zs": r["zs"], "title": f"{r['zs_title']}{note}",
                                  "flag": "no" if r["zs"] == "no" else "unknown" if r["zs"] == "unknown" else ""}
    for row in rows.values():
        flags = {"kind": row["kind"], "transformed": row["transformed"], "transductive": row["transductive"],
                 "seed": row["seed"], "zs": "", "zs_title": "", "transform": "", "base_model": "", "origin": row["origin"],
                 "origin_label": row["origin_label"]}
        row["badges"] = badges(flags)
        for col in columns[1:]:
            row["values"].setdefault(col["key"], {"display": "", "sort": None, "zs": "", "title": "not evaluated",
                                                  "flag": ""})

    def sort_key(row: dict[str, Any]) -> tuple[Any, ...]:
        vals = [row["values"][col["key"]]["sort"] for col in columns[1:]]
        return (row["kind"] != "measured", *[(v is None, -(v or 0.0)) for v in vals], row["model"])

    return {"columns": columns, "rows": sorted(rows.values(), key=sort_key)}
