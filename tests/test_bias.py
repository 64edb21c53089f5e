"""Language-bias scorers on tiny hand-computed cases (mlir_bench.scoring.bias)."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import kruskal, spearmanr

from mlir_bench.scoring import bias


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


# ---------------------------------------------------------------------------------------------- summary


def test_summarize_by_language_skips_and_counts_undefined() -> None:
    values = np.array([1.0, 3.0, np.nan, 5.0, np.nan])
    langs = np.array(["en", "en", "en", "de", "fr"])
    s = bias.summarize_by_language(values, langs)
    assert s["per_language"] == {"de": 5.0, "en": 2.0, "fr": None}
    assert close(s["macro"], 3.5)  # fr has no defined query: left out of the macro-average
    assert close(s["micro"], 3.0)
    assert s["n_queries"] == 5 and s["n_undefined"] == 2
    assert s["n_undefined_per_language"] == {"de": 0, "en": 1, "fr": 1}


def test_summarize_all_undefined() -> None:
    s = bias.summarize_by_language(np.array([np.nan]), np.array(["en"]))
    assert s["macro"] is None and s["micro"] is None and s["n_undefined"] == 1


# ---------------------------------------------------------------------------------------------- rank distance


def test_rank_distance() -> None:
    rel_ranks = np.array([[3, 10, 5], [7, 0, 0], [0, 0, 0], [4, 4, 0]])
    rel_idx = np.array([[0, 1, 2], [3, -1, -1], [-1, -1, -1], [5, 6, -1]])
    rd = bias.rank_distance(rel_ranks, rel_idx)
    assert rd[0] == 7.0  # max 10 − min 3
    assert rd[1] == 0.0  # a single relevant document
    assert math.isnan(rd[2])  # no relevant document: undefined
    assert rd[3] == 0.0  # identical ranks


# ---------------------------------------------------------------------------------------------- TLR@k

DOC_LANGS = np.array(["en", "de", "fr", "en", "de", "fr"])


def test_target_language_recall() -> None:
    rel_idx = np.array([[0, 1, 2], [1, -1, -1], [4, 5, -1], [0, 3, -1]])
    rel_ranks = np.array([[1, 3, 50], [2, 0, 0], [11, 10, 0], [1, 2, 0]])
    query_langs = np.array(["en", "de", "en", "en"])
    tlr = bias.target_language_recall(rel_ranks, rel_idx, DOC_LANGS, query_langs, k=10)
    assert close(tlr[0], 0.5)  # de at 3 is in, fr at 50 is outside the top 10; the en document does not count
    assert math.isnan(tlr[1])  # only a same-language relevant document
    assert close(tlr[2], 0.5)  # rank 10 is inside, rank 11 outside
    assert math.isnan(tlr[3])  # both relevant documents in the query's language


# ---------------------------------------------------------------------------------------------- PEER@k


def _peer_one(ranks_by_lang: list[tuple[str, int]], k: int) -> float:
    """PEER@k of one query whose relevant documents are (language, rank) pairs."""
    langs = np.array([lang for lang, _ in ranks_by_lang])
    rel_ranks = np.array([[r for _, r in ranks_by_lang]])
    rel_idx = np.arange(len(ranks_by_lang))[None, :]
    return float(bias.peer(rel_ranks, rel_idx, langs, k)[0])


def test_peer_hand_computed() -> None:
    # Ranks 1, 2, 3 in three groups of one: H = 1+4+9 − 12 = 2, p = χ²₂ sf(2) = e^{−1}.
    assert close(_peer_one([("en", 1), ("de", 2), ("fr", 200)], k=20), math.exp(-1))
    # Ties from the cut-off: 1, 21, 21 → average ranks 1, 2.5, 2.5; H = 1.5 / (1 − 6/24) = 2.
    assert close(_peer_one([("en", 1), ("de", 30), ("fr", 40)], k=20), math.exp(-1))
    # Two groups of two: R = 3, 7; H = 12/20 · 29 − 15 = 2.4; χ²₁ sf(x) = erfc(√(x/2)).
    assert close(_peer_one([("en", 1), ("en", 2), ("de", 3), ("de", 4)], k=20), math.erfc(math.sqrt(1.2)))


def test_peer_edge_cases() -> None:
    assert _peer_one([("en", 30), ("de", 40), ("fr", 50)], k=20) == 1.0  # none in the top k: all k+1
    assert _peer_one([("en", 5), ("de", 5)], k=20) == 1.0  # identical ranks
    assert math.isnan(_peer_one([("en", 1), ("en", 9)], k=20))  # a single language group: undefined
    assert math.isnan(_peer_one([("en", 1)], k=20))


def test_peer_padding_and_no_relevant() -> None:
    doc_langs = np.array(["en", "de", "fr"])
    rel_idx = np.array([[0, 1, 2, -1], [-1, -1, -1, -1]])
    rel_ranks = np.array([[1, 2, 200, 0], [0, 0, 0, 0]])
    p = bias.peer(rel_ranks, rel_idx, doc_langs, k=20)
    assert close(p[0], math.exp(-1)) and math.isnan(p[1])


def test_peer_matches_scipy_kruskal() -> None:
    rng = np.random.default_rng(1)
    n_docs, k = 40, 10
    doc_langs = rng.choice(np.array(["a", "b", "c"]), n_docs)
    rel_idx = np.stack([rng.choice(n_docs, 7, replace=False) for _ in range(200)])
    rel_ranks = rng.integers(1, 25, rel_idx.shape)
    rel_idx[::3, 5:] = -1
    rel_ranks[::3, 5:] = 0
    got = bias.peer(rel_ranks, rel_idx, doc_langs, k)
    for q in range(len(rel_idx)):
        groups = defaultdict(list)
        for d, r in zip(rel_idx[q], rel_ranks[q], strict=True):
            if d >= 0:
                groups[doc_langs[d]].append(min(r, k + 1))
        values = [v for g in groups.values() for v in g]
        if len(groups) < 2:
            assert math.isnan(got[q])
        elif len(set(values)) == 1:
            assert got[q] == 1.0
        else:
            assert math.isclose(got[q], kruskal(*groups.values()).pvalue, rel_tol=1e-9)


# ---------------------------------------------------------------------------------------------- language preference

PREF_DOCS = np.array(["en", "en", "de", "fr"])
PREF_TOP = np.array([[0, 2, 1, -1], [3, 1, 0, 2], [-1, -1, -1, -1]])
PREF_QLANGS = np.array(["en", "de", "en"])


def test_own_language_share_with_padding() -> None:
    share = bias.own_language_share(PREF_TOP, PREF_DOCS, PREF_QLANGS, k=4)
    assert close(share[0], 2 / 3)  # padding is not counted
    assert close(share[1], 0.25)
    assert math.isnan(share[2])  # empty top list
    assert close(bias.own_language_share(PREF_TOP, PREF_DOCS, PREF_QLANGS, k=2)[0], 0.5)


def test_language_preference_and_pool_share() -> None:
    assert bias.pool_language_shares(PREF_DOCS) == {"de": 0.25, "en": 0.5, "fr": 0.25}
    assert bias.pool_language_shares(PREF_DOCS, view=np.array([0, 2])) == {"de": 0.5, "en": 0.5}
    pref = bias.language_preference(PREF_TOP, PREF_DOCS, PREF_QLANGS, k=4)
    assert close(pref["en"]["top_k_share"], 2 / 3) and pref["en"]["pool_share"] == 0.5
    assert close(pref["en"]["ratio"], 4 / 3)
    assert close(pref["de"]["top_k_share"], 0.25) and close(pref["de"]["ratio"], 1.0)


def test_language_share_matrix() -> None:
    m, rows, cols = bias.language_share_matrix(PREF_TOP, PREF_DOCS, PREF_QLANGS, k=4)
    assert rows == ["de", "en"] and cols == ["de", "en", "fr"]
    np.testing.assert_allclose(m, [[0.25, 0.5, 0.25], [1 / 3, 2 / 3, 0.0]])
    np.testing.assert_allclose(m.sum(axis=1), 1.0)
    with pytest.raises(ValueError):
        bias.language_share_matrix(PREF_TOP, PREF_DOCS, PREF_QLANGS, k=5)


# ---------------------------------------------------------------------------------------------- MRC@k


def test_masked_spearman_ties_and_constants() -> None:
    a = np.array([[1.0, 2, 2, 3, 9], [1, 1, 1, 1, 0], [1, 2, 3, 4, 0]])
    b = np.array([[1.0, 3, 2, 2, 9], [4, 3, 2, 1, 0], [2, 4, 6, 8, 0]])
    valid = np.array([[1, 1, 1, 1, 0], [1, 1, 1, 1, 0], [1, 1, 1, 1, 0]], dtype=bool)
    r = bias.masked_spearman(a, b, valid)
    # Average ranks a: 1, 2.5, 2.5, 4; b: 1, 4, 2.5, 2.5 → ρ = 2.25 / 4.5.
    assert close(r[0], 0.5) and close(r[0], spearmanr(a[0, :4], b[0, :4]).statistic)
    assert math.isnan(r[1])  # constant input: undefined, as scipy
    assert close(r[2], 1.0)  # identical ranks
    assert math.isnan(bias.masked_spearman(a[:1], b[:1], np.array([[1, 0, 0, 0, 0]], dtype=bool))[0])


# Docs in 2-D so that s(q, d) reads off a coordinate: q_en = e1, q_de = e2, q_fr = (1, 1).
MRC_DOCS = np.array([[0.9, 0.1], [0.8, 0.95], [0.1, 0.9], [0.5, 0.8], [0.0, 0.0]])
MRC_QUERIES = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
MRC_LANGS = np.array(["en", "de", "fr"])


def _top(queries: np.ndarray, docs: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(queries @ docs.T), axis=1, kind="stable")[:, :k]


def test_rank_correlation_hand_computed() -> None:
    top = _top(MRC_QUERIES, MRC_DOCS, 2)
    assert top.tolist() == [[0, 1], [1, 2], [1, 3]]
    rc = bias.rank_correlation(MRC_QUERIES, MRC_DOCS, top, MRC_LANGS, np.array([7, 7, 7]), k=2)
    # en–de on {0,1,2}: ranks (3,2,1) vs (1,3,2) → ρ = −0.5; en–fr on {0,1,3}: −0.5; de–fr on {1,2,3}: +0.5.
    np.testing.assert_allclose(rc, [-50.0, 0.0, 0.0], atol=1e-9)


def test_rank_correlation_sparse_equals_dense() -> None:
    top = _top(MRC_QUERIES, MRC_DOCS, 2)
    groups = np.array([7, 7, 7])
    dense = bias.rank_correlation(MRC_QUERIES, MRC_DOCS, top, MRC_LANGS, groups, k=2)
    for q, d in [
        (sp.csr_matrix(MRC_QUERIES), sp.csr_matrix(MRC_DOCS)),
        (MRC_QUERIES, sp.csr_array(MRC_DOCS)),
    ]:
        np.testing.assert_allclose(bias.rank_correlation(q, d, top, MRC_LANGS, groups, k=2), dense)


def test_rank_correlation_edge_cases() -> None:
    queries = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    langs = np.array(["en", "de", "fr", "en", "de"])
    groups = np.array([1, 1, 1, 2, 3])  # groups 2 and 3 hold one query each
    top = _top(queries, MRC_DOCS, 3)
    top[4, 1:] = -1  # padding
    rc = bias.rank_correlation(queries, MRC_DOCS, top, langs, groups, k=3)
    # en and de rank identically (ρ = 1); fr scores every document 0, so its pairs are undefined and skipped.
    assert close(rc[0], 100.0) and close(rc[1], 100.0)
    assert math.isnan(rc[2])  # all of its pairs undefined
    assert math.isnan(rc[3]) and math.isnan(rc[4])  # alone in its group
    with pytest.raises(ValueError, match="same language"):
        bias.rank_correlation(queries, MRC_DOCS, top, np.array(["en"] * 5), np.ones(5), k=3)
    with pytest.raises(ValueError, match="exceeds"):
        bias.rank_correlation(queries, MRC_DOCS, top, langs, groups, k=4)


def _mimo_reference(
    queries: np.ndarray, docs: np.ndarray, top: np.ndarray, groups: np.ndarray, k: int
) -> list:
    """MIMO's loop: per group, per ordered pair, Spearman on the union of the top-k sets; nan pairs skipped."""
    scores = queries @ docs.T
    out = [math.nan] * len(queries)
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        for a in members:
            corrs = []
            for b in members:
                if a == b:
                    continue
                union = sorted(set(top[a, :k].tolist()) | set(top[b, :k].tolist()))
                if len(union) < 2:
                    continue
                rho = spearmanr(scores[a, union], scores[b, union]).statistic
                if not math.isnan(rho):
                    corrs.append(rho)
            if corrs:
                out[a] = 100 * float(np.mean(corrs))
    return out


def test_rank_correlation_matches_mimo_loop() -> None:
    rng = np.random.default_rng(3)
    n_groups, langs = 12, np.array(["ar", "de", "en", "zh"])
    queries = rng.standard_normal((n_groups * 4, 8))
    docs = rng.standard_normal((60, 8))
    docs[5] = docs[6]  # a tie between two documents
    query_langs = np.tile(langs, n_groups)
    groups = np.repeat(np.arange(n_groups), 4)
    top = _top(queries, docs, 10)
    got = bias.rank_correlation_at(queries, docs, top, query_langs, groups, ks=(3, 10))
    for k in (3, 10):
        np.testing.assert_allclose(got[k], _mimo_reference(queries, docs, top, groups, k), rtol=1e-9)
    sparse_docs = sp.csr_matrix(np.where(np.abs(docs) > 0.5, docs, 0.0))
    dense = bias.rank_correlation(queries, sparse_docs.toarray(), top, query_langs, groups, k=5)
    np.testing.assert_allclose(
        bias.rank_correlation(queries, sparse_docs, top, query_langs, groups, k=5), dense
    )
