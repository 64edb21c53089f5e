"""Benchmark 1: the harness's encoding against a raw ``SentenceTransformer.encode`` of the same texts.

Same model object (minilm-l6), same dtype, same batch size, same threads, same ~1000 real XQuAD-R sentences.
The harness side is the whole embedding stage (:func:`embed_corpus`): de-duplication, length sorting, the
adapter, validation and, in the second variant, writing every chunk to a fresh on-disk cache (checksummed shards).
The two sides alternate for ``--rounds`` rounds; the ratio is raw time / harness time on the best round of each
(>= 0.95 means the harness costs at most ~5% over the bare model call).

    nice -n 10 python benchmarks/b1_encode_overhead.py --n 1000 --rounds 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best, header, interleave, median_wall, real_texts  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="minilm-l6")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--dtype", default="float32")
    args = ap.parse_args()

    from mlir_bench.embedding import embed_corpus
    from mlir_bench.embedding.cache import EmbeddingCache
    from mlir_bench.encoders import load_encoder

    header(f"benchmark 1: harness encode vs raw SentenceTransformer.encode ({args.model}, {args.dtype})")
    texts = real_texts(args.n)
    enc = load_encoder(args.model, dtype=args.dtype, batch_size=args.batch_size)
    model = enc.model  # the very SentenceTransformer the adapter wraps
    import contextlib

    import torch

    print(f"{len(texts)} texts, mean {np.mean([len(t) for t in texts]):.0f} chars; torch threads "
          f"{torch.get_num_threads()}; batch size {args.batch_size}")

    def raw() -> np.ndarray:
        ctx = (torch.autocast("cpu", dtype=torch.bfloat16) if args.dtype == "bfloat16"
               else contextlib.nullcontext())
        with ctx:
            return model.encode(texts, batch_size=args.batch_size, convert_to_numpy=True,
                                normalize_embeddings=True, show_progress_bar=False)

    def harness_nocache() -> np.ndarray:
        return embed_corpus(enc, texts, "document", batch_size=args.batch_size)[0]

    tmp = tempfile.TemporaryDirectory(prefix="h7_b1_")
    runs = [0]

    def harness_cache() -> np.ndarray:  # a fresh cache each round: every text encoded and written
        runs[0] += 1
        cache = EmbeddingCache(Path(tmp.name) / str(runs[0]))
        return embed_corpus(enc, texts, "document", batch_size=args.batch_size, cache=cache, chunk_size=2048)[0]

    raw()  # warm-up (first call pays allocator and thread-pool start)
    res = interleave({"raw": raw, "harness": harness_nocache, "harness+cache": harness_cache}, args.rounds)
    r = best(res["raw"])
    for name in ("raw", "harness", "harness+cache"):
        b = best(res[name])
        print(f"{name:14s} best {b.wall:7.2f} s wall ({b.cpu:7.2f} s cpu)  median {median_wall(res[name]):7.2f} s"
              f"  {len(texts) / b.wall:6.1f} texts/s")
    for name in ("harness", "harness+cache"):
        b = best(res[name])
        print(f"ratio raw/{name}: wall {r.wall / b.wall:.3f}  cpu {r.cpu / b.cpu:.3f}  "
              f"(median-wall {median_wall(res['raw']) / median_wall(res[name]):.3f})")
    a, h = raw(), harness_nocache()
    cos = np.sum(a * h, axis=1)
    print(f"vectors: raw vs harness cosine min {cos.min():.7f}, max |diff| {np.abs(a - h).max():.2e}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
