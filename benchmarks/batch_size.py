"""Which batch size suits this machine: CPU seconds per text of the harness's encoding at several batch sizes.

CPU seconds (not wall) are compared because the machine is shared; on a dedicated machine wall follows CPU.
Batches are token-sorted (the adapter's order), so larger batches add little padding; what remains is the
trade-off between per-call overhead (small batches) and cache-unfriendly large activations (large batches).

    nice -n 10 python benchmarks/batch_size.py --model minilm-l6 --n 512 --sizes 8,16,32,64,128
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, real_texts, timed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="minilm-l6")
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--sizes", default="8,16,32,64,128")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    from mlir_bench.embedding import embed_corpus
    from mlir_bench.encoders import load_encoder

    header(f"batch size sweep ({args.model})")
    texts = real_texts(args.n)
    enc = load_encoder(args.model)
    embed_corpus(enc, texts[:64], "document", batch_size=32)  # warm-up
    sizes = [int(x) for x in args.sizes.split(",")]
    best: dict[int, float] = {}
    for _ in range(args.rounds):
        for b in sizes:
            with timed() as t:
                embed_corpus(enc, texts, "document", batch_size=b)
            best[b] = min(best.get(b, float("inf")), t.cpu)
    top = min(best, key=best.__getitem__)
    for b in sizes:
        print(f"batch {b:4d}: {best[b] / len(texts) * 1000:7.2f} ms cpu per text  "
              f"({best[top] / best[b]:.2f} of the best)")
    print(f"best batch size here: {top}")


if __name__ == "__main__":
    main()
