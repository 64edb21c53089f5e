"""The cost of a transform's estimation step, cold: encode the estimation texts (no cache) and fit.

    MLIR_BENCH_DATA=../shared/data python benchmarks/transform_estimation.py --model me5-small --dtype bfloat16

For one model and the XQuAD-R languages: NTREX-128's 1,997 sentences in the 11 languages (21,967 texts) encoded in
each role a method reads, then every method fitted; prints texts/s per role, the fit time of each method, and the
apply time over the XQuAD-R pool-sized matrix. Refuses to report timings when the 1-minute load average is above
1.5 at the start (the figures would not be the machine's).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import DATA, header, load_avg

LANGS = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="me5-small")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()

    from mlir_bench.encoders.registry import load_encoder
    from mlir_bench.runner.transform_step import load_estimation
    from mlir_bench.transforms import Estimation, fit, parse_transform

    header(f"transform estimation, cold: {args.model} ({args.dtype}) on NTREX-128, {len(LANGS)} languages")
    start_load = load_avg()
    if start_load > 1.5:
        raise SystemExit(f"load average {start_load:.2f} > 1.5 at the start: not measuring (rerun on an idle machine)")
    texts = load_estimation(parse_transform("center:ntrex"), set(LANGS), DATA)
    enc = load_encoder(args.model, dtype=args.dtype, batch_size=args.batch_size)
    vectors = {}
    for role in ("query", "document"):
        t0 = time.perf_counter()
        vectors[role] = np.asarray(enc.encode(texts.texts, role, batch_size=args.batch_size))
        s = time.perf_counter() - t0
        print(f"encode {role:8s}: {len(texts.texts):,} texts in {s:7.1f} s = {len(texts.texts) / s:6.1f} texts/s")
    langs = np.asarray(texts.langs)
    est = Estimation(vectors, {"query": langs, "document": langs},
                     {"query": np.asarray(texts.groups), "document": np.asarray(texts.groups)})
    wanted = {"query": set(LANGS), "document": set(LANGS)}
    pool = np.repeat(vectors["document"], 1, axis=0)[:13014]
    for name in ("center:ntrex", "shift:ntrex", "lir:1:ntrex", "lir:4:ntrex", "procrustes:ntrex"):
        spec = parse_transform(name)
        t0 = time.perf_counter()
        fitted = fit(spec.method, spec.param, est, wanted, source="ntrex")
        t1 = time.perf_counter()
        fitted.apply(pool, langs[: len(pool)], "document")
        t2 = time.perf_counter()
        print(f"{name:17s} fit {t1 - t0:6.2f} s   apply to {len(pool):,} vectors {t2 - t1:6.2f} s")
    print(f"load average at start {start_load:.2f}, at end {load_avg():.2f}")


if __name__ == "__main__":
    main()
