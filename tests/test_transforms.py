"""Offset transforms: hand-computed cases for every method, the syntax, and the runner's use of cached vectors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _data import DATA, needs_data  # noqa: E402
from fake_encoder import FakeEncoder  # noqa: E402

from mlir_bench.errors import DataError, UserError  # noqa: E402
from mlir_bench.runner import RunConfig, run_evaluation  # noqa: E402
from mlir_bench.transforms import Estimation, fit, parse_transform, split_model  # noqa: E402

S = 1 / np.sqrt(2)


def _est(rows: dict[str, list[tuple[str, list[float], str]]]) -> Estimation:
    """``{role: [(lang, vector, group), ...]}`` as an Estimation."""
    return Estimation({r: np.array([v for _, v, _ in rs], dtype=np.float32) for r, rs in rows.items()},
                      {r: np.array([lg for lg, _, _ in rs]) for r, rs in rows.items()},
                      {r: np.array([g for _, _, g in rs]) for r, rs in rows.items()})


LANGS = {"query": {"de", "en"}, "document": {"de", "en"}}


# ---------------------------------------------------------------------------------------------- methods by hand


def test_center_subtracts_the_language_mean_of_the_role_then_renormalises() -> None:
    est = _est({"query": [("de", [1, 0], "1"), ("de", [0, 1], "2"), ("en", [0, 1], "1")],
                "document": [("de", [1, 0], "1"), ("en", [1, 0], "1")]})
    t = fit("center", None, est, LANGS, source="test")
    # query mean de = (.5, .5): (1, 0) -> (.5, -.5) -> (S, -S); en mean (0, 1): (1, 1)/√2 -> (S, S - 1) normalised
    out = t.apply(np.array([[1, 0], [S, S]], dtype=np.float32), ["de", "en"], "query")
    assert np.allclose(out[0], [S, -S], atol=1e-6)
    v = np.array([S, S - 1]) / np.linalg.norm([S, S - 1])
    assert np.allclose(out[1], v, atol=1e-6)
    # document role uses the document means: de mean (1, 0): (S, S) -> (S - 1, S) normalised
    d = t.apply(np.array([[S, S]], dtype=np.float32), ["de"], "document")
    assert np.allclose(d[0], np.array([S - 1, S]) / np.linalg.norm([S - 1, S]), atol=1e-6)


def test_shift_moves_documents_by_the_language_minus_english_mean() -> None:
    est = _est({"document": [("de", [1, 0], "1"), ("de", [1, 0], "2"), ("en", [0, 1], "1")]})
    t = fit("shift", "docs", est, LANGS, source="test")
    # delta de = (1, 0) - (0, 1) = (1, -1): (1, 0) -> (0, 1); English unchanged; queries unchanged
    out = t.apply(np.array([[1, 0], [S, S]], dtype=np.float32), ["de", "en"], "document")
    assert np.allclose(out, [[0, 1], [S, S]], atol=1e-6)
    q = np.array([[1, 0]], dtype=np.float32)
    assert np.array_equal(t.apply(q, ["de"], "query"), q)


def test_shift_both_needs_english_in_both_roles() -> None:
    est = _est({"query": [("de", [1, 0], "1")], "document": [("de", [1, 0], "1"), ("en", [0, 1], "1")]})
    with pytest.raises(UserError, match="no estimation text in test for language\\(s\\) en"):
        fit("shift", "both", est, LANGS, source="test")


def test_lir_removes_the_top_singular_directions_of_each_language() -> None:
    # de estimation vectors all along e1: the top left singular vector of the (d x n) matrix is ±e1
    est = _est({"query": [("de", [1, 0, 0], "1"), ("de", [2, 0, 0], "2"), ("en", [0, 0, 1], "1")]})
    t = fit("lir", "1", est, {"query": {"de", "en"}, "document": {"de"}}, source="test")
    x = np.array([[0.6, 0.8, 0], [0.6, 0, 0.8]], dtype=np.float32)
    out = t.apply(x, ["de", "en"], "document")
    assert np.allclose(out, [[0, 1, 0], [1, 0, 0]], atol=1e-6)  # de loses e1; en loses e3
    # K = 2 on a language whose estimation spans e1 and e2 leaves only e3
    est2 = _est({"query": [("de", [1, 0, 0], "1"), ("de", [0, 1, 0], "2"), ("en", [0, 0, 1], "3")]})
    t2 = fit("lir", "2", est2, {"query": {"de"}, "document": set()}, source="test")
    assert np.allclose(t2.apply(np.array([[0.6, 0, 0.8]], dtype=np.float32), ["de"], "query"), [[0, 0, 1]])


def test_lir_needs_at_least_k_texts() -> None:
    est = _est({"query": [("de", [1, 0], "1")]})
    with pytest.raises(UserError, match="fewer than the 2 directions"):
        fit("lir", "2", est, {"query": {"de"}, "document": set()}, source="test")


def test_procrustes_maps_a_rotated_language_onto_english() -> None:
    rot = np.array([[0, -1], [1, 0]], dtype=np.float64)  # de = en rotated by 90 degrees
    en = np.array([[1, 0], [S, S], [0, 1]])
    de = en @ rot
    rows = [("en", list(v), str(i)) for i, v in enumerate(en)] + [("de", list(v), str(i)) for i, v in enumerate(de)]
    t = fit("procrustes", None, _est({"query": rows, "document": rows}), LANGS, source="test")
    assert np.allclose(t.maps["query"]["de"], rot.T, atol=1e-6)
    out = t.apply(de.astype(np.float32), ["de"] * 3, "document")
    assert np.allclose(out, en, atol=1e-6)
    assert np.allclose(t.apply(en.astype(np.float32), ["en"] * 3, "query"), en, atol=1e-6)


def test_a_language_without_estimation_text_is_an_error_or_skipped() -> None:
    est = _est({"query": [("en", [1, 0], "1")], "document": [("en", [1, 0], "1")]})
    with pytest.raises(UserError, match="language\\(s\\) de.*skip-missing"):
        fit("center", None, est, LANGS, source="ntrex")
    t = fit("center", None, est, LANGS, source="ntrex", skip_missing=True)
    assert t.skipped == ["de"]
    x = np.array([[S, S]], dtype=np.float32)
    assert np.allclose(t.apply(x, ["de"], "query"), x)


# ---------------------------------------------------------------------------------------------- syntax


@pytest.mark.parametrize(("text", "name", "transductive"), [
    ("center", "center:ntrex", False),
    ("center:pool", "center:pool", True),
    ("shift:ntrex", "shift:ntrex", False),
    ("shift:both:tatoeba", "shift:both:tatoeba", False),
    ("lir:02:ntrex", "lir:2:ntrex", False),
    ("procrustes:ntrex:skip-missing", "procrustes:ntrex:skip-missing", False),
])
def test_canonical_names(text: str, name: str, transductive: bool) -> None:
    spec = parse_transform(text)
    assert spec.name == name and spec.transductive is transductive


@pytest.mark.parametrize(("text", "fragment"), [
    ("lir:ntrex", "lir needs the number of directions"),
    ("lir:0:ntrex", "lir needs"),
    ("procrustes:pool", "procrustes needs parallel pairs"),
    ("center:wikipedia", "unknown estimation source 'wikipedia'"),
    ("center:/no/such/file.jsonl", "cannot read"),
])
def test_bad_transforms_are_one_line_errors(text: str, fragment: str) -> None:
    with pytest.raises(UserError, match=None) as err:
        parse_transform(text)
    assert fragment in str(err.value)


def test_split_model_keeps_plus_signs_of_model_names() -> None:
    assert split_model("me5-small") == ("me5-small", None)
    assert split_model("models/a+b") == ("models/a+b", None)
    base, spec = split_model("models/a+b+lir:4:pool")
    assert base == "models/a+b" and spec is not None and spec.name == "lir:4:pool"
    with pytest.raises(UserError, match="needs a model"):
        split_model("+center")


def test_a_file_source_is_named_by_its_content(tmp_path: Path) -> None:
    f = tmp_path / "est.jsonl"
    f.write_text('{"lang": "de", "text": "Hallo", "group": "1"}\n', encoding="utf-8")
    spec = parse_transform(f"center:{f}")
    assert spec.source == "file" and spec.name.startswith("center:file-") and str(tmp_path) not in spec.name


# ---------------------------------------------------------------------------------------------- runs

needs_xquad = needs_data("xquad-r/de.json", "xquad-r/en.json", "ntrex-128")


class CountingEncoder(FakeEncoder):
    """The fake model, counting how many texts it was asked to encode per role."""

    calls: dict[str, int] = {"query": 0, "document": 0}

    def encode(self, texts, role, **kw):  # type: ignore[no-untyped-def]
        CountingEncoder.calls[role] += len(texts)
        return super().encode(texts, role, **kw)


def _cfg(tmp_path: Path, model: str, cache) -> RunConfig:  # type: ignore[no-untyped-def]
    return RunConfig(model=model, task="xquad-r", data_dir=DATA, output_dir=tmp_path / "out", runs_dir=None,
                     languages=["de", "en"], bias=True, cache=cache,
                     encoder_factory=lambda _name: CountingEncoder())


@needs_xquad
def test_a_transform_reuses_the_cached_vectors_of_the_pool(tmp_path: Path) -> None:
    from mlir_bench.embedding.cache import EmbeddingCache

    cache = EmbeddingCache(tmp_path / "cache")
    CountingEncoder.calls = {"query": 0, "document": 0}
    base = run_evaluation(_cfg(tmp_path, "fake-ok", cache))
    n_q, n_d = base.manifest.model_extra["encoded"]["query"]["unique"], base.manifest.model_extra["encoded"]["document"]["unique"]
    assert CountingEncoder.calls == {"query": n_q, "document": n_d}
    # transductive: nothing encoded at all
    CountingEncoder.calls = {"query": 0, "document": 0}
    pool = run_evaluation(_cfg(tmp_path, "fake-ok+center:pool", cache))
    assert CountingEncoder.calls == {"query": 0, "document": 0}
    assert pool.transform is not None and pool.transform.transductive and pool.model.name == "fake-ok+center:pool"
    assert pool.identity.transform == "center:pool" and pool.identity.model.name == "fake-ok"
    assert (tmp_path / "out" / "xquad-r__fake-ok__sentence__de-en__center_pool.json").exists()
    # NTREX: only the estimation texts are encoded (both roles for center), once
    CountingEncoder.calls = {"query": 0, "document": 0}
    nt = run_evaluation(_cfg(tmp_path, "fake-ok+center:ntrex", cache))
    texts = nt.transform.estimation["texts"]
    assert texts == 2 * 1997 and CountingEncoder.calls["query"] <= texts and CountingEncoder.calls["document"] <= texts
    assert not nt.transform.transductive and set(nt.identity.transform_data_sha256) >= {"ntrex-128/DOCUMENT_IDS.tsv"}
    CountingEncoder.calls = {"query": 0, "document": 0}
    run_evaluation(_cfg(tmp_path, "fake-ok+lir:2:ntrex", cache))
    assert CountingEncoder.calls == {"query": 0, "document": 0}  # the estimation vectors are cached too
    # the transform changed the vectors: the Multi scores differ from the base model's
    assert pool.score("multi", "map") != base.score("multi", "map")


@needs_xquad
def test_a_jsonl_estimation_file_and_its_errors(tmp_path: Path) -> None:
    good = tmp_path / "est.jsonl"
    good.write_text("".join(json.dumps({"lang": lg, "text": f"{lg} text {i}", "group": str(i)}) + "\n"
                            for i in range(5) for lg in ("de", "en")), encoding="utf-8")
    r = run_evaluation(_cfg(tmp_path, f"fake-ok+procrustes:{good}", None))
    assert r.transform is not None and r.transform.source == "file"
    assert r.identity.transform_data_sha256 == {"est.jsonl": r.identity.transform_data_sha256["est.jsonl"]}
    en_only = tmp_path / "en.jsonl"
    en_only.write_text('{"lang": "en", "text": "x", "group": "1"}\n', encoding="utf-8")
    with pytest.raises(UserError, match="language\\(s\\) de"):
        run_evaluation(_cfg(tmp_path, f"fake-ok+center:{en_only}", None))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"lang": "de", "text": "x"}\n{"lang": 3}\n', encoding="utf-8")
    with pytest.raises(DataError, match="line 2"):
        run_evaluation(_cfg(tmp_path, f"fake-ok+center:{bad}", None))


@needs_xquad
def test_sparse_models_refuse_transforms(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="dense L2-normalised"):
        run_evaluation(RunConfig(model="bm25+center:pool", task="xquad-r", data_dir=DATA, output_dir=tmp_path,
                                 runs_dir=None, languages=["de"], bias=False))
