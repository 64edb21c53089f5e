"""Cold full runs, every engine side by side (issue 19), against raw sentence-transformers and mteb.

Each combination ``engine:dtype[:int8]`` is one ``mlir-bench run`` process on the full task with an empty
embedding cache (a fresh ``--cache-dir``; ``--runs none``): the wall time from process start to exit, the encode
time and rate from the result's manifest, the device and engine it recorded, and every metric of every cell and
setting compared with the first combination's (the full-task fidelity check). The model exports are made before
the timed runs (their one-off time is printed): a cold run here is a cold *embedding* cache.

Beside them, in their own processes and on the same unique texts with the same prompts:

* ``--raw``: ``SentenceTransformer.encode`` of the model's torch folder, batch 32 (bf16 autocast for bf16),
  encode time only (the floor the harness is compared with; no de-duplication, search or scoring);
* ``--mteb SETTING``: mteb's evaluation of the same encoder object (``as_mteb_model``, no cache) on our task's
  ``SETTING`` (``mono``: the same texts as ours per language; ``multi``: what mteb encodes for the Multi setting).

The machine must be idle: each process's start load is recorded, and a start above ``--max-load`` (1.5) stops the
script (exit 3) unless ``--busy-ok``.

    /work/shared/tools/heavy python benchmarks/cold_engines.py --model me5-small --task xquad-r \\
        --combos torch:bfloat16,openvino:bfloat16,onnx:float32:int8 --raw bfloat16 --mteb mono
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, header, load_avg, timed  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _wait_idle(max_load: float, busy_ok: bool, what: str, patience: float = 120.0) -> float:
    """The load average before ``what``; waits up to ``patience`` s for it to fall under ``max_load``."""
    t0 = time.time()
    while (load := load_avg()) > max_load and time.time() - t0 < patience:
        time.sleep(10)
    if load > max_load and not busy_ok:
        print(f"REFUSED before {what}: load average {load:.2f} > {max_load}; not recording figures")
        sys.exit(3)
    return load


def _combo(s: str) -> tuple[str, str, str]:
    p = s.split(":")
    return p[0], p[1] if len(p) > 1 else "float32", p[2] if len(p) > 2 else "none"


def _label(c: tuple[str, str, str]) -> str:
    short = {"float32": "fp32", "bfloat16": "bf16"}[c[1]]
    return f"{c[0]}/{short}" + ("/int8" if c[2] == "int8" else "")


def _worker(argv: list[str]) -> dict[str, Any]:
    """Run this script as a worker in a fresh process; returns its JSON line (and the wall time)."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"worker {argv} failed:\n{out.stderr[-2000:]}")
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "process_wall_seconds": round(wall, 2)}


def worker_export(model: str, engine: str, dtype: str, quant: str, threads: int) -> dict[str, Any]:
    from mlir_bench.encoders import load_encoder

    enc = load_encoder(model, engine=engine, dtype=dtype, quantization=quant, threads=threads, device="cpu")
    return dict(enc.engine_info)


def _unique_texts(model_meta: Any, task: str, languages: list[str] | None) -> dict[str, list[str]]:
    from mlir_bench.tasks import load_task

    data = load_task(task, data_dir=DATA, **({"languages": languages} if languages else {}))
    return {"query": list(dict.fromkeys(data.queries.texts)), "document": list(dict.fromkeys(data.docs.texts))}


def worker_raw(model: str, task: str, dtype: str, threads: int, languages: list[str] | None) -> dict[str, Any]:
    """Raw sentence-transformers: the adapter's own SentenceTransformer object, encode() of the unique texts."""
    import contextlib

    import torch

    from mlir_bench.encoders import load_encoder

    torch.set_num_threads(threads)
    enc = load_encoder(model, threads=threads, device="cpu")  # fp32 weights; bf16 by autocast, as the adapter
    texts = _unique_texts(enc.meta, task, languages)
    st = enc.model
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if dtype == "bfloat16" else contextlib.nullcontext()
    n = 0
    with timed() as t, ctx:
        for role, items in texts.items():
            st.encode(items, prompt=enc.meta.prompt(role), batch_size=32, convert_to_numpy=True,
                      show_progress_bar=False)
            n += len(items)
    return {"texts": n, "encode_seconds": round(t.wall, 2), "encode_cpu_seconds": round(t.cpu, 2),
            "texts_per_second": round(n / t.wall, 1)}


