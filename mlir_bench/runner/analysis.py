"""Language bias and embedding geometry for one run (SPEC §3), composed from the scoring functions.

Computed in the Multi setting of any task whose queries are parallel (a ``groups`` column). Everything is
written into the result JSON with the k values and sample sizes used; two heatmaps are drawn beside it. The
per-query values of the query-level statistics (:data:`..scoring.bias.PER_QUERY_STATS`) go into the per-query sidecar under
``bias/multi/<query language>``, so that models can be compared on them with paired tests.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..scoring import bias as B
from ..scoring import geometry as G
from ..search import SearchResult
from ..tasks import TaskData

MRC_KS = (5, 10, 20)
PEER_KS = (20, 100)
TLR_KS = (10, 100)
PREF_K = 10
SAMPLE = 2000
SEED = 0

DEFINITIONS = {
    "rank_distance": "max - min full-ranking rank of a query's parallel relevant documents (Elmahdy et al. 2024, "
                     "after Huang et al. 2023); mean per query language, then macro. Lower = less bias.",
    "mrc@k": "Spearman correlation x100 of two parallel queries' scores on the union of their top-k lists "
             "(Yang, Jiang, Baldwin 2024; MIMO metrics.py); mean per language, then macro. Higher = fairer.",
    "peer@k": "Kruskal-Wallis p-value of the relevant documents' ranks grouped by document language, ranks > k "
              "count as k+1 (Yang et al. SIGIR 2024, MIMO's simplified form); mean over queries. Higher = fairer.",
    "tlr@k": "recall@k of the relevant documents NOT in the query's language (SHIFT); macro over languages.",
    "own_language_share@k": "share of the top k in the query's own language; compare with pool_share.",
    "xl_align": "OURS (MIMO's definition is unknown): Wang & Isola alignment E||f(x_a)-f(x_b)||^2 over parallel "
                "pairs in languages a != b (the same question, or the same answer sentence). Lower = better.",
    "uniformity": "Wang & Isola log E exp(-2||f(x)-f(y)||^2) over all pairs of a fixed-seed subsample of the "
                  "pooled queries+candidates. Lower = more uniform.",
    "same_vs_cross_cosine": "OURS: mean cosine of same-language pairs vs cross-language pairs of the sample; "
                            "a large gap means the space clusters by language.",
}


def _stack(results: list[SearchResult]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    width = max(r.rel_idx.shape[1] for r in results)

    def pad(a: np.ndarray, fill: int) -> np.ndarray:
        return np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=fill)

    top = np.concatenate([r.top_idx for r in results])
    rel_idx = np.concatenate([pad(r.rel_idx, -1) for r in results])
    rel_ranks = np.concatenate([pad(r.rel_ranks, 0) for r in results])
    return top, rel_idx, rel_ranks


def _f(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else round(x, 6)


def _matrix(m: np.ndarray) -> list[list[float | None]]:
    return [[_f(v) for v in row] for row in np.asarray(m, dtype=float)]


def language_analysis(task: TaskData, searched: dict[str, SearchResult], qv: Any, dv: Any,
                      figure_dir: Path | None, title: str) -> dict[str, Any] | None:
    """The ``bias`` section of a result, or None when the task has no Multi cells or no parallel queries."""
    multi = [c for c in task.cells if c.setting == "multi"]
    if not multi or task.queries.groups is None:
        return None
    qidx = np.concatenate([c.query_idx for c in multi])
    top, rel_idx, rel_ranks = _stack([searched[f"multi/{c.name}"] for c in multi])
    qlangs = np.asarray(task.queries.langs)[qidx]
    dlangs = np.asarray(task.docs.langs)
    groups = np.asarray(task.queries.groups)[qidx]
    out: dict[str, Any] = {"setting": "multi", "definitions": DEFINITIONS, "k": {
        "mrc": list(MRC_KS), "peer": list(PEER_KS), "tlr": list(TLR_KS), "preference": PREF_K}}
    per: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    values: dict[str, np.ndarray] = {}  # per-query arrays of PER_QUERY_STATS, in ``qidx`` order
    values["rank_distance"] = B.rank_distance(rel_ranks, rel_idx)
    rd = B.summarize_by_language(values["rank_distance"], qlangs)
    per["rank_distance"] = rd
    summary["rank_distance"] = rd["macro"]
    qsub = qv[qidx]
    rc = B.rank_correlation_at(qsub, dv, top, qlangs, groups, ks=MRC_KS)
    values["mrc@10"] = rc[10]
    for k in MRC_KS:
        s = B.summarize_by_language(rc[k], qlangs)
        per[f"mrc@{k}"] = s
        summary[f"mrc@{k}"] = s["macro"]
    for k in PEER_KS:
        values[f"peer@{k}"] = B.peer(rel_ranks, rel_idx, dlangs, k)
        s = B.summarize_by_language(values[f"peer@{k}"], qlangs)
        per[f"peer@{k}"] = s
        summary[f"peer@{k}"] = s["micro"]
    for k in TLR_KS:
        values[f"tlr@{k}"] = B.target_language_recall(rel_ranks, rel_idx, dlangs, qlangs, k)
        s = B.summarize_by_language(values[f"tlr@{k}"], qlangs)
        per[f"tlr@{k}"] = s
        summary[f"tlr@{k}"] = s["macro"]
    values[f"own_language_share@{PREF_K}"] = B.own_language_share(top, dlangs, qlangs, PREF_K)
    own = B.summarize_by_language(values[f"own_language_share@{PREF_K}"], qlangs)
    per[f"own_language_share@{PREF_K}"] = own
    summary[f"own_language_share@{PREF_K}"] = own["macro"]
    pool = B.pool_language_shares(dlangs)
    summary["own_language_pool_share"] = _f(np.mean([pool[x] for x in sorted(set(qlangs.tolist()))]))
    out["preference"] = B.language_preference(top, dlangs, qlangs, PREF_K)
    m, rows, cols = B.language_share_matrix(top, dlangs, qlangs, PREF_K)
    out["share_matrix"] = {"k": PREF_K, "rows": rows, "cols": cols, "matrix": _matrix(m)}
    figures: dict[str, str] = {}
    if figure_dir is not None:
        from ..results.figures import heatmap

        p = heatmap(m, rows, cols, f"{title}: share of top-{PREF_K} by document language", figure_dir /
                    "share_matrix.png", xlabel="document language", ylabel="query language")
        figures["share_matrix"] = p.name
    if not sp.issparse(qv):
        geo = geometry(task, qv, dv)
        out["geometry"] = geo["summary"]
        out["geometry_detail"] = geo["detail"]
        summary.update({f"{k}": v for k, v in geo["summary"].items()})
        xa = geo["xl_align_answers"]
        if figure_dir is not None and xa.matrix.size:  # one language: no cross-language pair to draw
            from ..results.figures import heatmap

            p = heatmap(xa.matrix, xa.labels, xa.labels, f"{title}: XL-align (answer sentences; ours)",
                        figure_dir / "xl_align.png", fmt="{:.2f}", cmap="viridis_r")
            figures["xl_align"] = p.name
    else:
        out["geometry"] = None
        out["geometry_note"] = "not computed: sparse lexical vectors have no embedding geometry"
    out["summary"] = {k: _f(v) for k, v in summary.items()}
    out["per_language"] = per
    out["figures"] = figures
    out["per_query"] = per_query_values(task, multi, values)
    return out


def per_query_values(task: TaskData, cells: list[Any], values: dict[str, np.ndarray]) -> dict[str, Any]:
    """``{"bias/<setting>/<cell>": {"qids": [...], stat: [value or None, ...]}}`` for the stats in ``values``.

    ``values`` holds one array per statistic over the concatenated queries of ``cells`` (in cell order); an
    undefined value (``nan``, e.g. the rank distance of a query with no relevant document) is ``None``.
    """
    out: dict[str, Any] = {}
    start = 0
    for c in cells:
        n = len(c.query_idx)
        entry: dict[str, Any] = {"qids": [task.queries.ids[i] for i in c.query_idx]}
        for name in B.PER_QUERY_STATS:
            if name in values:
                entry[name] = [_f(v) for v in values[name][start:start + n]]
        out[f"bias/{c.setting}/{c.name}"] = entry
        start += n
    return out


def geometry(task: TaskData, qv: np.ndarray, dv: np.ndarray) -> dict[str, Any]:
    """XL-align over parallel questions and parallel answer sentences; uniformity; language clustering."""
    qlangs = np.asarray(task.queries.langs)
    groups = np.asarray(task.queries.groups)
    xq = G.xl_alignment(qv, qlangs, groups)
    # parallel answer sentences: the relevant candidates of each question group, one per language
    pos = {d: i for i, d in enumerate(task.docs.ids)}
    seen: dict[str, list[int]] = {}
    for qid, g in zip(task.queries.ids, groups, strict=True):
        if g not in seen:
            seen[g] = [pos[d] for d in task.qrels.get(qid, {}) if d in pos]
    items, glist = [], []
    for g, docs in seen.items():
        langs_here = [task.docs.langs[d] for d in docs]
        if len(set(langs_here)) == len(langs_here) and len(docs) > 1:
            items.extend(docs)
            glist.extend([g] * len(docs))
    dl = np.asarray(task.docs.langs)
    xa = G.xl_alignment(dv[items], dl[items], np.asarray(glist))
    both = np.concatenate([qv, dv])
    both_langs = np.concatenate([qlangs, dl])
    uni = G.uniformity_by_language(both, both_langs, sample_size=SAMPLE, seed=SEED)
    clus = G.language_clustering(both, both_langs, sample_size=SAMPLE, seed=SEED)
    summary = {
        "xl_align": _f(xq.overall),
        "xl_align_answers": _f(xa.overall),
        "uniformity": _f(uni["pooled"]["uniform"]),
        "same_language_cosine": _f(clus["same_language"]),
        "cross_language_cosine": _f(clus["cross_language"]),
    }
    detail = {
        "xl_align_questions": {"labels": xq.labels, "matrix": _matrix(xq.matrix), "counts": xq.counts.tolist()},
        "xl_align_answers": {"labels": xa.labels, "matrix": _matrix(xa.matrix), "counts": xa.counts.tolist()},
        "uniformity": {"pooled": uni["pooled"], "per_language": uni["per_language"], "sample_size": SAMPLE,
                       "seed": SEED},
        "clustering": {k: (_f(v) if isinstance(v, float) else v) for k, v in clus.items()},
    }
    return {"summary": summary, "detail": detail, "xl_align_answers": xa}
