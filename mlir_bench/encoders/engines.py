"""Inference engines for sentence-transformers models: ``--engine torch|onnx|openvino`` and ``--quantize int8``.

The engine runs the model's Transformer backbone; tokenisation, prompts, length-sorted batches, pooling and
normalisation stay sentence-transformers' own, so every engine computes the same function and only the numbers
of the backbone's arithmetic differ (benchmarks/engines.py measures by how much: the fidelity gate).

* ``torch``: the loaded model itself; ``--quantize int8`` is torch's dynamic int8 quantisation of every Linear.
* ``onnx``: ONNX Runtime (``pip install 'mlir-bench[onnx]'``) on an ONNX export of the backbone; ``--quantize
  int8`` is ONNX Runtime's dynamic quantisation (int8 weights, activations quantised per batch). float32 only:
  ONNX Runtime's CPU kernels have no bf16.
* ``openvino``: OpenVINO (``pip install 'mlir-bench[openvino]'``) on the same ONNX export, converted once to
  OpenVINO IR; ``--dtype bfloat16`` is OpenVINO's bf16 inference precision, ``--quantize int8`` NNCF's int8
  weight compression (``pip install nncf``).

Why not sentence-transformers' own ``backend="onnx"/"openvino"``: it exports through optimum-onnx / optimum-intel,
which require transformers < 4.58 / < 5.6, while this project runs transformers 5; so the export is done here with
``torch.onnx.export(dynamo=True)`` (needs ``onnxscript``), offline, from the already loaded model.

Exports are made once, from the loaded weights, into ``<cache>/models/exports/<model>-<revision>/<artifact>/``
(each built in a temporary folder and renamed into place under a lock, so concurrent loaders, Ray actors
included, build it once) and reused by every later load. Each export is checked against the torch backbone on
held-out inputs before it is kept. Every engine but torch runs on the CPU.

The engine and the quantisation are part of the model's metadata (:class:`~mlir_bench.encoders.base.ModelMeta`),
so of its vector key (embedding cache) and of a result's identity: vectors or results computed with one engine
are never reused for another.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from ..io import default_cache_root, exclusive_lock

ENGINES = ("torch", "onnx", "openvino")
QUANTIZATIONS = ("none", "int8")
EXPORT_VERSION = 1  # bump when the export recipe changes: older exports are rebuilt
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
EXPORT_TOLERANCE = 1e-3  # largest |difference| of hidden states (non-padding tokens) an export may have

_ENGINE_PACKAGES = {"onnx": "onnxruntime", "openvino": "openvino"}


def canonical_engine(engine: str | None, model: str = "") -> str:
    e = (engine or "torch").strip().lower()
    if e not in ENGINES:
        raise ModelError(f"{_who(model)}unknown engine {engine!r}: expected {', '.join(ENGINES)}")
    return e


def canonical_quantization(quantize: str | None, model: str = "") -> str:
    q = (quantize or "none").strip().lower()
    if q not in QUANTIZATIONS:
        raise ModelError(f"{_who(model)}unknown quantization {quantize!r}: expected {', '.join(QUANTIZATIONS)}")
    return q


def check_combination(model: str, engine: str, quantization: str, dtype: str) -> None:
    """Refuse what an engine cannot do (one line) instead of silently running something else."""
    if engine == "onnx" and dtype != "float32":
        raise ModelError(f"model {model}: engine onnx runs float32 only (ONNX Runtime's CPU kernels have no bf16); "
                         "use --engine openvino or torch for bfloat16")
    if quantization == "int8" and engine == "torch" and dtype != "float32":
        raise ModelError(f"model {model}: --quantize int8 with engine torch replaces the Linear layers by int8 ones; "
                         "--dtype bfloat16 does not apply to them (use --dtype float32)")


def engine_device(model: str, engine: str, quantization: str, device: str) -> str | None:
    """The device a non-torch engine (or torch int8) runs on: the CPU. None: the caller resolves ``device``."""
    if engine == "torch" and quantization == "none":
        return None
    what = f"engine {engine}" + (" with --quantize int8" if quantization != "none" else "")
    if device not in ("auto", "cpu"):
        raise ModelError(f"model {model}: {what} runs on the CPU here; got --device {device} "
                         "(use --engine torch for a GPU)")
    return "cpu"


# --------------------------------------------------------------------------------------------------------------
# Applying an engine to a loaded SentenceTransformer
# --------------------------------------------------------------------------------------------------------------


def apply_engine(st_model: Any, *, name: str, revision: str, engine: str, quantization: str, dtype: str,
                 threads: int | None = None, cache_root: Path | None = None) -> dict[str, Any]:
    """Make ``st_model`` (a loaded, CPU SentenceTransformer) run its backbone on ``engine``; return what was done.

    The return value (``{"engine", "quantization", "artifact", "exported_seconds"}``) is for the manifest;
    ``artifact`` is the export's folder (None for torch).
    """
    info: dict[str, Any] = {"engine": engine, "quantization": quantization, "artifact": None,
                            "exported_seconds": None}
    if engine == "torch" and quantization == "none":
        return info
    module = _backbone_module(st_model, name, engine)
    if engine == "torch":  # dynamic int8 Linear layers, in place
        import torch
        from torch.ao.quantization import quantize_dynamic

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao's deprecation notice (torchao is not installed here)
            module.model = quantize_dynamic(module.model.eval(), {torch.nn.Linear}, dtype=torch.qint8)
        return info
    package = _ENGINE_PACKAGES[engine]
    try:
        __import__(package)
    except ImportError:
        raise ModelError(f"model {name}: engine {engine} needs {package}: pip install 'mlir-bench[{engine}]'") from None
    if revision in ("", "unknown"):
        raise ModelError(f"model {name}: engine {engine} exports the model once per revision, and its revision is "
                         "unknown; use a local model folder or a cached hub snapshot")
    folder = export_folder(name, revision, cache_root)
    t0 = time.perf_counter()
    hf = module.model
    names = _input_names(module)
    artifact = ensure_artifact(folder, engine, quantization, hf, lambda: _examples(module, names), names)
    info["artifact"] = str(artifact)
    info["exported_seconds"] = round(time.perf_counter() - t0, 3)
    n_threads = threads or _torch_threads()
    runner = (_ort_runner(artifact / "model.onnx", n_threads) if engine == "onnx"
              else _ov_runner(artifact / "model.xml", n_threads, dtype))
    module.model = EngineBackbone(runner, hf.config, names, engine)
    return info


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def _backbone_module(st_model: Any, name: str, engine: str) -> Any:
    """The model's first module when it is a sentence-transformers Transformer around a text model."""
    first = st_model[0] if len(st_model) else None
    hf = getattr(first, "model", None)
    if first is None or type(first).__name__ != "Transformer" or getattr(hf, "config", None) is None:
        raise ModelError(f"model {name}: engine {engine} runs models whose first module is a sentence-transformers "
                         f"Transformer; this one starts with {type(first).__name__}")
    return first