def worker_mteb(model: str, task: str, dtype: str, threads: int, setting: str,
                languages: list[str] | None) -> dict[str, Any]:
    import mteb

    import mlir_bench.integrations.mteb_tasks as mt
    from mlir_bench.encoders import load_encoder
    from mlir_bench.integrations.mteb_models import as_mteb_model

    class Counting:
        def __init__(self, inner: Any) -> None:
            self.inner, self.meta, self.texts = inner, inner.meta, 0

        def encode(self, texts: Any, role: Any, *, batch_size: int | None = None, progress: Any = None) -> Any:
            self.texts += len(texts)
            return self.inner.encode(texts, role, batch_size=batch_size, progress=progress)

    class NeverHits:
        def get_many(self, key: str, texts: Any) -> Any:
            return None, list(range(len(texts)))

        def put_many(self, key: str, texts: Any, vectors: Any) -> None:
            pass

    enc = Counting(load_encoder(model, dtype=dtype, threads=threads, device="cpu"))
    with timed() as t:
        mteb.evaluate(as_mteb_model(enc, cache=NeverHits()),
                      tasks=[mt.mteb_task(task, setting=setting, data_dir=DATA, languages=languages)],
                      cache=None, show_progress_bar=False)
    return {"setting": setting, "texts": enc.texts, "seconds": round(t.wall, 2), "cpu_seconds": round(t.cpu, 2),
            "texts_per_second": round(enc.texts / t.wall, 1)}


