"""The papers' claims against the reference-trainer experiment: a Markdown table from results/claims/*.json.

Each claim is "A beats B" on one task, setting and statistic (for rank distance, "beats" means lower). The
verdict reads the paired randomization test that ``mlir-bench compare`` wrote (grouped: one sign per question,
all its language versions together, since translations of one question are not independent; Holm-adjusted over
all pairs of the models compared): "holds" (A better, p < .05), "direction only" (A better, not significant), "not supported" (B
better, not significant) or "reversed" (B significantly better). A claim of equality (≈) holds when the
difference is not significant, and is "close" when it is significant but under .01.

Usage: python scripts/claims_table.py [results/claims] [recipe ...]   (default: every recipe found)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mlir_bench.experiment import CLAIMS  # (claim, source, setting, metric, A, B)


def load(folder: Path, recipe: str, task: str, setting: str, metric: str) -> dict | None:
    p = folder / f"{recipe}__{task}__{setting}__{metric}.json"
    return json.loads(p.read_text(encoding="utf-8")) if p.exists() else None


def verdict(better: bool, p: float, approx: bool, delta: float = 0.0) -> str:
    if approx:
        if p >= 0.05:
            return "holds (no significant difference)"
        return (f"close (Δ {delta:+.3f}) but significant" if abs(delta) < 0.01
                else f"does not hold (Δ {delta:+.3f}, significant)")
    if better:
        return "**holds**" if p < 0.05 else "direction only (n.s.)"
    return "**reversed**" if p < 0.05 else "not supported (n.s.)"


def cell(folder: Path, recipe: str, task: str, setting: str, metric: str, a: str, b: str, claim: str) -> str:
    d = load(folder, recipe, task, setting, metric)
    if d is None:
        return "not run | "
    names = {m.rsplit("/", 1)[-1]: i for i, m in enumerate(d["models"])}
    if a not in names or b not in names:
        return "not trained | "
    ia, ib = names[a], names[b]
    ma, mb = d["means"][ia], d["means"][ib]
    p = d["p_adjusted"][ia][ib]
    better = (ma < mb) if d["lower_is_better"] else (ma > mb)
    fmt = "{:.0f}" if metric == "rank_distance" else "{:.3f}"
    return f"{fmt.format(ma)} vs {fmt.format(mb)} (p {p:.4f}) | {verdict(better, p, '≈' in claim, ma - mb)}"


def recipes_in(folder: Path) -> list[str]:
    """The recipes with comparisons in ``folder``, cpu-small first."""
    names = {p.name.split("__", 1)[0] for p in folder.glob("*__*.json")}
    return sorted(names, key=lambda r: (r != "cpu-small", r))


def print_table(folder: Path, recipes: list[str]) -> None:
    print("| claim (source) | task | " + " | ".join(f"{r}: A vs B (Holm p) | verdict" for r in recipes) + " |")
    print("|---|---|" + "---:|---|" * len(recipes))
    for claim, source, setting, metric, a, b in CLAIMS:
        for task in ("xquad-r", "mlqa-r"):
            cells = [cell(folder, r, task, setting, metric, a, b, claim) for r in recipes]
            print(f"| {claim} ({source}) | {task} | " + " | ".join(cells) + " |")


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "results/claims")
    print_table(folder, sys.argv[2:] or recipes_in(folder))


if __name__ == "__main__":
    main()
