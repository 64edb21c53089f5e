"""The one-pass search kernel (view atoms, histogram-guided top-k, rank histogram) against brute force.

Brute force: every score of every (query, document), sort keys (score desc, id desc: trec_eval's order), full
sort per view. Integer-valued vectors make many exact ties and keep BLAS rounding out of the comparison.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mlir_bench.search import exact_search, kernels
from mlir_bench.search.base import SearchResult
from mlir_bench.search.exact import _compact, _scores, keys_to_scores, sort_keys


def brute(q, d, k, rel, views, order) -> dict[str, SearchResult]:
    keys = sort_keys(_scores(q, d), order[None, :])
    nq, nd = keys.shape
    valid = rel >= 0
    rs = np.where(valid, rel, 0)
    rk = np.take_along_axis(keys, rs, axis=1)
    out = {}
    for name, v in views.items():
        m = np.zeros(nd, bool)
        m[v] = True
        vk, vi = keys[:, m], np.flatnonzero(m)
        o = np.argsort(vk, axis=1)[:, ::-1][:, :k]
        ti = np.full((nq, k), -1)
        ts = np.full((nq, k), -np.inf, np.float32)
        ti[:, :o.shape[1]] = vi[o]
        ts[:, :o.shape[1]] = keys_to_scores(np.take_along_axis(vk, o, axis=1))
        g = (vk[:, None, :] > rk[:, :, None]).sum(2)
        rsc = np.where(valid, keys_to_scores(rk), np.nan).astype(np.float32)
        ri, rr, rsc = _compact(valid & m[rs], rel, g + 1, rsc)
        out[name] = SearchResult(ti, ts, ri, rr, rsc, int(m.sum()))
    return out


CASES = [  # n_q, n_d, dim, n_views, k, memory budget (small = several document chunks), sparse
    (50, 300, 8, 3, 10, 1 << 28, False),
    (40, 5000, 4, 4, 20, 1 << 16, False),
    (40, 3000, 6, 2, 500, 1 << 15, False),
    (30, 200, 5, 5, 7, 1 << 28, True),
    (7, 50, 3, 6, 100, 1 << 28, False),
    (20, 2500, 4, 3, 15, 1 << 14, True),
]


@pytest.mark.parametrize("numba", [True, False])
@pytest.mark.parametrize("case", CASES)
def test_exact_search_equals_brute_force(case, numba, monkeypatch) -> None:
    if numba and not kernels.HAVE_NUMBA:
        pytest.skip("numba not installed")
    monkeypatch.setattr(kernels, "HAVE_NUMBA", numba)
    nq, nd, dim, nviews, k, budget, sparse = case
    rng = np.random.default_rng(nq * nd + k)
    q = np.round(rng.standard_normal((nq, dim))).astype(np.float32)  # integers: exact scores, many ties
    d = np.round(rng.standard_normal((nd, dim))).astype(np.float32)
    if sparse:
        q = sp.csr_matrix(np.where(rng.random(q.shape) < .4, q, 0))
        d = sp.csr_matrix(np.where(rng.random(d.shape) < .4, d, 0))
    views = {f"v{i}": np.sort(rng.choice(nd, size=int(rng.integers(0, nd + 1)), replace=False))
             for i in range(nviews)}
    views["all"] = np.arange(nd)
    rel = np.full((nq, 4), -1)
    for i in range(nq):
        r = rng.choice(nd, size=int(rng.integers(0, 5)), replace=False)
        rel[i, :len(r)] = r
    order = rng.permutation(nd).astype(np.uint64)
    want = brute(q, d, k, rel, views, order)
    got = exact_search(q, d, k=k, relevant=rel, views=views, doc_order=order, memory_budget=budget)
    for name in views:
        for f in ("top_idx", "top_scores", "rel_idx", "rel_ranks", "rel_scores"):
            np.testing.assert_array_equal(getattr(got[name], f), getattr(want[name], f), err_msg=f"{name} {f}")
        assert got[name].n_docs == want[name].n_docs
