"""Metrics: hand-computed cases, and cross-checks against pytrec_eval and ranx on real runs (to 1e-6)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlir_bench.scoring.metrics import evaluate, parse
from mlir_bench.search import doc_id_order, exact_search, pad_relevant


def test_parse_round_trip():
    assert str(parse("nDCG@10")) == "ndcg@10"
    assert str(parse("r@1")) == "recall@1"
    assert str(parse("MAP")) == "map"
    for bad in ("ndcg@0", "ndcg@x", "foo", "p"):
        with pytest.raises(ValueError):
            parse(bad)


def test_hand_computed():
    # query 1: relevant at ranks 1 and 3 of 3 relevant; query 2: one relevant at rank 2; query 3: none found
    rr = np.array([[1, 3, 0], [2, 0, 0], [0, 0, 0]])
    n_rel = np.array([3, 1, 2])
    v = evaluate(rr, n_rel, ["map", "map@2", "recall@1", "recall@10", "ndcg@10", "mrr@10", "mrr@1", "p@2"])
    assert math.isclose(v["map"][0], (1 / 1 + 2 / 3) / 3)
    assert math.isclose(v["map@2"][0], 1 / 3)
    assert math.isclose(v["map"][1], 0.5)
    assert v["map"][2] == 0.0
    assert math.isclose(v["recall@1"][0], 1 / 3)
    assert math.isclose(v["recall@10"][0], 2 / 3)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert math.isclose(v["ndcg@10"][0], (1 + 1 / math.log2(4)) / idcg)
    assert math.isclose(v["ndcg@10"][1], 1 / math.log2(3))
    assert v["mrr@10"].tolist() == [1.0, 0.5, 0.0]
    assert v["mrr@1"].tolist() == [1.0, 0.0, 0.0]
    assert v["p@2"].tolist() == [0.5, 0.5, 0.0]


def test_no_relevant_is_nan():
    v = evaluate(np.array([[0]]), np.array([0]), ["map", "ndcg@10"])
    assert np.isnan(v["map"][0]) and np.isnan(v["ndcg@10"][0])


# ---- cross-check on real runs ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_cells(data_dir):
    """BM25 (real lexical scores, with many exact ties) on three XQuAD-R cells, ranked to full depth."""
    from mlir_bench.encoders.registry import load_encoder
    from mlir_bench.tasks import load_task

    task = load_task("xquad-r", data_dir=data_dir)
    enc = load_encoder("bm25")
    enc.fit(list(dict.fromkeys(task.docs.texts)))
    dv = enc.encode(task.docs.texts, "document")
    pos = {d: i for i, d in enumerate(task.docs.ids)}
    order = doc_id_order(task.docs.ids)
    out = []
    for key in ("mono/de", "cross/zh-en", "multi/th"):
        cell = next(c for c in task.cells if f"{c.setting}/{c.name}" == key)
        qidx = cell.query_idx[:100] if cell.setting == "multi" else cell.query_idx[:400]
        qv = enc.encode([task.queries.texts[i] for i in qidx], "query")
        rel = pad_relevant([[pos[d] for d in task.qrels[task.queries.ids[i]]] for i in qidx])
        res = exact_search(qv, dv, k=len(cell.doc_idx), relevant=rel, views={"v": cell.doc_idx},
                           doc_order=order)["v"]
        qids = [task.queries.ids[i] for i in qidx]
        run = {q: {task.docs.ids[d]: float(s) for d, s in zip(ti, ts, strict=True) if d >= 0}
               for q, ti, ts in zip(qids, res.top_idx, res.top_scores, strict=True)}
        in_cell = set(task.docs.ids[i] for i in cell.doc_idx)
        qrels = {q: {d: 1 for d in task.qrels[q] if d in in_cell} for q in qids}
        out.append((key, res, run, qrels))
    return out


def test_against_pytrec_eval(real_cells):
    pytrec_eval = pytest.importorskip("pytrec_eval")
    for key, res, run, qrels in real_cells:
        ours = evaluate(res.rel_ranks, res.n_rel, ["map", "recall@1", "recall@10", "recall@100", "ndcg@10",
                                                   "ndcg@20", "map@100"])
        ev = pytrec_eval.RelevanceEvaluator(qrels, {"map", "recall.1,10,100", "ndcg_cut.10,20", "map_cut.100"})
        ref = ev.evaluate(run)
        names = {"map": "map", "recall@1": "recall_1", "recall@10": "recall_10", "recall@100": "recall_100",
                 "ndcg@10": "ndcg_cut_10", "ndcg@20": "ndcg_cut_20", "map@100": "map_cut_100"}
        qids = list(run)
        for ours_name, trec_name in names.items():
            theirs = np.array([ref[q][trec_name] for q in qids])
            np.testing.assert_allclose(ours[ours_name], theirs, atol=1e-6, err_msg=f"{key} {ours_name}")


def test_against_ranx(real_cells):
    """ranx does not break score ties by docid as trec_eval does (BM25 has many exact ties, e.g. all zero-overlap
    candidates), so ranx gets our ranking as strictly decreasing scores: the same ranking, its own metric code."""
    ranx = pytest.importorskip("ranx")
    for key, res, raw_run, qrels in real_cells:
        run = {q: {d: float(len(docs) - i) for i, d in enumerate(docs)} for q, docs in raw_run.items()}
        ours = evaluate(res.rel_ranks, res.n_rel, ["map", "recall@10", "ndcg@10", "mrr@10", "hit@10"])
        qids = list(run)
        theirs = ranx.evaluate(ranx.Qrels(qrels), ranx.Run(run), ["map", "recall@10", "ndcg@10", "mrr@10",
                                                                  "hit_rate@10"], return_mean=False)
        for ours_name, ranx_name in (("map", "map"), ("recall@10", "recall@10"), ("ndcg@10", "ndcg@10"),
                                     ("mrr@10", "mrr@10"), ("hit@10", "hit_rate@10")):
            r = ranx.Run(run)  # ranx sorts query ids; align by its order
            order = {q: i for i, q in enumerate(r.keys())}
            vals = np.asarray(theirs[ranx_name])[[order[q] for q in qids]]
            np.testing.assert_allclose(ours[ours_name], vals, atol=1e-6, err_msg=f"{key} {ours_name}")
