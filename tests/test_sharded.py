"""Shard stores and streaming search: identical to exact search (ties included), resumable, checksummed; faiss
recall against exact; the runner's sharded path gives the in-memory path's scores."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from mlir_bench.encoders.base import ModelMeta
from mlir_bench.errors import DataError
from mlir_bench.runner import RunConfig, run_evaluation
from mlir_bench.search import doc_id_order, exact_search, pad_relevant
from mlir_bench.search.faiss_index import build_index, recall_at_k
from mlir_bench.search.sharded import (
    MANIFEST,
    ShardedStore,
    ShardWriter,
    encode_to_shards,
    sharded_search,
    write_store,
)

sys.path.insert(0, str(Path(__file__).parent))
from fake_encoder import exact_hash_vectors  # noqa: E402

FIELDS = ("top_idx", "top_scores", "rel_idx", "rel_ranks", "rel_scores", "n_docs")


def _data(n: int = 603, d: int = 12, nq: int = 29, seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    docs = rng.integers(-2, 3, (n, d)).astype(np.float32)  # small integers: exact dot products, many ties
    qs = rng.integers(-2, 3, (nq, d)).astype(np.float32)
    ids = [f"{rng.integers(0, 10**6)}#{i}" for i in range(n)]
    rel = pad_relevant([list(rng.choice(n, rng.integers(0, 6), replace=False)) for _ in range(nq)])
    return docs, qs, ids, rel


@pytest.mark.parametrize(("shard_size", "budget"), [(100, 12 * 100 * 10), (603, 2**28), (250, 2**28)])
def test_sharded_equals_exact(tmp_path: Path, shard_size: int, budget: int) -> None:
    docs, qs, ids, rel = _data()
    views = {"all": np.arange(len(ids)), "odd": np.arange(1, len(ids), 2), "head": np.arange(0, 150)}
    want = exact_search(qs, docs, k=30, relevant=rel, views=views, doc_order=doc_id_order(ids))
    store = write_store(tmp_path / "s", ids, docs, shard_size=shard_size)
    got = sharded_search(qs, store, k=30, relevant=rel, views=views, memory_budget=budget)
    for v in views:
        for f in FIELDS:
            assert np.array_equal(getattr(want[v], f), getattr(got[v], f), equal_nan=True), (v, f)


def test_view_smaller_than_k_is_padded(tmp_path: Path) -> None:
    docs, qs, ids, rel = _data(n=60)
    store = write_store(tmp_path / "s", ids, docs, shard_size=7)
    got = sharded_search(qs, store, k=20, relevant=rel, views={"few": np.arange(5)})["few"]
    assert (got.top_idx[:, 5:] == -1).all() and np.isneginf(got.top_scores[:, 5:]).all()


def test_store_files_manifest_and_float16(tmp_path: Path) -> None:
    docs, _, ids, _ = _data(n=250)
    store = write_store(tmp_path / "s", ids, docs, shard_size=100, dtype="float16", meta={"model": "m"})
    m = json.loads((tmp_path / "s" / MANIFEST).read_text())
    assert m["complete"] and m["rows"] == 250 and [s["rows"] for s in m["shards"]] == [100, 100, 50]
    assert set(m["shards"][0]["sha256"]) == {"vec", "ids", "order"}
    assert store.ids() == ids and store.dtype == "float16"
    np.testing.assert_array_equal(store.vectors(np.array([249, 3])), docs[[249, 3]])  # small ints: exact in fp16
    ShardedStore.open(tmp_path / "s", verify=True)
    with open(tmp_path / "s" / "shard-00001.vec.npy", "r+b") as fh:
        fh.seek(-4, 2)
        fh.write(b"\x00\x00\x80\x7f")
    with pytest.raises(DataError, match=r"shard-00001\.vec\.npy.*sha256"):
        ShardedStore.open(tmp_path / "s", verify=True)


def test_writer_resumes_after_interruption(tmp_path: Path) -> None:
    docs, _, ids, _ = _data(n=250)
    meta = {"model": "m", "rows": 250}  # encode_to_shards adds the row count to the caller's meta
    w = ShardWriter(tmp_path / "s", docs.shape[1], shard_size=100, meta=meta)
    w.add(ids[:180], docs[:180])  # one shard written, 80 rows buffered: then the process dies
    del w
    with pytest.raises(DataError, match="holds other vectors"):
        ShardWriter(tmp_path / "s", docs.shape[1], shard_size=100, meta={**meta, "model": "other"})
    calls: list[int] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return docs[[int(t) for t in texts]]

    store, info = encode_to_shards(encode, ids, [str(i) for i in range(250)], tmp_path / "s", dim=docs.shape[1],
                                   shard_size=100, meta={"model": "m"})
    assert calls == [100, 50] and info["reused_rows"] == 100 and store.n == 250
    np.testing.assert_array_equal(store.vectors(np.arange(250)), docs)
    again, info = encode_to_shards(encode, ids, [str(i) for i in range(250)], tmp_path / "s", dim=docs.shape[1],
                                   shard_size=100, meta={"model": "m"})
    assert calls == [100, 50] and info["encoded_rows"] == 0 and again.n == 250  # a complete store is reused
    ShardWriter(tmp_path / "t", 4, shard_size=10).add([f"a{i}" for i in range(12)], np.zeros((12, 4)))
    with pytest.raises(DataError, match="incomplete"):
        ShardedStore.open(tmp_path / "t")
    with pytest.raises(DataError, match="no shard store"):
        ShardedStore.open(tmp_path / "nothing")


def test_recall_at_k_and_faiss_indexes(tmp_path: Path) -> None:
    assert np.allclose(recall_at_k(np.array([[1, 2, 3], [4, -1, -1]]), np.array([[3, 2, 9], [4, -1, -1]]), 3),
                       [2 / 3, 1.0])
    rng = np.random.default_rng(3)
    centers = rng.standard_normal((20, 32)).astype(np.float32)
    docs = centers[rng.integers(0, 20, 4000)] + 0.1 * rng.standard_normal((4000, 32)).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    qs = docs[rng.choice(4000, 50, replace=False)] + 0.05 * rng.standard_normal((50, 32)).astype(np.float32)
    store = write_store(tmp_path / "s", [f"d{i}" for i in range(4000)], docs, shard_size=1000)
    exact = sharded_search(qs, store, k=10)["all"].top_idx
    for kind in ("hnsw", "ivf"):
        index = build_index(store, kind, nlist=20 if kind == "ivf" else None, nprobe=5, threads=1)
        _, approx = index.search(qs, 10)
        assert np.nanmean(recall_at_k(approx, exact, 10)) > 0.8, kind


class HashEncoder:
    """A deterministic dense encoder (hashed words), enough to exercise the runner."""

    def __init__(self) -> None:
        self.meta = ModelMeta(name="hash-bow", revision="1", dim=32, prompts={}, pooling="none", max_length=None,
                              normalize=True, dtype="float32", similarity="cosine", languages=None, source="test",
                              reference="")

    def encode(self, texts, role, *, batch_size=None, progress=None):  # type: ignore[no-untyped-def]
        # exact vectors: the whole-pool and the per-shard matrix products give bit-identical scores on any CPU
        # (a plain normalised count vector does not: BLAS rounds differently by block, and ties flip)
        if progress:
            progress(len(texts))
        return exact_hash_vectors(texts, 32, words=10**6)


def test_runner_sharded_path_gives_the_same_scores(tmp_path: Path, data_dir: Path) -> None:
    results = []
    fast = {"bias": False} if "bias" in RunConfig.__dataclass_fields__ else {}
    for shard_size in (None, 97):
        cfg = RunConfig(model="hash", task="xquad-mmlir", data_dir=data_dir, output_dir=tmp_path / f"o{shard_size}",
                        runs_dir=None, languages=["de", "en"], encoder_factory=lambda n: HashEncoder(),
                        shard_size=shard_size, shards_dir=tmp_path / "shards", ann="hnsw" if shard_size else None,
                        **fast)
        results.append(run_evaluation(cfg).to_json())
    plain, sharded = results
    assert json.dumps(plain["cells"]) == json.dumps(sharded["cells"])
    pool = sharded["pool"]
    assert pool["sharded"] and pool["shards"] == 5 and pool["rows"] == 480
    assert pool["ann"]["kind"] == "hnsw" and pool["ann"]["mean_recall@100_vs_exact"] > 0.9
    assert "pool" not in plain
