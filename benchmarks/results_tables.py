"""The README's result tables, printed as Markdown from results/*.json (so the README quotes the files exactly).

Usage: python benchmarks/results_tables.py [results]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def fmt(v: object, spec: str = "{:.3f}") -> str:
    return "—" if v is None else spec.format(v)


def load(folder: Path) -> list[dict]:
    out = []
    for p in sorted(folder.glob("*.json")):
        d = json.loads(p.read_text(encoding="utf-8"))
        if isinstance(d, dict) and "schema_version" in d and "settings" in d:
            d["_stem"] = p.stem
            out.append(d)
    return out


def short(name: str) -> str:
    return name.replace("st:models/", "")


def sentence_table(results: list[dict]) -> None:
    print("| model | task | Mono mAP | Cross mAP | Multi mAP | Multi R@10 | rank distance | MRC@10 | PEER@20 | "
          "TLR@10 | own-lang share@10 | XL-align | uniformity | same / cross-lang cos | encode s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = [r for r in results if r["task"]["level"] == "sentence" and "__" not in r["_stem"].split("__", 3)[-1]]
    for r in sorted(rows, key=lambda r: (r["task"]["name"], -(r["settings"]["multi"]["scores"]["map"] or 0))):
        s = {k: v["scores"] for k, v in r["settings"].items()}
        b = (r.get("bias") or {}).get("summary", {})
        t = r["manifest"]["timings"]
        enc = (t.get("encode_query_seconds") or 0) + (t.get("encode_document_seconds") or 0)
        print(f"| {short(r['model']['name'])} | {r['task']['name']} | {fmt(s['mono']['map'])} | "
              f"{fmt(s['cross']['map'])} | {fmt(s['multi']['map'])} | {fmt(s['multi']['recall@10'])} | "
              f"{fmt(b.get('rank_distance'), '{:.0f}')} | {fmt(b.get('mrc@10'), '{:.0f}')} | "
              f"{fmt(b.get('peer@20'))} | {fmt(b.get('tlr@10'))} | {fmt(b.get('own_language_share@10'))} | "
              f"{fmt(b.get('xl_align'))} | {fmt(b.get('uniformity'))} | "
              f"{fmt(b.get('same_language_cosine'))} / {fmt(b.get('cross_language_cosine'))} | {enc:.0f} |")


def passage_table(results: list[dict]) -> None:
    print("| model | task (split) | nDCG@20 | nDCG@10 | R@100 | MRR@10 | MAP@100 | rank distance | TLR@10 |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = [r for r in results if r["task"]["family"] == "mmlir"]
    for r in sorted(rows, key=lambda r: (r["task"]["name"], r["model"]["name"])):
        s = r["settings"]["multi"]["scores"]
        b = (r.get("bias") or {}).get("summary", {})
        split = r["task"].get("split", "")
        print(f"| {short(r['model']['name'])} | {r['task']['name']} ({split}) | {fmt(s.get('ndcg@20'), '{:.4f}')} | "
              f"{fmt(s.get('ndcg@10'), '{:.4f}')} | {fmt(s.get('recall@100'), '{:.4f}')} | "
              f"{fmt(s.get('mrr@10'), '{:.4f}')} | {fmt(s.get('map@100'), '{:.4f}')} | "
              f"{fmt(b.get('rank_distance'), '{:.0f}')} | {fmt(b.get('tlr@10'), '{:.4f}')} |")


def miracl_table(results: list[dict]) -> None:
    print("| model | languages | nDCG@10 | R@100 |")
    print("|---|---|---|---|")
    for r in results:
        if r["task"]["family"] != "miracl":
            continue
        setting = "per-language" if "per-language" in r["settings"] else next(iter(r["settings"]))
        s = r["settings"][setting]["scores"]
        langs = ",".join(r["task"].get("languages") or [])
        print(f"| {short(r['model']['name'])} | {langs} | {fmt(s.get('ndcg@10'), '{:.4f}')} | "
              f"{fmt(s.get('recall@100'), '{:.4f}')} |")


def main() -> None:
    results = load(Path(sys.argv[1] if len(sys.argv) > 1 else "results"))
    sentence_table(results)
    print()
    passage_table(results)
    print()
    miracl_table(results)


if __name__ == "__main__":
    main()