def _input_names(module: Any) -> tuple[str, ...]:
    feats = module.preprocess(["a b", "c"])
    names = tuple(n for n in INPUT_NAMES if n in feats)
    if "input_ids" not in names or "attention_mask" not in names:
        raise ModelError(f"the tokenizer gives {sorted(feats)}; engines need input_ids and attention_mask")
    return names


def _examples(module: Any, names: tuple[str, ...]) -> list[dict[str, Any]]:
    """Tokenised example batches: one to trace, two held out to check the export (other batch size and length)."""
    texts = [
        ["query: how long is the river", "passage: the city council voted to fund a new library and two bridges"],
        ["der Fluss ist lang", "河流很长，城市在河边。", "a", "an unusually long sentence " * 12],
        ["ok"],
    ]
    out = []
    for batch in texts:
        feats = module.preprocess(batch)
        out.append({n: feats[n] for n in names})
    return out


class EngineBackbone:  # a torch.nn.Module subclass is made on first use (torch is imported lazily)
    """Stands in for the Hugging Face model inside the sentence-transformers Transformer module."""

    def __new__(cls, runner: Callable[[dict[str, np.ndarray]], np.ndarray], config: Any,
                names: tuple[str, ...], engine: str) -> Any:
        import torch

        class _EngineBackbone(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.config = config
                self.engine = engine
                self.input_names = names
                self.runner = runner
                # sequence lengths padded up to a multiple of this (masked, then cut off the output): fewer
                # distinct batch shapes for engines that prepare kernels per shape; 1 = as tokenised
                self.pad_multiple = 1
                self.register_buffer("_anchor", torch.zeros(0), persistent=False)  # .device is the CPU

            @property
            def device(self) -> Any:
                return torch.device("cpu")

            def forward(self, **kwargs: Any) -> dict[str, Any]:
                feeds = {n: kwargs[n].detach().cpu().numpy().astype(np.int64, copy=False) for n in self.input_names
                         if kwargs.get(n) is not None}
                if "token_type_ids" in self.input_names and "token_type_ids" not in feeds:
                    feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
                length = feeds["input_ids"].shape[1]
                extra = -length % self.pad_multiple
                if extra:  # padded positions have attention mask 0: no real token attends to them
                    feeds = {k: np.pad(v, ((0, 0), (0, extra))) for k, v in feeds.items()}
                out = self.runner(feeds)[:, :length]
                return {"last_hidden_state": torch.from_numpy(np.ascontiguousarray(out))}

        return _EngineBackbone()


def _ort_runner(path: Path, threads: int) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    wanted = {i.name for i in sess.get_inputs()}

    def run(feeds: dict[str, np.ndarray]) -> np.ndarray:
        return sess.run(None, {k: v for k, v in feeds.items() if k in wanted})[0]

    return run


def _ov_runner(path: Path, threads: int, dtype: str) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    import openvino as ov

    core = ov.Core()
    # explicit precision: on CPUs with bf16 units OpenVINO would otherwise run bf16 for a float32 request
    compiled = core.compile_model(core.read_model(str(path)), "CPU", {
        "INFERENCE_NUM_THREADS": threads,
        "INFERENCE_PRECISION_HINT": "bf16" if dtype == "bfloat16" else "f32",
    })
    request = compiled.create_infer_request()
    wanted = {p.get_any_name() for p in compiled.inputs}

    def run(feeds: dict[str, np.ndarray]) -> np.ndarray:
        request.infer({k: v for k, v in feeds.items() if k in wanted})
        return np.array(request.get_output_tensor(0).data, dtype=np.float32, copy=True)

    return run


# --------------------------------------------------------------------------------------------------------------
# Exports in the model cache
# --------------------------------------------------------------------------------------------------------------


def export_folder(name: str, revision: str, cache_root: Path | None = None) -> Path:
    """``<cache>/models/exports/<model slug>-<revision>``: every export of one model's weights."""
    slug = re.sub(r"[^A-Za-z0-9._+-]+", "_", name).strip("_") or "model"
    return Path(cache_root or default_cache_root()) / "models" / "exports" / f"{slug}-{revision}"


def artifact_name(engine: str, quantization: str) -> str:
    return engine + ("" if quantization == "none" else f"-{quantization}")


def ensure_artifact(folder: Path, engine: str, quantization: str, hf_model: Any,
                    examples: Callable[[], list[dict[str, Any]]], names: tuple[str, ...]) -> Path:
    """The folder of ``engine``/``quantization``'s export under ``folder``, built (once, under a lock) if missing.

    Every artifact derives from the fp32 ONNX export (``onnx/``), built first when missing.
    """
    art = folder / artifact_name(engine, quantization)
    if _complete(art):
        return art
    folder.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(folder / ".export.lock"):
        return _ensure_locked(folder, engine, quantization, hf_model, examples, names)


def _ensure_locked(folder: Path, engine: str, quantization: str, hf_model: Any,
                   examples: Callable[[], list[dict[str, Any]]], names: tuple[str, ...]) -> Path:
    art = folder / artifact_name(engine, quantization)
    if _complete(art):  # another process built it while we waited for the lock
        return art
    if engine == "onnx" and quantization == "none":
        _build(art, lambda tmp: _export_onnx(hf_model, examples(), names, tmp / "model.onnx"))
        return art
    base = _ensure_locked(folder, "onnx", "none", hf_model, examples, names) / "model.onnx"
    if engine == "onnx":
        _build(art, lambda tmp: _quantize_onnx(base, tmp / "model.onnx"))
    else:
        _build(art, lambda tmp: _convert_openvino(base, tmp / "model.xml", quantization))
    return art


def _complete(art: Path) -> bool:
    try:
        return json.loads((art / "export.json").read_text()).get("version") == EXPORT_VERSION
    except (OSError, ValueError):
        return False


def _build(art: Path, make: Callable[[Path], dict[str, Any] | None]) -> None:
    """Run ``make(tmp)`` in a temporary folder beside ``art``, stamp it, and rename it into place."""
    tmp = art.with_name(f".{art.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        t0 = time.perf_counter()
        extra = make(tmp) or {}
        stamp = {"version": EXPORT_VERSION, "artifact": art.name, "seconds": round(time.perf_counter() - t0, 2),
                 "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "versions": _versions(), **extra}
        (tmp / "export.json").write_text(json.dumps(stamp, indent=1) + "\n")
        shutil.rmtree(art, ignore_errors=True)  # an export of an older recipe
        tmp.rename(art)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for pkg in ("torch", "transformers", "onnx", "onnxscript", "onnxruntime", "openvino", "nncf"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


def _export_onnx(hf_model: Any, examples: list[dict[str, Any]], names: tuple[str, ...], dest: Path) -> dict[str, Any]:
    """Export the backbone (input ids, mask[, token types] -> last hidden state) with dynamic batch and length."""
    import logging

    import torch

    try:
        import onnxscript  # noqa: F401 - torch.onnx's dynamo exporter needs it
    except ImportError:
        raise ModelError("exporting to ONNX needs onnxscript: pip install 'mlir-bench[onnx]'") from None

    class Backbone(torch.nn.Module):
        def __init__(self, m: Any) -> None:
            super().__init__()
            self.m = m

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
            kw = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
            return self.m(input_ids=input_ids, attention_mask=attention_mask, **kw).last_hidden_state

    hf_model = hf_model.eval()
    trace = examples[0]
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
    shapes = {n: {0: batch, 1: seq} for n in names}
    quiet = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [lg.level for lg in quiet]
    try:
        for lg in quiet:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(Backbone(hf_model), (), kwargs={n: trace[n] for n in names},
                                        input_names=list(names), output_names=["last_hidden_state"],
                                        dynamic_shapes=shapes, dynamo=True, verbose=False)
            program.save(str(dest))
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - an export failure is one line
        from .registry import one_line

        raise ModelError(f"ONNX export failed: {type(exc).__name__}: {one_line(exc, 200)}") from None
    finally:
        for lg, lv in zip(quiet, levels, strict=True):
            lg.setLevel(lv)
    try:  # checked by whichever runtime is installed (the openvino extra has no onnxruntime)
        check = _ort_runner(dest, _torch_threads())
    except ImportError:
        check = _ov_runner(dest, _torch_threads(), "float32")
    worst = _check_export(hf_model, check, examples[1:], names)
    return {"inputs": list(names), "max_abs_diff_vs_torch": worst}


def _check_export(hf_model: Any, run: Callable[[dict[str, np.ndarray]], np.ndarray],
                  examples: list[dict[str, Any]], names: tuple[str, ...]) -> float:
    """Largest |difference| of the export's hidden states from torch's on held-out batches; refuse a bad one."""
    import torch

    worst = 0.0
    for ex in examples:
        with torch.no_grad():
            ref = hf_model(**{n: ex[n] for n in names}).last_hidden_state.float().numpy()
        got = run({n: ex[n].numpy() for n in names})
        mask = ex["attention_mask"].numpy().astype(bool)
        worst = max(worst, float(np.abs(got - ref)[mask].max()))
    if not worst <= EXPORT_TOLERANCE:
        raise ModelError(f"the ONNX export differs from the torch model by {worst:.3g} (> {EXPORT_TOLERANCE}) on "
                         "held-out inputs; refusing to use it")
    return round(worst, 8)


def _quantize_onnx(src: Path, dest: Path) -> dict[str, Any]:
    """ONNX Runtime dynamic quantisation: int8 weights (per output channel), activations quantised per batch."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its "consider pre-processing" warning goes to the root logger
    try:
        quantize_dynamic(str(src), str(dest), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.setLevel(level)
    return {"quantization": "onnxruntime dynamic, int8 weights per channel, uint8 activations per batch"}


def _convert_openvino(src: Path, dest: Path, quantization: str) -> dict[str, Any]:
    """The ONNX export as OpenVINO IR (fp32 weights); with int8, NNCF's symmetric per-channel int8 weights."""
    import openvino as ov

    model = ov.Core().read_model(str(src))
    extra: dict[str, Any] = {}
    if quantization == "int8":
        try:
            import nncf
        except ImportError:
            raise ModelError("engine openvino with --quantize int8 needs NNCF: pip install nncf") from None
        import logging

        logging.getLogger("nncf").setLevel(logging.ERROR)
        model = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_SYM)
        extra["quantization"] = "NNCF int8 weight compression (symmetric, per channel)"
    ov.save_model(model, str(dest), compress_to_fp16=False)
    return extra


def _who(model: str) -> str:
    return f"model {model}: " if model else ""
