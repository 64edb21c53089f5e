"""Benchmark 3: the time to score every cell of XQuAD-R once the vectors exist (bias scorers included).

Vectors come from the embedding cache (run ``mlir-bench run -m <model> -t xquad-r`` once first; the model itself
is never loaded). Timed, in this process, with no search checkpoint: the search of all 132 cells (11 query groups,
one matrix product and one pass each), the metrics of every cell and the setting averages, and the language-bias
and geometry statistics of the Multi setting (without drawing the heatmaps). Target: < 5 s.

    nice -n 10 python benchmarks/b3_scoring.py --model muse-v3 --rounds 3 [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, Timing, header, timed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="muse-v3")
    ap.add_argument("--task", default="xquad-r")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cache-dir", type=Path, default=None)
    args = ap.parse_args()

    from mlir_bench.embedding import embed_corpus
    from mlir_bench.embedding.cache import EmbeddingCache
    from mlir_bench.embedding.lazy import LazyEncoder, load_encoder_lazily
    from mlir_bench.io import default_cache_root
    from mlir_bench.runner.bias_section import language_analysis
    from mlir_bench.runner.run import DEFAULT_METRICS, query_groups, score_cells
    from mlir_bench.scoring.aggregate import macro_average
    from mlir_bench.search import doc_id_order, exact_search, kernels
    from mlir_bench.search.plan import InMemory, run_plan
    from mlir_bench.tasks import load_task

    header(f"benchmark 3: score every cell of {args.task} after encoding ({args.model})")
    cache = EmbeddingCache(args.cache_dir or default_cache_root() / "embeddings")
    task = load_task(args.task, data_dir=DATA)
    enc = load_encoder_lazily(args.model)
    qv, qs = embed_corpus(enc, task.queries.texts, "query", cache=cache)
    dv, ds = embed_corpus(enc, task.docs.texts, "document", cache=cache)
    if isinstance(enc, LazyEncoder) and enc.loaded or qs.n_encoded or ds.n_encoded:
        print(f"note: {qs.n_encoded + ds.n_encoded} texts were not cached and were encoded now")
    n_q, n_d = qv.shape[0], dv.shape[0]
    dim = qv.shape[1]
    print(f"{len(task.cells)} cells · {n_q} queries · {n_d} candidates · d={dim} · numba={kernels.HAVE_NUMBA}")
    # warm-up: numba loads its compiled kernels from disk on first call (a per-process cost, reported apart)
    with timed() as warm:
        exact_search(qv[:8], dv[:64], k=5)
    print(f"first-call kernel load: {warm.wall:.2f} s wall ({warm.cpu:.2f} s cpu)")
    phases: dict[str, list[Timing]] = {"search": [], "metrics": [], "bias": [], "total": []}
    for _ in range(args.rounds):
        with timed() as tot:
            with timed() as t:
                searched = run_plan(query_groups(task), qv, InMemory(dv, doc_id_order(task.docs.ids)), k=100)
            phases["search"].append(t)
            with timed() as t:
                cells, _ = score_cells(task, searched, list(DEFAULT_METRICS))
                macro_average(cells.values(), list(DEFAULT_METRICS))
            phases["metrics"].append(t)
            with timed() as t:
                language_analysis(task, searched, qv, dv, None, "bench")
            phases["bias"].append(t)
        phases["total"].append(tot)
    gflop = 2 * n_q * n_d * dim / 1e9
    for name, ts in phases.items():
        b = min(ts, key=lambda x: x.wall)
        med = sorted(x.wall for x in ts)[len(ts) // 2]
        print(f"{name:8s} best {b.wall:6.2f} s wall ({b.cpu:6.2f} s cpu)   median {med:6.2f} s")
    best_total = min(t.wall for t in phases["total"])
    print(f"search: {gflop:.0f} GFLOP of query-document products (exact, fp32) for all cells")
    print(f"target < 5 s: best total {best_total:.2f} s -> {'MET' if best_total < 5 else 'NOT MET'}"
          f" (cpu {min(phases['total'], key=lambda x: x.wall).cpu:.2f} s)")


if __name__ == "__main__":
    main()
