"""Embedding-geometry scorers on tiny hand-computed cases (mlir_bench.scoring.geometry)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.spatial.distance import pdist

from mlir_bench.scoring import geometry as geo


def close(a: float | None, b: float) -> bool:
    return a is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def test_alignment_hand_computed() -> None:
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([[0.0, 1.0], [0.0, 1.0]])
    assert close(geo.alignment(x, y), 1.0)  # squared distances 2 and 0
    assert close(geo.alignment(np.array([[3.0, 0.0]]), np.array([[0.0, 2.0]])), 2.0)  # normalised first
    assert close(geo.alignment(x, x), 0.0)  # identical vectors
    assert math.isnan(geo.alignment(np.zeros((0, 2)), np.zeros((0, 2))))
    with pytest.raises(TypeError):
        geo.alignment(sp.csr_matrix(x), x)


def test_uniformity_hand_computed() -> None:
    # Points at 0°, 90°, 180°: squared distances 2, 4, 2.
    x = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    value, n = geo.uniformity(x)
    assert n == 3
    assert close(value, math.log((2 * math.exp(-4) + math.exp(-8)) / 3))
    same, _ = geo.uniformity(np.array([[1.0, 0.0], [1.0, 0.0]]))  # identical vectors: log e^0 = 0
    assert close(same, 0.0)
    single, n1 = geo.uniformity(x[:1])
    assert math.isnan(single) and n1 == 1


def test_uniformity_matches_pdist_and_is_deterministic() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 16))
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    value, n = geo.uniformity(x, sample_size=1000)
    assert n == 300
    assert math.isclose(value, math.log(np.mean(np.exp(-2 * pdist(xn, "sqeuclidean")))), rel_tol=1e-9)
    a, na = geo.uniformity(x, sample_size=100, seed=5)
    b, nb = geo.uniformity(x, sample_size=100, seed=5)
    c, _ = geo.uniformity(x, sample_size=100, seed=6)
    assert na == nb == 100 and a == b and a != c
    assert np.array_equal(geo.subsample(300, 100, 5), geo.subsample(300, 100, 5))
    assert np.array_equal(geo.subsample(50, 100, 5), np.arange(50))


def test_uniformity_by_language() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((30, 4))
    langs = np.array(["en"] * 20 + ["de"] * 9 + ["fr"])
    out = geo.uniformity_by_language(x, langs, sample_size=15, seed=2)
    assert out["pooled"]["n"] == 15 and out["sample_size"] == 15 and out["seed"] == 2
    assert close(out["pooled"]["uniform"], geo.uniformity(x, sample_size=15, seed=2)[0])
    assert close(out["per_language"]["en"]["uniform"], geo.uniformity(x[:20], sample_size=15, seed=2)[0])
    assert out["per_language"]["en"]["n"] == 15
    assert out["per_language"]["de"]["n"] == 9
    assert out["per_language"]["fr"] == {"uniform": None, "n": 1}  # a single vector: undefined


def test_uniformity_matrix() -> None:
    x = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    langs = np.array(["en", "en", "de"])
    out = geo.uniformity_matrix(x, langs)
    assert out.labels == ["de", "en"]
    assert math.isnan(out.matrix[0, 0]) and out.counts[0, 0] == 0  # one de vector: no distinct pair
    assert close(out.matrix[1, 1], -8.0)  # en pair at squared distance 4
    assert close(out.matrix[0, 1], -4.0) and close(out.matrix[1, 0], -4.0)  # cross pairs at distance 2
    assert out.counts[0, 1] == 2 and close(out.overall, -4.0)


def test_xl_alignment_matrix() -> None:
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [2.0, 0.0], [1.0, 0.0]])
    langs = np.array(["en", "de", "fr", "en", "de"])
    groups = np.array(["q1", "q1", "q1", "q2", "q2"])
    out = geo.xl_alignment(x, langs, groups)
    assert out.labels == ["de", "en", "fr"]
    de, en, fr = 0, 1, 2
    assert close(out.matrix[de, en], 1.0) and out.counts[de, en] == 2  # q1: 2, q2: 0
    assert close(out.matrix[en, fr], 0.0) and out.counts[en, fr] == 1  # only q1 has both
    assert close(out.matrix[de, fr], 2.0) and close(out.matrix[fr, de], 2.0)
    assert all(math.isnan(out.matrix[i, i]) for i in range(3))
    assert close(out.overall, 1.0)  # (2 + 0 + 2 + 0) / 4 pairs
    with pytest.raises(ValueError, match="same language"):
        geo.xl_alignment(x, np.array(["en"] * 5), groups)


def test_query_doc_alignment() -> None:
    queries = np.array([[1.0, 0.0], [0.0, 1.0]])
    docs = np.array([[1.0, 0.0], [0.0, 1.0]])
    out = geo.query_doc_alignment(
        queries, docs, np.array([[0, 1], [1, -1]]), np.array(["en", "en"]), np.array(["en", "de"]), chunk=1
    )
    assert close(out["same_language"], 0.0) and close(out["cross_language"], 1.0)  # (2 + 0) / 2
    assert close(out["all"], 2 / 3) and out["n_pairs"] == 3 and out["n_same"] == 1 and out["n_cross"] == 2


def test_language_clustering() -> None:
    x = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    out = geo.language_clustering(x, np.array(["en", "en", "de"]))
    assert close(out["same_language"], 1.0) and close(out["cross_language"], 0.0) and close(out["gap"], 1.0)
    assert out["n"] == 3 and out["n_same_pairs"] == 1 and out["n_cross_pairs"] == 2
    mono = geo.language_clustering(x, np.array(["en", "en", "en"]))
    assert mono["cross_language"] is None and mono["gap"] is None
