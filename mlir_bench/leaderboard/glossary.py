"""Definitions and directions of every number on the page: retrieval metrics, bias statistics, geometry, and the
significance layer. One place feeds the glossary section, the column tooltips and the ↑/↓ arrows of the headers.

Retrieval metrics: a plain-language sentence here, and the formula from the kernel's docstring in
:mod:`mlir_bench.scoring.metrics` (docs/PROTOCOLS.md §3). Bias statistics: the registry
(:mod:`mlir_bench.scoring.bias_stats`): definition and ``lower_is_better``. Geometry: the registry's
``GEOMETRY_DEFINITIONS``, with the directions below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..scoring import bias_stats
from ..scoring.metrics import KERNELS, parse

HIGHER, LOWER, NEUTRAL = "higher", "lower", ""
ARROWS = {HIGHER: "↑", LOWER: "↓", NEUTRAL: ""}

#: Plain-language definitions of the retrieval metrics (the formula comes from the kernel's docstring).
_METRICS = {
    "map": "mean average precision: for each query, the precision at the rank of each of its relevant candidates, "
           "averaged over its relevant candidates, on the full ranking; then the mean over queries",
    "recall": "the share of a query's relevant candidates found in its top k; mean over queries",
    "ndcg": "normalised discounted cumulative gain with binary relevance: relevant candidates in the top k, "
            "each discounted by log2(rank + 1), relative to the best possible ranking; mean over queries",
    "mrr": "mean reciprocal rank: 1 / the rank of the first relevant candidate (0 if it is below k); mean over "
           "queries",
    "p": "precision at k: the share of the top k that is relevant; mean over queries",
    "hit": "hit rate at k: 1 when at least one relevant candidate is in the top k; mean over queries",
}
#: Geometry values where lower is better (Wang & Isola alignment and uniformity, and our cross-lingual variants).
GEOMETRY_DIRECTION = {"xl_align": LOWER, "xl_align_answers": LOWER, "uniformity": LOWER}


@dataclass(frozen=True)
class Term:
    key: str  # "map", "recall@k", "rank_distance", ...
    label: str
    definition: str
    direction: str  # "higher", "lower" or "" (descriptive)
    group: str  # "retrieval", "bias", "geometry", "page"
    formula: str = ""

    @property
    def arrow(self) -> str:
        return ARROWS[self.direction]

    @property
    def direction_text(self) -> str:
        return {HIGHER: "higher is better", LOWER: "lower is better"}.get(self.direction, "descriptive")


def _formula(name: str) -> str:
    doc = (KERNELS[name].__doc__ or "").strip().split("\n\n")[0]
    return " ".join(doc.split())


def _metric_text(name: str, k: int | None, generic: bool = False) -> str:
    text = _METRICS.get(name, name)
    if name == "map" and k is not None:
        text = "average precision counting only the relevant candidates ranked in the top k (the denominator stays " \
               "the number of relevant candidates); mean over queries"
    if name == "mrr" and k is None:
        text = "mean reciprocal rank of the first relevant candidate over the full ranking"
    if k is not None and not generic:
        text = re.sub(r"\bk\b", str(k), text)
    return text


def metric_term(key: str) -> Term | None:
    """The retrieval metric ``key`` (``map``, ``ndcg@10``, ``r@1``...), or None if it is not one."""
    try:
        m = parse(key)
    except ValueError:
        return None
    return Term(key, key, _metric_text(m.name, m.k), HIGHER, "retrieval", _formula(m.name))


def bias_term(key: str) -> Term | None:
    """A bias statistic, summary extra or geometry value by its result key (``mrc@10``, ``xl_align``), or None."""
    stat = bias_stats.statistic_of(key)
    if stat is not None:
        return Term(key, key, stat.definition, LOWER if stat.lower_is_better else HIGHER, "bias")
    if key in bias_stats.SUMMARY_EXTRAS:
        return Term(key, key, bias_stats.SUMMARY_EXTRAS[key], NEUTRAL, "bias")
    if key in bias_stats.GEOMETRY_DEFINITIONS:
        return Term(key, key, bias_stats.GEOMETRY_DEFINITIONS[key], GEOMETRY_DIRECTION.get(key, NEUTRAL), "geometry")
    return None


def term(key: str, recorded: dict[str, str] | None = None) -> Term:
    """Any column key: a metric, a bias or geometry key, else the definition a result recorded (descriptive)."""
    found = metric_term(key) or bias_term(key)
    if found:
        return found
    generic = re.sub(r"@\d+$", "@k", key)
    text = (recorded or {}).get(key) or (recorded or {}).get(generic) or "no definition recorded"
    return Term(key, key, str(text), NEUTRAL, "bias")


def _statistic_terms() -> list[Term]:
    out = []
    for s in bias_stats.STATISTICS:
        key = s.name if not s.ks else f"{s.name}@k"
        label = key + (f" (k = {', '.join(map(str, s.ks))})" if s.ks else "")
        out.append(Term(key, label, s.definition, LOWER if s.lower_is_better else HIGHER, "bias"))
    out += [Term(k, k, v, NEUTRAL, "bias") for k, v in bias_stats.SUMMARY_EXTRAS.items()]
    out += [Term(k, k, v, GEOMETRY_DIRECTION.get(k, NEUTRAL), "geometry")
            for k, v in bias_stats.GEOMETRY_DEFINITIONS.items()]
    return out


PAGE_TERMS = (
    Term("Mono / Cross / Multi", "Mono / Cross / Multi",
         "the settings of Elmahdy et al. 2024: Mono, queries against candidates of their own language; Cross, every "
         "ordered pair of languages; Multi, every query against one pool of all languages (MLIR proper). "
         "Per language: tasks evaluated one language at a time (MIRACL)", NEUTRAL, "page"),
    Term("macro-average", "macro-average",
         "a setting's score is the unweighted mean over its cells (one cell per query language, or per language "
         "pair in Cross) of the mean over the cell's queries", NEUTRAL, "page"),
    Term("skipped", "skipped",
         "queries with no relevant candidate in a cell: left out of its mean, and counted (a property of the task "
         "data, not of the model)", NEUTRAL, "page"),
    Term("avg", "avg (per-language tables)",
         "the mean of the language columns shown; with every language shown it equals the setting's score "
         "(Cross: each query language's mean over document languages)", HIGHER, "page"),
    Term("rank", "rank interval",
         "the ranks the paired tests allow: at best 1 + the number of models significantly better, at worst n − "
         "the number significantly worse. Shaded bands group models that cannot be told apart", NEUTRAL, "page"),
    Term("letters", "marker letters",
         "each measured row has a letter; a superscript letter on the headline score means \"significantly better "
         "than the model with this letter\" (Holm-adjusted p < α)", NEUTRAL, "page"),
    Term("paired test", "paired randomization test",
         "Fisher's sign-flip test on the per-query differences of two models over the same queries, weighted so "
         "the statistic is exactly the difference of the two macro-averages; the p-value counts random sign "
         "flips at least as extreme; when none is, Hoeffding's bound 2·exp(−T²/2Σd²) on the exact p-value is used "
         "if smaller, so that many models can still be told apart (the paired Student t-test is the --test "
         "student alternative)", NEUTRAL, "page"),
    Term("Holm", "Holm correction",
         "the p-values of all pairs of a view are one family, adjusted with Holm's step-down method so the "
         "probability of any false \"better\" is at most α", NEUTRAL, "page"),
    Term("zero-shot", "zero-shot / not zero-shot / unknown",
         "not zero-shot: the model's declared training data overlaps the source of the task (SQuAD for XQuAD-R, "
         "MLQA for MLQA-R, Mr. TyDi / MIRACL for MIRACL); zero-shot: training data declared without overlap, or "
         "nothing trained (BM25); unknown: no training data declared", NEUTRAL, "page"),
    Term("reported", "reported",
         "a figure copied from a paper (cited), not run here: no per-query values, so no significance test, rank "
         "interval or letter", NEUTRAL, "page"),
    Term("submitted", "submitted / imported",
         "a result computed elsewhere: submitted and accepted by mlir-bench validate, or imported from mteb "
         "results; shown and tested like the others, but not re-run here", NEUTRAL, "page"),
    Term("transformed", "transformed / transductive",
         "a model whose vectors went through a post-hoc transform (e.g. centering per language) before search; "
         "transductive when the transform's statistics were estimated on the evaluation pool and queries "
         "themselves", NEUTRAL, "page"),
)


def glossary(metric_keys: list[str], bias_keys: list[str]) -> list[dict[str, str]]:
    """The glossary rows: the retrieval metrics on the page, every registered bias and geometry statistic, the
    page's own terms. ``bias_keys`` adds recorded keys the registry does not know (descriptive)."""
    seen: set[str] = set()
    rows: list[Term] = []
    for key in metric_keys:
        t = metric_term(key)
        if t is None:
            continue
        m = parse(key)
        generic = m.name if m.k is None else f"{m.name}@k"
        if generic in seen:
            continue
        seen.add(generic)
        ks = sorted({parse(k).k for k in metric_keys if metric_term(k) and parse(k).name == m.name} - {None})
        label = generic + (f" (k = {', '.join(map(str, ks))})" if ks and m.k is not None else "")
        rows.append(Term(generic, label, _metric_text(m.name, m.k, generic=True), HIGHER, "retrieval",
                         _formula(m.name)))
    rows += _statistic_terms()
    known = {t.key for t in rows}
    for k in bias_keys:
        generic = re.sub(r"@\d+$", "@k", k)
        if k not in known and generic not in known and bias_term(k) is None:
            rows.append(term(k))
            known.add(k)
    rows += PAGE_TERMS
    return [{"key": t.key, "label": t.label, "definition": t.definition, "direction": t.direction_text,
             "arrow": t.arrow, "group": t.group, "formula": t.formula, "id": "g-" + re.sub(r"[^a-z0-9]+", "-",
                                                                                           t.key.lower()).strip("-")}
            for t in rows]
