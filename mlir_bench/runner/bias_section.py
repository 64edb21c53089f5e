"""Language bias and embedding geometry for one run (docs/PROTOCOLS.md §3), composed from the scoring functions.

Computed in the Multi setting of any task whose queries are parallel (a ``groups`` column). Everything is
written into the result JSON with the k values and sample sizes used; two heatmaps are drawn beside it. The
per-query values of the query-level statistics (:func:`..scoring.bias_stats.per_query_statistics`) go into the per-query sidecar under
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
from ..scoring.bias_stats import (
    BIAS_VERSION,
    STATISTICS,
    BiasInputs,
    compute_all,
    definitions,
    per_query_statistics,
    statistic_of,
)
from ..search import SearchResult
from ..tasks import TaskData

SAMPLE = 2000  # queries + candidates subsampled for uniformity and clustering
SEED = 0


def _share_k() -> int:
    s = statistic_of("own_language_share@10")
    assert s is not None and s.ks
    return s.ks[0]


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
    out: dict[str, Any] = {"setting": "multi", "definitions": definitions(),
                           "k": {**{s.name: list(s.ks) for s in STATISTICS if s.ks}, "preference": _share_k()}}
    inputs = BiasInputs(rel_ranks=rel_ranks, rel_idx=rel_idx, top_idx=top, query_langs=qlangs, doc_langs=dlangs,
                        groups=groups, query_vectors=qv[qidx], doc_vectors=dv)
    values, per, summary = compute_all(inputs)
    pref_k = _share_k()
    pool = B.pool_language_shares(dlangs)
    summary["own_language_pool_share"] = _f(np.mean([pool[x] for x in sorted(set(qlangs.tolist()))]))
    out["preference"] = B.language_preference(top, dlangs, qlangs, pref_k)
    m, rows, cols = B.language_share_matrix(top, dlangs, qlangs, pref_k)
    out["share_matrix"] = {"k": pref_k, "rows": rows, "cols": cols, "matrix": _matrix(m)}
    figures: dict[str, str] = {}
    if figure_dir is not None:
        from ..results.figures import heatmap

        p = heatmap(m, rows, cols, f"{title}: share of top-{pref_k} by document language", figure_dir /
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
    out["version"] = BIAS_VERSION
    return out


def per_query_values(task: TaskData, cells: list[Any], values: dict[str, np.ndarray]) -> dict[str, Any]:
    """``{"bias/<setting>/<cell>": {"qids": [...], "groups": [...], stat: [value or None, ...]}}`` for the stats in
    ``values`` (``groups`` when the task's queries have groups).

    ``values`` holds one array per statistic over the concatenated queries of ``cells`` (in cell order); an
    undefined value (``nan``, e.g. the rank distance of a query with no relevant document) is ``None``.
    """
    out: dict[str, Any] = {}
    start = 0
    for c in cells:
        n = len(c.query_idx)
        entry: dict[str, Any] = {"qids": [task.queries.ids[i] for i in c.query_idx]}
        if task.queries.groups is not None:  # the unit of grouped paired tests
            entry["groups"] = [task.queries.groups[i] for i in c.query_idx]
        for name in per_query_statistics():
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