def cold_run(model: str, task: str, combo: tuple[str, str, str], threads: int, languages: list[str] | None,
             work: Path, batch_size: int | None = None) -> dict[str, Any]:
    engine, dtype, quant = combo
    name = _label(combo).replace("/", "_")
    cache, out = work / f"cache_{name}", work / f"out_{name}"
    for d in (cache, out):
        shutil.rmtree(d, ignore_errors=True)
    cmd = ["mlir-bench", "run", "-m", model, "-t", task, "--engine", engine, "--dtype", dtype, "--quantize", quant,
           "--device", "cpu", "--threads", str(threads), "--cache-dir", str(cache), "--output-dir", str(out),
           "--runs", "none", "--no-progress"]
    if languages:
        cmd += ["--languages", ",".join(languages)]
    if batch_size:
        cmd += ["--batch-size", str(batch_size)]
    load = load_avg()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env={**os.environ, "MLIR_BENCH_DATA":
                                                                                 str(DATA)})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed",
                "load_start": load}
    (path,) = out.glob("*.json")
    res = json.loads(path.read_text())
    tm, man = res["manifest"]["timings"], res["manifest"]
    n = sum(v["encoded"] for v in man["encoded"].values())
    enc_s = tm["encode_query_seconds"] + tm["encode_document_seconds"]
    return {"wall_seconds": round(wall, 2), "load_start": round(load, 2), "texts_encoded": n,
            "encode_seconds": round(enc_s, 2), "texts_per_second": round(n / enc_s, 1),
            "main_score": res["main_score"], "encoding": man.get("encoding"), "result": res}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("--worker-"):
        kind, args = sys.argv[1], json.loads(sys.argv[2])
        fn = {"--worker-export": worker_export, "--worker-raw": worker_raw, "--worker-mteb": worker_mteb}[kind]
        print(json.dumps(fn(**args)))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="me5-small")
    ap.add_argument("--task", default="xquad-r")
    ap.add_argument("--languages", default="", help="a subset (default: all the task's languages)")
    ap.add_argument("--combos", default="torch:bfloat16,openvino:bfloat16,onnx:float32:int8")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--batch-size", type=int, default=None, help="mlir-bench run --batch-size (default: its own)")
    ap.add_argument("--raw", default="", help="dtype(s) of raw sentence-transformers encodes (e.g. bfloat16)")
    ap.add_argument("--mteb", default="", help="mteb setting to evaluate (mono or multi); empty: skip")
    ap.add_argument("--mteb-dtype", default="bfloat16")
    ap.add_argument("--max-load", type=float, default=1.5)
    ap.add_argument("--busy-ok", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    langs = args.languages.split(",") if args.languages else None
    combos = [_combo(c) for c in args.combos.split(",") if c]
    header(f"cold full runs: {args.model} on {args.task} ({args.languages or 'all languages'}), {args.threads} "
           "threads, empty embedding cache per run")
    report: dict[str, Any] = {"model": args.model, "task": args.task, "languages": langs, "threads": args.threads,
                              "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "exports": {}, "runs": {},
                              "raw": {}, "mteb": None}
    for c in combos:  # the one-off exports, before any timed run
        info = _worker(["--worker-export", json.dumps({"model": args.model, "engine": c[0], "dtype": c[1],
                                                        "quant": c[2], "threads": args.threads})])
        report["exports"][_label(c)] = info
        print(f"export {_label(c):20s} ready ({info.get('exported_seconds')} s now; artifact {info.get('artifact')})")
    work = Path(tempfile.mkdtemp(prefix="mlir_cold_"))
    ref: dict[str, Any] | None = None
    for c in combos:
        load = _wait_idle(args.max_load, args.busy_ok, f"the {_label(c)} run")
        row = cold_run(args.model, args.task, c, args.threads, langs, work, args.batch_size)
        row["load_start"] = round(load, 2)
        res = row.pop("result", None)
        if res is not None:
            if ref is None:
                ref = res
                row["max_metric_delta_vs_first"] = 0.0
            else:
                deltas = [abs(v - res[sec][k]["scores"][m]) for sec in ("cells", "settings")
                          for k, cell in ref[sec].items() for m, v in cell["scores"].items()
                          if v is not None and res[sec][k]["scores"].get(m) is not None]
                row["max_metric_delta_vs_first"] = round(max(deltas), 5)
        report["runs"][_label(c)] = row
        if "error" in row:
            print(f"{_label(c):20s} FAILED: {row['error']}")
            continue
        print(f"{_label(c):20s} cold run {row['wall_seconds']:7.1f} s wall (load {row['load_start']:.2f}) · encode "
              f"{row['encode_seconds']:.1f} s, {row['texts_per_second']} texts/s for {row['texts_encoded']} texts · "
              f"{row['main_score']['metric']} {row['main_score']['value']:.4f} · max metric Δ vs "
              f"{_label(combos[0])} {row['max_metric_delta_vs_first']} · device {(row['encoding'] or {}).get('device')}",
              flush=True)
    for dtype in [d for d in args.raw.split(",") if d]:
        load = _wait_idle(args.max_load, args.busy_ok, f"raw {dtype}")
        raw = _worker(["--worker-raw", json.dumps({"model": args.model, "task": args.task, "dtype": dtype,
                                                    "threads": args.threads, "languages": langs})])
        raw["load_start"] = round(load, 2)
        report["raw"][dtype] = raw
        print(f"raw sentence-transformers {dtype}: encode {raw['encode_seconds']} s for {raw['texts']} texts "
              f"({raw['texts_per_second']} texts/s); process {raw['process_wall_seconds']} s (load {load:.2f})",
              flush=True)
    if args.mteb:
        load = _wait_idle(args.max_load, args.busy_ok, "mteb")
        m = _worker(["--worker-mteb", json.dumps({"model": args.model, "task": args.task, "dtype": args.mteb_dtype,
                                                   "threads": args.threads, "setting": args.mteb,
                                                   "languages": langs})])
        m["load_start"] = round(load, 2)
        report["mteb"] = m
        print(f"mteb evaluate ({args.mteb} setting, {args.mteb_dtype}): {m['seconds']} s for {m['texts']} texts "
              f"encoded ({m['texts_per_second']} texts/s); process {m['process_wall_seconds']} s (load {load:.2f})")
    shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
