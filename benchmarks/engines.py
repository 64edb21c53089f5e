"""Engines side by side (issue 19): speed, GFLOP/s against the matching GEMM peak, and the fidelity gate.

For one model, every requested combination of ``engine:dtype[:int8]`` (default: torch fp32/bf16/int8, onnx
fp32/int8, openvino fp32/bf16/int8) is loaded through the real loader (exports made once into the model cache;
the time of a first export is printed) and measured three ways:

1. **Speed**: ``--n`` real texts of the task subset (candidates, every language of the subset, seeded order)
   encoded by the adapter, best of ``--rounds``: texts/s. *Executed* FLOPs are counted per batch exactly as the
   adapter forms them (token-sorted batches, each padded to its longest ``prompt + text``; per layer and sequence
   of L tokens ``8·L·d² + 4·L·d·f + 4·L²·d``, lookups, norms, softmax and pooling left out): GFLOP/s.
2. **The ratio to the limit**: that GFLOP/s over the GEMM peak *of the dtype the engine computes in* (fp32, bf16
   or int8), measured in the same run before and after the combinations (best of both): square 2048 matmuls with
   torch (``matmul``; ``_int_mm`` for int8), ONNX Runtime (``MatMul``; ``MatMulInteger`` for int8, weights as an
   initializer) and OpenVINO (``MatMul``, f32 and bf16 precision). The matching peak is the best any of these
   libraries reaches for that dtype; the engine's own library's peak is printed beside it.
3. **The fidelity gate** (as ``bf16_check.py``): the task subset through the real runner, each combination with
   its own cache key; cosine of every text's vector with the torch fp32 vector (>= ``COS_MIN``), and the largest
   change of any metric of any cell or setting (<= ``METRIC_TOL``). A combination that fails is marked FAIL.

The machine must be idle: the 1-minute load average is read at the start, and above ``--max-load`` (1.5) the
script refuses to run (exit 3) unless ``--busy-ok`` (then every figure is labelled as not to be quoted).

    /work/shared/tools/heavy python benchmarks/engines.py --model me5-small --languages en,de,zh --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, header, load_avg, timed  # noqa: E402

COS_MIN = 0.999
METRIC_TOL = 1e-3
DEFAULT_COMBOS = ("torch:float32,torch:bfloat16,torch:float32:int8,onnx:float32,onnx:float32:int8,"
                  "openvino:float32,openvino:bfloat16,openvino:float32:int8")
GEMM_N = 2048


# ---------------------------------------------------------------------------------------------------- peaks


def _best_rate(fn: Any, flops: float, repeats: int = 3) -> float:
    fn()
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = max(best, flops / (time.perf_counter() - t0) / 1e9)
    return best


def _onnx_matmul(m: int, integer: bool, k: int | None = None, n: int | None = None) -> bytes:
    """An ONNX graph A (m×k, input) · B (k×n, initializer: weights, as in a model)."""
    from onnx import TensorProto, helper, numpy_helper

    k, n = k or m, n or m
    rng = np.random.default_rng(0)
    if integer:
        b = numpy_helper.from_array(rng.integers(-100, 100, (k, n)).astype(np.int8), "B")
        node = helper.make_node("MatMulInteger", ["A", "B"], ["Y"])
        a_t, y_t = TensorProto.UINT8, TensorProto.INT32
    else:
        b = numpy_helper.from_array(rng.standard_normal((k, n)).astype(np.float32), "B")
        node = helper.make_node("MatMul", ["A", "B"], ["Y"])
        a_t, y_t = TensorProto.FLOAT, TensorProto.FLOAT
    g = helper.make_graph([node], "gemm", [helper.make_tensor_value_info("A", a_t, [m, k])],
                          [helper.make_tensor_value_info("Y", y_t, [m, n])], [b])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()


def gemm_peaks(threads: int, n: int = GEMM_N, shape: tuple[int, int, int] | None = None) -> dict[str, dict[str, float]]:
    """GFLOP/s of an n×n×n GEMM (or of ``shape`` = (m, k, n)) per dtype ("float32", "bfloat16", "int8") and
    library (torch, onnx, openvino)."""
    import torch

    m, k, n = shape or (n, n, n)
    flops = 2.0 * m * k * n
    out: dict[str, dict[str, float]] = {"float32": {}, "bfloat16": {}, "int8": {}}
    a, b = torch.randn(m, k), torch.randn(k, n)
    out["float32"]["torch"] = _best_rate(lambda: torch.matmul(a, b), flops)
    ab, bb = a.bfloat16(), b.bfloat16()
    out["bfloat16"]["torch"] = _best_rate(lambda: torch.matmul(ab, bb), flops)
    ai = torch.randint(-100, 100, (m, k), dtype=torch.int8)
    bi = torch.randint(-100, 100, (k, n), dtype=torch.int8)
    try:
        out["int8"]["torch"] = _best_rate(lambda: torch._int_mm(ai, bi), flops)
    except RuntimeError:
        pass
    try:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.log_severity_level = 3
        rng = np.random.default_rng(1)
        for dtype, integer in (("float32", False), ("int8", True)):
            s = ort.InferenceSession(_onnx_matmul(m, integer, k, n), so, providers=["CPUExecutionProvider"])
            x = rng.integers(0, 255, (m, k)).astype(np.uint8) if integer else rng.standard_normal((m, k)).astype(
                np.float32)
            out[dtype]["onnx"] = _best_rate(lambda s=s, x=x: s.run(None, {"A": x}), flops)
    except ImportError:
        pass
    try:
        import openvino as ov

        core = ov.Core()
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "mm.onnx"
            p.write_bytes(_onnx_matmul(m, False, k, n))
            x = np.random.default_rng(2).standard_normal((m, k)).astype(np.float32)
            for dtype, hint in (("float32", "f32"), ("bfloat16", "bf16")):
                req = core.compile_model(core.read_model(str(p)), "CPU", {
                    "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": hint}).create_infer_request()
                out[dtype]["openvino"] = _best_rate(lambda req=req: req.infer({"A": x}), flops)
    except ImportError:
        pass
    return out


def merge_peaks(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    return {dt: {lib: max(a[dt].get(lib, 0.0), b[dt].get(lib, 0.0)) for lib in set(a[dt]) | set(b[dt])}
            for dt in a}


def compute_dtype(engine: str, dtype: str, quantization: str) -> str:
    """The dtype the engine's GEMMs run in: int8 for dynamic int8 (torch, ONNX Runtime), else the float dtype
    (OpenVINO's int8 is weight compression: its GEMMs run in the inference precision)."""
    if quantization == "int8" and engine in ("torch", "onnx"):
        return "int8"
    return dtype


# ---------------------------------------------------------------------------------------------------- FLOPs


def executed_flops(enc: Any, texts: list[str], role: str, batch_size: int) -> tuple[float, float, int, int]:
    """(executed, useful) FLOPs of the adapter encoding ``texts`` in ``role``; tokens and padded tokens.

    Replicates :meth:`SentenceTransformerEncoder.encode`: order by the raw texts' token counts (longest first,
    stable), batches of ``batch_size``, each padded to its longest ``prompt + text`` (truncated at max length).
    """
    from mlir_bench.encoders.sentence_transformers import token_lengths

    model = enc.model
    cfg = model[0].model.config
    d, f, layers = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    max_len = model.max_seq_length
    prompt = enc.meta.prompt(role)
    tok = model.tokenizer
    lengths = np.asarray([len(ids) for ids in tok([prompt + t for t in texts], add_special_tokens=True,
                                                  truncation=True, max_length=max_len)["input_ids"]])
    key = token_lengths(model, texts)
    order = np.argsort(-np.asarray(key), kind="stable")

    def per_seq(L: np.ndarray) -> np.ndarray:
        return layers * (8 * L * d * d + 4 * L * d * f + 4 * L * L * d)

    executed, padded = 0.0, 0
    for a in range(0, len(texts), batch_size):
        idx = order[a:a + batch_size]
        L = int(lengths[idx].max())
        executed += len(idx) * float(per_seq(np.asarray(L, dtype=np.float64)))
        padded += len(idx) * L
    useful = float(per_seq(lengths.astype(np.float64)).sum())
    return executed, useful, int(lengths.sum()), padded


# ---------------------------------------------------------------------------------------------------- main


def parse_combo(s: str) -> tuple[str, str, str]:
    parts = s.split(":")
    engine, dtype = parts[0], parts[1] if len(parts) > 1 else "float32"
    quant = parts[2] if len(parts) > 2 else "none"
    return engine, dtype, quant


def label(combo: tuple[str, str, str]) -> str:
    e, d, q = combo
    short = {"float32": "fp32", "bfloat16": "bf16"}[d]
    return f"{e}/{short}" + ("/int8" if q == "int8" else "")


def metric_deltas(ref: dict[str, Any], got: dict[str, Any]) -> list[tuple[float, str, float, float]]:
    out = []
    for section in ("cells", "settings"):
        for key, c in ref[section].items():
            for m, v in c["scores"].items():
                w = got[section][key]["scores"].get(m)
                if v is not None and w is not None:
                    out.append((abs(v - w), f"{section[:-1]} {key} {m}", v, w))
    return sorted(out, reverse=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="me5-small")
    ap.add_argument("--task", default="xquad-r")
    ap.add_argument("--languages", default="en", help="task subset for the fidelity gate and the speed texts")
    ap.add_argument("--combos", default=DEFAULT_COMBOS, help="comma-separated engine:dtype[:int8]")
    ap.add_argument("--n", type=int, default=1000, help="texts of the speed measurement")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--no-task", action="store_true", help="speed and GFLOP/s only (no fidelity gate)")
    ap.add_argument("--max-load", type=float, default=1.5)
    ap.add_argument("--busy-ok", action="store_true", help="run on a busy machine (figures not to be quoted)")
    ap.add_argument("--json", type=Path, default=None, help="also write every figure here")
    args = ap.parse_args()

    start_load = load_avg()
    header(f"engines: {args.model} on {args.task} ({args.languages}), {args.threads} threads")
    if start_load > args.max_load and not args.busy_ok:
        print(f"REFUSED: load average {start_load:.2f} > {args.max_load}; figures from a busy machine are not "
              "recorded (wait for an idle machine, or --busy-ok to run anyway without quoting them)")
        sys.exit(3)
    quotable = start_load <= args.max_load

    import torch

    torch.set_num_threads(args.threads)
    from mlir_bench.embedding.cache import EmbeddingCache
    from mlir_bench.encoders import load_encoder
    from mlir_bench.runner import RunConfig, run_evaluation
    from mlir_bench.tasks import load_task

    combos = [parse_combo(c) for c in args.combos.split(",") if c]
    ref_combo = ("torch", "float32", "none")
    if not args.no_task and ref_combo not in combos:
        combos.insert(0, ref_combo)
    langs = args.languages.split(",") if args.languages else None
    task = load_task(args.task, data_dir=DATA, **({"languages": langs} if langs else {}))
    docs = list(dict.fromkeys(task.docs.texts))
    rng = np.random.default_rng(0)
    speed_texts = [docs[i] for i in rng.permutation(len(docs))[: args.n]]

    peaks = gemm_peaks(args.threads)
    print("GEMM peaks (GFLOP/s, n=2048): " + "; ".join(
        f"{dt} " + ", ".join(f"{lib} {v:.0f}" for lib, v in sorted(libs.items())) for dt, libs in peaks.items()))
    tmp = tempfile.TemporaryDirectory(prefix="mlir_engines_")
    cache = EmbeddingCache(Path(tmp.name) / "cache")
    rows: dict[str, dict[str, Any]] = {}
    dims: tuple[int, int] | None = None  # (d, f) of the transformer
    results: dict[str, dict[str, Any]] = {}
    keys: dict[str, Any] = {}
    for combo in combos:
        engine, dtype, quant = combo
        name = label(combo)
        row: dict[str, Any] = {"engine": engine, "dtype": dtype, "quantization": quant,
                               "compute_dtype": compute_dtype(engine, dtype, quant)}
        try:
            with timed() as t_load:
                enc = load_encoder(args.model, engine=engine, dtype=dtype, quantization=quant, threads=args.threads,
                                   batch_size=args.batch_size, device="cpu")
        except Exception as exc:  # noqa: BLE001 - a combination that cannot run is reported, not fatal
            print(f"{name:20s} cannot run: {exc}")
            rows[name] = {**row, "error": str(exc)}
            continue
        row["load_seconds"] = round(t_load.wall, 2)
        row["exported_seconds"] = enc.engine_info.get("exported_seconds")
        executed, useful, tokens, padded = executed_flops(enc, speed_texts, "document", args.batch_size)
        cfg_hf = enc.model[0].model.config
        dims = (cfg_hf.hidden_size, cfg_hf.intermediate_size)
        enc.encode(speed_texts[:64], "document")  # warm-up (first-call allocations, kernel selection)
        times = []
        for _ in range(args.rounds):
            with timed() as t:
                enc.encode(speed_texts, "document")
            times.append(t)
        best = min(times, key=lambda t: t.wall)
        gflops = executed / best.wall / 1e9
        # the first round meets most batch shapes for the first time (the warm-up saw 64 texts): an engine that
        # compiles per shape pays it there, as a cold full run does; the best round is the steady state
        row["round_seconds"] = [round(t.wall, 3) for t in times]
        row.update({"texts": len(speed_texts), "tokens": tokens, "padded_tokens": padded,
                    "executed_gflop": round(executed / 1e9, 2), "useful_gflop": round(useful / 1e9, 2),
                    "encode_seconds": round(best.wall, 3), "encode_cpu_seconds": round(best.cpu, 3),
                    "texts_per_second": round(len(speed_texts) / best.wall, 1),
                    "gflops_executed": round(gflops, 1), "gflops_useful": round(useful / best.wall / 1e9, 1)})
        if not args.no_task:
            keys[name] = enc.meta
            cfg = RunConfig(model=args.model, task=args.task, data_dir=DATA, output_dir=Path(tmp.name) / name.replace(
                "/", "_"), runs_dir=None, languages=langs, cache=cache, overwrite=True, batch_size=args.batch_size,
                encoder_factory=lambda n, e=enc: e)
            with timed() as t_run:
                res = run_evaluation(cfg).to_json()
            results[name] = res
            tm = res["manifest"]["timings"]
            n_enc = sum(v["encoded"] for v in res["manifest"]["encoded"].values())
            enc_s = tm["encode_query_seconds"] + tm["encode_document_seconds"]
            row.update({"task_run_seconds": round(t_run.wall, 2), "task_texts": n_enc,
                        "task_encode_seconds": round(enc_s, 2),
                        "task_texts_per_second": round(n_enc / enc_s, 1) if enc_s else None})
        rows[name] = row
        print(f"{name:20s} {row['texts_per_second']:7.1f} texts/s · {gflops:6.1f} GFLOP/s executed · load "
              f"{row['load_seconds']:.1f} s (export {row['exported_seconds']}) · rounds "
              + "/".join(f"{x:.1f}" for x in row["round_seconds"]) + " s"
              + (f" · task encode {row['task_texts_per_second']} texts/s" if "task_texts_per_second" in row else ""),
              flush=True)
        del enc

    peaks = merge_peaks(peaks, gemm_peaks(args.threads))
    # the model's own largest GEMM (feed-forward: batch·L × d by d × f, L the mean padded length): what the
    # libraries reach on the shapes the encoder actually multiplies, beside the square-matrix peak
    shape_peaks: dict[str, dict[str, float]] | None = None
    ok_rows = [r for r in rows.values() if "error" not in r]
    if ok_rows and dims:
        mean_len = ok_rows[0]["padded_tokens"] / ok_rows[0]["texts"]
        m_rows = max(16, int(round(args.batch_size * mean_len / 8)) * 8)
        shape = (m_rows, dims[0], dims[1])
        shape_peaks = merge_peaks(gemm_peaks(args.threads, shape=shape), gemm_peaks(args.threads, shape=shape))
        print(f"GEMM at the model's feed-forward shape {shape} (GFLOP/s): " + "; ".join(
            f"{dt} " + ", ".join(f"{lib} {v:.0f}" for lib, v in sorted(libs.items()))
            for dt, libs in shape_peaks.items()))
    lib_of = {"torch": "torch", "onnx": "onnx", "openvino": "openvino"}
    for row in rows.values():
        if "error" in row:
            continue
        cd = row["compute_dtype"]
        peak_lib, peak = max(peaks[cd].items(), key=lambda kv: kv[1])
        own = peaks[cd].get(lib_of[row["engine"]])
        row.update({"peak_gflops": round(peak, 1), "peak_library": peak_lib,
                    "pct_of_peak": round(100 * row["gflops_executed"] / peak, 1),
                    "own_library_peak_gflops": round(own, 1) if own else None,
                    "pct_of_own_library_peak": round(100 * row["gflops_executed"] / own, 1) if own else None})
        if shape_peaks and shape_peaks[cd]:
            sp = max(shape_peaks[cd].values())
            row.update({"shape_gemm_gflops": round(sp, 1),
                        "pct_of_shape_gemm": round(100 * row["gflops_executed"] / sp, 1)})

    ref_name = label(ref_combo)
    if not args.no_task and ref_name in results:
        for name, row in rows.items():
            if "error" in row or name == ref_name:
                continue
            cos_all = []
            for role, texts in (("query", task.queries.texts), ("document", task.docs.texts)):
                uniq = list(dict.fromkeys(texts))
                a, ta = cache.get_many(keys[ref_name].vector_key(role), uniq)
                b, tb = cache.get_many(keys[name].vector_key(role), uniq)
                assert a is not None and b is not None and not ta and not tb
                cos_all.append(np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))
            cos = np.concatenate(cos_all)
            deltas = metric_deltas(results[ref_name], results[name])
            row.update({"cos_min": float(round(cos.min(), 6)), "cos_p1": float(round(np.quantile(cos, 0.01), 6)),
                        "cos_mean": float(round(cos.mean(), 6)), "fidelity_texts": int(len(cos)),
                        "max_metric_delta": round(deltas[0][0], 5), "max_metric_delta_at": deltas[0][1],
                        "max_setting_delta": round(max(d[0] for d in deltas if d[1].startswith("setting")), 5),
                        "metrics_over_tol": sum(d[0] > METRIC_TOL for d in deltas), "metrics_compared": len(deltas),
                        "gate": "PASS" if cos.min() >= COS_MIN and deltas[0][0] <= METRIC_TOL else "FAIL"})

    print()
    print(f"| {args.model} | texts/s | executed GFLOP/s | GEMM peak (same dtype) | % of peak | % of own library's "
          "peak | % of the model-shape GEMM | task texts/s | cos min (p1) | max metric Δ | gate |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---|---|---|")
    for name, row in rows.items():
        if "error" in row:
            print(f"| {name} | cannot run: {row['error'][:80]} |||||||||")
            continue
        fid = (f"{row['cos_min']:.5f} ({row['cos_p1']:.5f})" if "cos_min" in row else
               "reference" if name == ref_name else "")
        delta = (f"{row['max_metric_delta']:.4f} ({row['metrics_over_tol']}/{row['metrics_compared']} > 1e-3; "
                 f"settings {row['max_setting_delta']:.4f})" if "max_metric_delta" in row else "")
        print(f"| {name} | {row['texts_per_second']:.1f} | {row['gflops_executed']:.1f} | {row['compute_dtype']} "
              f"{row['peak_gflops']:.0f} ({row['peak_library']}) | {row['pct_of_peak']:.1f}% | "
              f"{row['pct_of_own_library_peak'] or float('nan'):.1f}% | {row.get('pct_of_shape_gemm', '')}% | "
              f"{row.get('task_texts_per_second', '')} | "
              f"{fid} | {delta} | {row.get('gate', '')} |")
    end_load = load_avg()
    print(f"\nload average: {start_load:.2f} at the start, {end_load:.2f} at the end"
          + ("" if quotable else " — BUSY MACHINE: do not quote these figures"))
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "task": args.task, "languages": langs,
                                         "threads": args.threads, "batch_size": args.batch_size,
                                         "load_start": start_load, "load_end": end_load, "quotable": quotable,
                                         "peaks": peaks, "shape_peaks": shape_peaks, "rows": rows,
                                         "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                                        indent=1) + "\n")
    tmp.cleanup()


if __name__ == "__main__":
    main()
