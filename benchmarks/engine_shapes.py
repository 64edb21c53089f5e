"""Why an engine is slower cold than warm (issue 19): per-shape preparation, and padding lengths to a multiple.

``engines.py`` reports the best of several rounds over the same texts, so every batch shape has been seen before
the round that counts; a cold full run meets each (batch, length) shape once. An engine that prepares kernels per
input shape (OpenVINO's CPU plugin with a dynamic-shape model) pays that cost in the cold run only. This script
measures it: for each ``engine:dtype`` and each ``--pad`` multiple, a fresh encoder encodes ``--n`` real texts
(XQuAD-R candidates and questions of every language, seeded order) twice; round 1 is cold, round 2 warm. For the
exported engines it counts the distinct shapes the backbone saw, and checks that padding changes no vector
(cosine of every text against the unpadded vectors of the same engine).

    /work/shared/tools/heavy python benchmarks/engine_shapes.py --model me5-small --n 4000
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, header, load_avg, timed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="me5-small")
    ap.add_argument("--task", default="xquad-r")
    ap.add_argument("--combos", default="torch:float32,openvino:float32,openvino:bfloat16,onnx:float32")
    ap.add_argument("--pad", default="1,16,64", help="pad multiples tried for the exported engines")
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--max-load", type=float, default=1.5)
    ap.add_argument("--busy-ok", action="store_true")
    args = ap.parse_args()

    start_load = load_avg()
    header(f"engine shapes: {args.model}, {args.n} texts of {args.task}, {args.threads} threads")
    if start_load > args.max_load and not args.busy_ok:
        print(f"REFUSED: load average {start_load:.2f} > {args.max_load}")
        sys.exit(3)

    import torch

    torch.set_num_threads(args.threads)
    from mlir_bench.encoders import load_encoder
    from mlir_bench.tasks import load_task

    task = load_task(args.task, data_dir=DATA)
    texts = list(dict.fromkeys(list(task.docs.texts) + list(task.queries.texts)))
    rng = np.random.default_rng(0)
    texts = [texts[i] for i in rng.permutation(len(texts))[: args.n]]
    pads = [int(x) for x in args.pad.split(",")]

    rows: list[dict[str, Any]] = []
    for combo in args.combos.split(","):
        engine, dtype = combo.split(":")
        ref: np.ndarray | None = None
        for pad in (pads if engine != "torch" else [1]):
            enc = load_encoder(args.model, engine=engine, dtype=dtype, threads=args.threads,
                               batch_size=args.batch_size, device="cpu")
            shapes: set[tuple[int, ...]] = set()
            backbone = enc.model[0].model if engine != "torch" else None
            if backbone is not None:
                backbone.pad_multiple = pad
                inner = backbone.runner

                def counted(feeds: dict[str, np.ndarray], inner: Any = inner,
                            seen: set[tuple[int, ...]] = shapes) -> np.ndarray:
                    seen.add(feeds["input_ids"].shape)
                    return inner(feeds)

                backbone.runner = counted
            times = []
            for _ in range(2):
                with timed() as t:
                    vecs = enc.encode(texts, "document")
                times.append(t.wall)
            cos = None
            if ref is None:
                ref = vecs
            else:
                cos = float(np.min(np.sum(ref * vecs, axis=1)))
            row = {"combo": combo, "pad": pad, "cold_s": times[0], "warm_s": times[1],
                   "shapes": len(shapes) if backbone is not None else None, "cos_min_vs_pad1": cos}
            rows.append(row)
            print(f"{combo:18s} pad {pad:3d}: cold {times[0]:7.1f} s ({len(texts) / times[0]:6.1f} texts/s) · warm "
                  f"{times[1]:7.1f} s ({len(texts) / times[1]:6.1f} texts/s) · cold/warm {times[0] / times[1]:.2f}"
                  + (f" · {len(shapes)} shapes" if backbone is not None else "")
                  + (f" · cos min vs pad 1 {cos:.6f}" if cos is not None else ""), flush=True)
            del enc
    print()
    print(f"| {args.model}, {len(texts)} texts | pad multiple | distinct shapes | cold s | warm s | cold / warm | "
          "cos min vs pad 1 |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['combo']} | {r['pad']} | {r['shapes'] if r['shapes'] is not None else '—'} | {r['cold_s']:.1f} | "
              f"{r['warm_s']:.1f} | {r['cold_s'] / r['warm_s']:.2f} | "
              + (f"{r['cos_min_vs_pad1']:.6f}" if r["cos_min_vs_pad1"] is not None else "—") + " |")
    print(f"\nload average at the start: {start_load:.2f}")


if __name__ == "__main__":
    main()
