"""The offset-transform table: every transformed result against its untransformed base, with paired tests.

Usage: python scripts/transforms_table.py [results] [--permutations N]    the full table
       python scripts/transforms_table.py results --document > results/transforms.md   with its title
       python scripts/transforms_table.py [results] --compact            the README's summary

Per model, task and transform: the Multi headline (mAP; nDCG@20 on passage tasks) and its change, Mono mAP and
its change (sentence tasks), rank distance, own-language share of the top 10, uniformity, the paired randomization
test of the Multi headline against the base model, grouped by question: one sign per question, all its language
versions together (``mlir-bench compare``; 10,000 sign flips), and
the wall time of the estimation step (encoding the estimation texts, from the cache when warm, plus the fit).
Transductive rows (statistics from the evaluation pool itself) are marked ``(T)``.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

from mlir_bench.leaderboard.compare import compare_models
from mlir_bench.results.schema import Result, looks_like_result, parse_result

TASKS = ("xquad-r", "mlqa-r", "xquad-mmlir")


def load(folder: Path) -> list[Result]:
    out = []
    for p in sorted(folder.glob("*.json")):
        d = json.loads(p.read_text(encoding="utf-8"))
        if looks_like_result(d):
            out.append(parse_result(d, p))
    return out


def fmt(v: float | None, spec: str = "{:.3f}") -> str:
    return "—" if v is None else spec.format(v)


def delta(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None else f"{a - b:+.3f}"


def headline(r: Result) -> tuple[str, str]:
    return ("multi", "ndcg@20") if r.task.level == "passage" else ("multi", "map")


def rows(folder: Path, permutations: int = 10_000) -> list[str]:
    results = [r for r in load(folder) if r.identity.languages is None]
    base = {(r.model.name, r.task.name): r for r in results if r.transform is None}
    by_model: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for r in results:
        if r.transform is not None:
            by_model[(r.transform.base_model, r.task.name)].append(r)
    out = ["| model | task | transform | Multi | Δ | Mono mAP | Δ | rank distance | own-lang@10 | uniformity | "
           "p vs base | estimation s |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (model, task), trs in sorted(by_model.items(), key=lambda kv: (kv[0][0], TASKS.index(kv[0][1])
                                                                       if kv[0][1] in TASKS else 9)):
        b = base.get((model, task))
        if b is None:
            continue
        setting, metric = headline(b)
        out.append(f"| {model} | {task} | none | {fmt(b.score(setting, metric))} | | "
                   f"{fmt(b.score('mono', 'map'))} | | {fmt(b.score('bias', 'rank_distance'), '{:.0f}')} | "
                   f"{fmt(b.score('bias', 'own_language_share@10'))} | {fmt(b.score('bias', 'uniformity'))} | | |")
        for r in sorted(trs, key=lambda r: (r.transform.source == "pool", r.transform.name)):
            t = r.transform
            try:
                mc = compare_models(folder, task, [b.model.name, r.model.name], setting=setting, metric=metric,
                                    text_mode=r.task.text_mode, n_permutations=permutations)
                p = f"{mc.p_value(b.model.name, r.model.name, adjusted=False):.4f}"
            except Exception as exc:  # noqa: BLE001 - a missing sidecar is shown, not fatal
                p = f"n/a ({type(exc).__name__})"
            est = t.estimation
            secs = (est.get("encode_seconds") or 0) + (est.get("fit_seconds") or 0)
            mark = " (T)" if t.transductive else ""
            out.append(f"| | | {t.name}{mark} | {fmt(r.score(setting, metric))} | "
                       f"{delta(r.score(setting, metric), b.score(setting, metric))} | {fmt(r.score('mono', 'map'))} | "
                       f"{delta(r.score('mono', 'map'), b.score('mono', 'map'))} | "
                       f"{fmt(r.score('bias', 'rank_distance'), '{:.0f}')} | "
                       f"{fmt(r.score('bias', 'own_language_share@10'))} | {fmt(r.score('bias', 'uniformity'))} | "
                       f"{p} | {secs:.1f} |")
    return out


COMPACT = ("center:ntrex", "shift:ntrex", "lir:1:ntrex", "lir:4:ntrex", "procrustes:ntrex", "center:pool",
           "lir:1:pool")


def compact_rows(folder: Path) -> list[str]:
    """One row per model and task: the Multi headline of the base and of each transform in :data:`COMPACT`, and
    the Mono mAP of the base and under center:ntrex (the README block; the full table has every statistic)."""
    results = [r for r in load(folder) if r.identity.languages is None]
    base = {(r.model.name, r.task.name): r for r in results if r.transform is None}
    tr = {(r.transform.base_model, r.task.name, r.transform.name): r for r in results if r.transform is not None}
    models = sorted({m for (m, _, _) in tr})
    head = " | ".join(f"{n}{' (T)' if n.endswith(':pool') else ''}" for n in COMPACT)
    out = [f"| model | task | none | {head} | Mono: none → center:ntrex |",
           "|---|---|" + "---|" * (len(COMPACT) + 2)]
    for m in models:
        for task in TASKS:
            b = base.get((m, task))
            if b is None:
                continue
            setting, metric = headline(b)
            cols = [fmt(tr[(m, task, n)].score(setting, metric)) if (m, task, n) in tr else "—" for n in COMPACT]
            best = max((c for c in cols if c != "—"), default=None)
            cols = [f"**{c}**" if c == best else c for c in cols]
            c = tr.get((m, task, "center:ntrex"))
            mono = f"{fmt(b.score('mono', 'map'))} → {fmt(c.score('mono', 'map')) if c else '—'}"
            out.append(f"| {m.replace('st:models/', '')} | {task} ({metric}) | {fmt(b.score(setting, metric))} | "
                       + " | ".join(cols) + f" | {mono} |")
    return out


def main() -> None:
    args = sys.argv[1:]
    perms = 10_000
    if "--permutations" in args:
        i = args.index("--permutations")
        perms = int(args[i + 1])
        args = args[:i] + args[i + 2:]
    folder = Path(args[0] if args else "results")
    if "--compact" in args:
        print("\n".join(compact_rows(folder)))
        return
    if "--document" in args:  # results/transforms.md: the title and how the table was made, then the table
        print("# Offset transforms: every result against its base model\n")
        print(f"Generated by `python scripts/transforms_table.py results --document > results/transforms.md` (paired "
              f"randomization test of the Multi headline against the untransformed model, grouped by question: one "
              f"sign per question, all its language versions together; {perms:,} sign flips; `(T)`: transductive, "
              f"estimated on the evaluation pool; \"estimation s\": encoding the estimation texts (from the "
              f"embedding cache after the first transform of a model) plus the fit).\n")
    print("\n".join(rows(folder, perms)))


if __name__ == "__main__":
    main()
