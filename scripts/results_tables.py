"""The README's result tables, printed as Markdown from results/*.json (so the README quotes the files exactly).

Usage: python scripts/results_tables.py [results]            print them
       python scripts/results_tables.py results --readme README.md
           rewrite each block between <!-- table:NAME --> and <!-- /table:NAME --> in README.md
           (NAME: sentence, passage, miracl, trainer, claims, transforms)
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
from pathlib import Path

from mlir_bench.results.schema import Result, looks_like_result, parse_result


def fmt(v: object, spec: str = "{:.3f}") -> str:
    return "—" if v is None else spec.format(v)


def load(folder: Path) -> list[Result]:
    """Every result file in ``folder`` as the typed result (other JSON files are skipped)."""
    out = []
    for p in sorted(folder.glob("*.json")):
        d = json.loads(p.read_text(encoding="utf-8"))
        if looks_like_result(d):
            out.append(parse_result(d, p))
    return out


def short(name: str) -> str:
    return name.replace("st:models/", "")


def bias(r: Result, key: str) -> float | None:
    return r.score("bias", key)


def sentence_table(results: list[Result]) -> None:
    print("| model | task | Mono mAP | Cross mAP | Multi mAP | Multi R@10 | rank distance | MRC@10 | PEER@20 | "
          "TLR@10 | own-lang share@10 | XL-align | uniformity | same / cross-lang cos |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = [r for r in results if r.task.level == "sentence" and r.identity.languages is None]
    for r in sorted(rows, key=lambda r: (r.task.name, -(r.score("multi", "map") or 0))):
        print(f"| {short(r.model.name)} | {r.task.name} | {fmt(r.score('mono', 'map'))} | "
              f"{fmt(r.score('cross', 'map'))} | {fmt(r.score('multi', 'map'))} | {fmt(r.score('multi', 'recall@10'))} | "
              f"{fmt(bias(r, 'rank_distance'), '{:.0f}')} | {fmt(bias(r, 'mrc@10'), '{:.0f}')} | "
              f"{fmt(bias(r, 'peer@20'))} | {fmt(bias(r, 'tlr@10'))} | {fmt(bias(r, 'own_language_share@10'))} | "
              f"{fmt(bias(r, 'xl_align'))} | {fmt(bias(r, 'uniformity'))} | "
              f"{fmt(bias(r, 'same_language_cosine'))} / {fmt(bias(r, 'cross_language_cosine'))} |")


def passage_table(results: list[Result]) -> None:
    print("| model | task (split) | nDCG@20 | nDCG@10 | R@100 | MRR@10 | MAP@100 | rank distance | TLR@10 |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = [r for r in results if r.task.family == "mmlir"]
    for r in sorted(rows, key=lambda r: (r.task.name, r.model.name)):
        split = (r.task.model_extra or {}).get("split", "")
        print(f"| {short(r.model.name)} | {r.task.name} ({split}) | {fmt(r.score('multi', 'ndcg@20'), '{:.4f}')} | "
              f"{fmt(r.score('multi', 'ndcg@10'), '{:.4f}')} | {fmt(r.score('multi', 'recall@100'), '{:.4f}')} | "
              f"{fmt(r.score('multi', 'mrr@10'), '{:.4f}')} | {fmt(r.score('multi', 'map@100'), '{:.4f}')} | "
              f"{fmt(bias(r, 'rank_distance'), '{:.0f}')} | {fmt(bias(r, 'tlr@10'), '{:.4f}')} |")


def miracl_table(results: list[Result]) -> None:
    print("| model | languages | nDCG@10 | R@100 |")
    print("|---|---|---|---|")
    for r in results:
        if r.task.family != "miracl":
            continue
        setting = "per-language" if "per-language" in r.settings else next(iter(r.settings))
        print(f"| {short(r.model.name)} | {','.join(r.task.languages)} | "
              f"{fmt(r.score(setting, 'ndcg@10'), '{:.4f}')} | {fmt(r.score(setting, 'recall@100'), '{:.4f}')} |")


METHODS = ("kd-only", "mimo", "x-x", "x-x-mono", "x-y", "hybrid", "hybrid-single-pair")


def trainer_table(results: list[Result], folder: Path, recipes: tuple[str, ...] = ("cpu-small", "cpu-medium")) -> None:
    """Base and every trained method: Mono / Multi mAP and bias on both tasks, training wall time."""
    by = {(r.model.name, r.task.name): r for r in results if r.task.level == "sentence"}
    print("| model | examples | XQuAD-R Mono | XQuAD-R Multi | XQuAD-R RD | own-lang@10 | TLR@10 | uniformity | "
          "MLQA-R Mono | MLQA-R Multi | MLQA-R RD | train s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows: list[tuple[str, str, str | None]] = [("st:models/cpu-small/base", "—", None)]
    rows += [(f"st:models/{rc}/{m}", rc, m) for rc in recipes for m in METHODS]
    for name, recipe, method in rows:
        x, q = by.get((name, "xquad-r")), by.get((name, "mlqa-r"))
        if x is None or q is None:
            continue
        train, examples = "—", "0"
        mpath = folder / "training" / str(recipe) / str(method) / "training_manifest.json"
        label = short(name)
        if method and mpath.exists():
            man = json.loads(mpath.read_text(encoding="utf-8"))
            train = f"{man['training']['wall_seconds']:.0f}"
            examples = f"{man['budget']['examples']:,}"
            if method == "hybrid" and "method_definition" not in man:  # trained before hybrid became per-row
                label += " (single-pair)"
        print(f"| {label} | {examples} | {fmt(x.score('mono', 'map'))} | "
              f"**{fmt(x.score('multi', 'map'))}** | {fmt(bias(x, 'rank_distance'), '{:.0f}')} | "
              f"{fmt(bias(x, 'own_language_share@10'))} | {fmt(bias(x, 'tlr@10'))} | {fmt(bias(x, 'uniformity'))} | "
              f"{fmt(q.score('mono', 'map'))} | **{fmt(q.score('multi', 'map'))}** | "
              f"{fmt(bias(q, 'rank_distance'), '{:.0f}')} | {train} |")


def _ms(values: list[float], spec: str = "{:.3f}") -> str:
    """mean ± sd over seeds (sample sd), or the single value."""
    if not values:
        return "—"
    m = sum(values) / len(values)
    if len(values) == 1:
        return spec.format(m)
    sd = (sum((v - m) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return f"{spec.format(m)} ± {spec.format(sd)}"


def experiment_table(folder: Path) -> None:
    """The seeded experiments (results/experiments/<recipe>.json, from `mlir-bench experiment`): scores as mean ± sd
    over seeds per method, then every claim with its per-seed direction, Holm p and verdict."""
    pilots = []
    for path in sorted((folder / "experiments").glob("*.json")):
        rep = json.loads(path.read_text(encoding="utf-8"))
        scores, dev = rep["scores"], set(rep.get("dev_tasks", []))
        tasks = [t for t in rep["tasks"] if t in scores]
        test = [t for t in tasks if t not in dev]
        if not test:  # a dev-only pilot (a choice made on the dev task): one row each in the table below
            pilots.append((path, rep))
            continue
        print(f"**{rep['recipe']}**, seeds {', '.join(map(str, rep['seeds']))} ([results/experiments/{path.stem}.md](results/experiments/{path.stem}.md)):")
        print()
        head = ["method", "seeds"] + [f"{t} (dev) Multi" for t in tasks if t in dev]
        for t in test:
            head += [f"{t} Multi", "Mono", "Cross", "RD"]
        print("| " + " | ".join(head) + " |")
        print("|---|" + "---:|" * (len(head) - 1))
        methods = list(dict.fromkeys(m for t in tasks for m in scores[t]))
        for m in methods:
            n = max((len(v) for t in tasks for v in scores[t].get(m, {}).values()), default=1)
            cells = [_ms(scores[t].get(m, {}).get("Multi mAP", [])) for t in tasks if t in dev]
            for t in test:
                c = scores[t].get(m, {})
                cells += [f"**{_ms(c.get('Multi mAP', []))}**", _ms(c.get("Mono mAP", [])),
                          _ms(c.get("Cross mAP", [])), _ms(c.get("rank distance", []), "{:.0f}")]
            print(f"| {m} | {n} | " + " | ".join(cells) + " |")
        print()
        print("| claim (source) | task | A vs B (seed means) | A > B in seeds | Holm p | verdict |")
        print("|---|---|---|---|---:|---|")
        for c in rep["claims"]:
            f = "{:.0f}" if c["metric"] == "rank_distance" else "{:.3f}"
            sign = -1 if c.get("lower_is_better") else 1
            b = c["b_seeds"] if len(c["b_seeds"]) == len(c["a_seeds"]) else [c["b_mean"]] * len(c["a_seeds"])
            ups = sum(sign * (x - y) > 0 for x, y in zip(c["a_seeds"], b, strict=True))
            print(f"| {c['claim']} ({c['source']}) | {c['task']} | {f.format(c['a_mean'])} vs {f.format(c['b_mean'])} "
                  f"| {ups} of {len(c['a_seeds'])} | {c['p_adjusted']:.4f} | {c['verdict']} |")
        print()
    if pilots:
        print("**Dev pilots** (dev task only; where a recipe's configuration was chosen):")
        print()
        print("| recipe | task | method | seeds | Multi mAP | Mono mAP | Cross mAP | RD | train s per seed |")
        print("|---|---|---|---:|---:|---:|---:|---:|---:|")
        seen_base: set[str] = set()
        for path, rep in pilots:
            for t in (t for t in rep["tasks"] if t in rep["scores"]):
                for m, c in rep["scores"][t].items():
                    if m == "base":  # the same untrained student under each recipe's name: its first row only
                        if t in seen_base:
                            continue
                        seen_base.add(t)
                    walls = [_training_seconds(folder, rep["recipe"], seed, m) for seed in rep["seeds"]]
                    walls = [w for w in walls if w is not None]
                    print(f"| [{rep['recipe']}](results/experiments/{path.stem}.md) | {t} | {m} | "
                          f"{len(c.get('Multi mAP', [])) or 1} | {_ms(c.get('Multi mAP', []))} | "
                          f"{_ms(c.get('Mono mAP', []))} | {_ms(c.get('Cross mAP', []))} | "
                          f"{_ms(c.get('rank distance', []), '{:.0f}')} | {_ms(walls, '{:.0f}') if m != 'base' else '—'} |")
        print()


def _training_seconds(folder: Path, recipe: str, seed: int, method: str) -> float | None:
    """Training wall seconds of one student from its committed manifest (for mimo, stage 1 and the teacher vectors
    are inside: the stage-2 run trains its stage 1 first)."""
    path = folder / "training" / recipe / f"seed-{seed}" / method / "training_manifest.json"
    if not path.exists():
        return None
    return float(json.loads(path.read_text(encoding="utf-8"))["training"]["wall_seconds"])


def tables(folder: Path) -> dict[str, str]:
    """Every table as Markdown text, by block name."""
    sys.path.insert(0, str(Path(__file__).parent))
    import claims_table
    import transforms_table

    every = [r for r in load(folder) if r.transform is None]  # transformed models: the transforms block
    students = [r for r in every if r.model.name.startswith("st:models/")]
    results = [r for r in every if r not in students]
    out = {}
    for name, draw in (("sentence", lambda: sentence_table(results)), ("passage", lambda: passage_table(results)),
                       ("miracl", lambda: miracl_table(every)), ("trainer", lambda: trainer_table(students, folder)),
                       ("claims", lambda: claims_table.print_table(folder / "claims", claims_table.recipes_in(
                           folder / "claims"))),
                       ("transforms", lambda: print("\n".join(transforms_table.compact_rows(folder)))),
                       ("experiment", lambda: experiment_table(folder))):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            draw()
        out[name] = buf.getvalue().rstrip("\n")
    return out


def update_readme(path: Path, blocks: dict[str, str]) -> list[str]:
    """Replace the marked blocks of ``path``; returns the names replaced."""
    text = path.read_text(encoding="utf-8")
    done = []
    for name, body in blocks.items():
        pattern = re.compile(rf"(<!-- table:{name} -->\n)(?:.*?\n)?(<!-- /table:{name} -->)", re.S)
        if pattern.search(text):
            text = pattern.sub(lambda m, b=body: m.group(1) + b + "\n" + m.group(2), text)
            done.append(name)
    path.write_text(text, encoding="utf-8")
    return done


def main() -> None:
    args = sys.argv[1:]
    readme = None
    if "--readme" in args:
        i = args.index("--readme")
        readme = Path(args[i + 1])
        args = args[:i] + args[i + 2:]
    folder = Path(args[0] if args else "results")
    blocks = tables(folder)
    if readme:
        print("updated:", ", ".join(update_readme(readme, blocks)) or "nothing")
        return
    print("\n\n".join(blocks.values()))


if __name__ == "__main__":
    main()
