"""Benchmark 4: achieved encoder GFLOP/s against this CPU's measured GEMM peak.

How FLOPs are counted (a transformer encoder, BERT-style, as minilm-l6 is): per layer and per sequence of L tokens
with hidden size d and feed-forward size f,

    8·L·d²   (Q, K, V and output projections: 4 matmuls of L×d by d×d, 2 FLOPs per multiply-add)
  + 4·L·d·f  (the two feed-forward matmuls)
  + 4·L²·d   (attention scores Q·Kᵀ and the weighted sum with V, over all heads)

Embedding lookups, layer norms, softmax, GELU and pooling are left out (they are < 2% here). L is taken two ways:
*executed* FLOPs use the padded length of each batch exactly as the adapter forms them (texts sorted by token
count, ``batch_size`` per batch, padded to the batch's longest, truncated at max_seq_length); *useful* FLOPs use each
text's own token count. The encode time is the harness's (:func:`embed_corpus`, no cache), best of ``--rounds``.

The peak is measured, not taken from a datasheet: ``torch.matmul`` of square fp32 (and bf16) matrices at the
same thread count, best of several sizes and repeats, interleaved with the encoding rounds (the machine is
shared, so both sides see the same contention).

    nice -n 10 python benchmarks/b4_gflops.py --n 1000 --rounds 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, real_texts, timed  # noqa: E402


def gemm_peak(dtype: str, sizes: tuple[int, ...] = (1024, 2048, 3072), repeats: int = 3) -> tuple[float, int, float]:
    """Best GFLOP/s of torch.matmul over square sizes (2·n³ FLOPs each), its size, and the best GFLOP per
    CPU-second (robust on a shared machine: it does not count time this process spent waiting for a core)."""
    import torch
    from _common import _cpu

    dt = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    best, at, best_cpu = 0.0, 0, 0.0
    for n in sizes:
        a = torch.randn(n, n).to(dt)
        b = torch.randn(n, n).to(dt)
        torch.matmul(a, b)
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), _cpu()
            torch.matmul(a, b)
            wall, cpu = time.perf_counter() - t0, _cpu() - c0
            g = 2 * n**3 / wall / 1e9
            if g > best:
                best, at = g, n
            if cpu > 0:
                best_cpu = max(best_cpu, 2 * n**3 / cpu / 1e9)
    return best, at, best_cpu


def encoder_flops(model, texts: list[str], batch_size: int) -> tuple[float, float, int, int]:
    """(executed, useful) FLOPs of encoding ``texts`` as the adapter batches them; also total and padded tokens."""
    cfg = model[0].auto_model.config
    d, f, layers = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    max_len = model.max_seq_length
    tok = model.tokenizer
    lengths = np.asarray([min(len(ids), max_len) for ids in tok(texts, add_special_tokens=True,
                                                                  truncation=True, max_length=max_len)["input_ids"]])
    from mlir_bench.encoders.sentence_transformers import token_lengths

    key = token_lengths(model, texts)  # the adapter's sort key (token counts; characters if it has none)
    order = np.argsort([-len(t) for t in texts] if key is None else -np.asarray(key), kind="stable")

    def per_seq(L: np.ndarray) -> np.ndarray:
        return layers * (8 * L * d * d + 4 * L * d * f + 4 * L * L * d)

    executed = 0.0
    padded = 0
    for a in range(0, len(texts), batch_size):
        idx = order[a:a + batch_size]
        L = int(lengths[idx].max())
        executed += len(idx) * float(per_seq(np.asarray(L)))
        padded += len(idx) * L
    useful = float(per_seq(lengths.astype(np.float64)).sum())
    return executed, useful, int(lengths.sum()), padded


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="minilm-l6")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    args = ap.parse_args()

    import torch

    from mlir_bench.embedding import embed_corpus
    from mlir_bench.encoders import load_encoder

    header(f"benchmark 4: encoder GFLOP/s vs measured GEMM peak ({args.model}, {args.dtype})")
    texts = real_texts(args.n)
    enc = load_encoder(args.model, dtype=args.dtype, batch_size=args.batch_size)
    executed, useful, tokens, padded = encoder_flops(enc.model, texts, args.batch_size)
    print(f"{len(texts)} texts · {tokens} tokens ({padded} with padding, {padded / tokens - 1:.1%} padding) · "
          f"torch threads {torch.get_num_threads()}")
    print(f"FLOPs: executed {executed / 1e9:.1f} GFLOP, useful {useful / 1e9:.1f} GFLOP")
    enc_times, peaks = [], []
    embed_corpus(enc, texts[:64], "document", batch_size=args.batch_size)  # warm-up
    for _ in range(args.rounds):
        peaks.append(gemm_peak(args.dtype))
        with timed() as t:
            embed_corpus(enc, texts, "document", batch_size=args.batch_size)
        enc_times.append(t)
    peaks.append(gemm_peak(args.dtype))
    best = min(enc_times, key=lambda t: t.wall)
    peak, at, _ = max(peaks)
    peak_cpu = max(p[2] for p in peaks)
    print(f"encode best {best.wall:.2f} s wall ({best.cpu:.2f} s cpu) · {len(texts) / best.wall:.1f} texts/s")
    print(f"GEMM peak ({args.dtype}, torch.matmul {at}x{at}): {peak:.1f} GFLOP/s wall "
          f"(rounds: {', '.join(f'{p[0]:.1f}' for p in peaks)}); {peak_cpu:.1f} GFLOP per CPU-second")
    ach_exec, ach_useful = executed / best.wall / 1e9, useful / best.wall / 1e9
    print(f"achieved (wall): {ach_exec:.1f} GFLOP/s executed ({ach_exec / peak:.1%} of peak), "
          f"{ach_useful:.1f} GFLOP/s useful ({ach_useful / peak:.1%} of peak)")
    cpu_share = best.cpu / best.wall / torch.get_num_threads()
    e_cpu, u_cpu = executed / best.cpu / 1e9, useful / best.cpu / 1e9
    print(f"achieved (per CPU-second, contention-free): {e_cpu:.1f} GFLOP executed ({e_cpu / peak_cpu:.1%} of the "
          f"GEMM's), {u_cpu:.1f} useful ({u_cpu / peak_cpu:.1%}); this process had {cpu_share:.0%} of "
          f"{torch.get_num_threads()} threads' CPU during the encode")


if __name__ == "__main__":
    main()
