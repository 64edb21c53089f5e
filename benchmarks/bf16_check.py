"""bf16 autocast against fp32 on a check set: vector agreement, metric deltas and speed; which wins.

The same model (default minilm-l6) runs the same task subset (default XQuAD-R, English) in float32 and in
bfloat16 (CPU autocast, ``--dtype bfloat16``), each through the real runner with its own cache key. bf16 is
acceptable only if every text's vector has cosine >= 0.999 with its fp32 vector AND no metric of any cell or
setting moves by more than 1e-3; it wins if it is also faster (encode CPU seconds; wall is printed too).

    nice -n 10 python benchmarks/bf16_check.py --model minilm-l6 --languages en
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, header, timed  # noqa: E402

COS_MIN = 0.999
METRIC_TOL = 1e-3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="minilm-l6")
    ap.add_argument("--task", default="xquad-r")
    ap.add_argument("--languages", default="en")
    ap.add_argument("--cache-dir", type=Path, default=None, help="keep vectors here (default: temporary)")
    args = ap.parse_args()

    from mlir_bench.embedding.cache import EmbeddingCache
    from mlir_bench.encoders import load_encoder
    from mlir_bench.runner import RunConfig, run_evaluation
    from mlir_bench.tasks import load_task

    langs = args.languages.split(",") if args.languages else None
    header(f"bf16 check: {args.model} on {args.task} ({args.languages or 'all languages'})")
    tmp = tempfile.TemporaryDirectory(prefix="h7_bf16_")
    cache = EmbeddingCache(args.cache_dir or Path(tmp.name) / "cache")
    results, encoders, times = {}, {}, {}
    for dtype in ("float32", "bfloat16"):
        enc = load_encoder(args.model, dtype=dtype)
        encoders[dtype] = enc
        cfg = RunConfig(model=args.model, task=args.task, data_dir=DATA, output_dir=Path(tmp.name) / dtype,
                        runs_dir=None, languages=langs, cache=cache, overwrite=True, encoder_factory=lambda n, e=enc: e)
        with timed() as t:
            results[dtype] = run_evaluation(cfg).to_json()
        times[dtype] = t
        tm = results[dtype]["manifest"]["timings"]
        enc_s = tm["encode_query_seconds"] + tm["encode_document_seconds"]
        n = sum(v["encoded"] for v in results[dtype]["manifest"]["encoded"].values())
        print(f"{dtype:9s} run {t.wall:7.1f} s wall ({t.cpu:7.1f} s cpu); encode {enc_s:7.1f} s wall for {n} texts "
              f"({n / enc_s if enc_s else float('nan'):.1f} texts/s)")
    task = load_task(args.task, data_dir=DATA, **({"languages": langs} if langs else {}))
    cos_all = []
    for role, texts in (("query", task.queries.texts), ("document", task.docs.texts)):
        uniq = list(dict.fromkeys(texts))
        a, ta = cache.get_many(encoders["float32"].meta.vector_key(role), uniq)
        b, tb = cache.get_many(encoders["bfloat16"].meta.vector_key(role), uniq)
        assert a is not None and b is not None and not ta and not tb
        cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        cos_all.append(cos)
        print(f"{role:9s} cosine fp32 vs bf16 over {len(uniq)} texts: min {cos.min():.5f}  p1 "
              f"{np.quantile(cos, 0.01):.5f}  mean {cos.mean():.5f}")
    cos = np.concatenate(cos_all)
    deltas = []
    for key, c in results["float32"]["cells"].items():
        for m, v in c["scores"].items():
            w = results["bfloat16"]["cells"][key]["scores"][m]
            if v is not None and w is not None:
                deltas.append((abs(v - w), f"cell {key} {m}", v, w))
    for s, c in results["float32"]["settings"].items():
        for m, v in c["scores"].items():
            w = results["bfloat16"]["settings"][s]["scores"][m]
            if v is not None and w is not None:
                deltas.append((abs(v - w), f"setting {s} {m}", v, w))
    deltas.sort(reverse=True)
    print(f"metric deltas over {len(deltas)} (cell or setting, metric) values: max {deltas[0][0]:.5f} "
          f"({deltas[0][1]}: {deltas[0][2]:.5f} -> {deltas[0][3]:.5f}); "
          f"{sum(d[0] > METRIC_TOL for d in deltas)} exceed {METRIC_TOL}")
    for d in deltas[:5]:
        print(f"   {d[1]:40s} fp32 {d[2]:.5f} bf16 {d[3]:.5f} delta {d[0]:.5f}")
    ok_cos = bool(cos.min() >= COS_MIN)
    ok_metric = deltas[0][0] <= METRIC_TOL
    tf = results["float32"]["manifest"]["timings"]
    tb = results["bfloat16"]["manifest"]["timings"]
    speed = ((tf["encode_query_seconds"] + tf["encode_document_seconds"])
             / (tb["encode_query_seconds"] + tb["encode_document_seconds"]))
    print(f"cosine >= {COS_MIN} for every text: {ok_cos} · every metric within {METRIC_TOL}: {ok_metric} · "
          f"bf16 encode speed-up (wall): {speed:.2f}x · run cpu ratio fp32/bf16 "
          f"{times['float32'].cpu / times['bfloat16'].cpu:.2f}x")
    verdict = "bf16 WINS" if ok_cos and ok_metric and speed > 1 else "fp32 WINS (bf16 fails the check or is slower)"
    print(f"verdict: {verdict}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
