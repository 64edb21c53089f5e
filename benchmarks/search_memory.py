"""Peak memory and time of exact sharded search over 100k, 1M and 3M stored vectors (d = 384).

Each size runs in its own subprocess, so each peak RSS (``ru_maxrss``) belongs to that size alone:

1. build: random unit vectors (seeded) are written as a shard store, one shard at a time (reused if present);
2. search: 100 random unit queries, k = 100, 3 random relevant documents per query, streaming the shards
   (:func:`mlir_bench.search.sharded.sharded_search`). ``rss_before`` is the peak after imports, the queries
   and a warm-up search of a tiny store (numba kernels loaded); ``peak`` is the peak after the search.

With ``--in-memory`` the same search is also run, in another subprocess, with the whole matrix loaded
(``exact_search``) for the sizes up to 1M, to show what the shards save (and that both rank identically). With ``--ann ivf`` a faiss index is built over the largest store and its
recall@100 against the exact top-100 is measured.

Usage: ``python benchmarks/search_memory.py [--sizes 100000,1000000,3000000] [--workdir /tmp/mlir-bench-shards]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

DIM = 384
SHARD = 100_000
N_QUERIES = 100
K = 100


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _unit(rng, n: int, d: int):  # type: ignore[no-untyped-def]
    import numpy as np

    x = rng.standard_normal((n, d), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def build(n: int, folder: Path, dtype: str) -> None:
    import numpy as np

    from mlir_bench.search.sharded import MANIFEST, ShardWriter

    man = folder / MANIFEST
    if man.exists():
        m = json.loads(man.read_text())
        if m.get("complete") and m.get("rows") == n and m.get("dtype") == dtype:
            print(json.dumps({"built": False, "rows": n}))
            return
    t0 = time.perf_counter()
    w = ShardWriter(folder, DIM, dtype=dtype, shard_size=SHARD, meta={"random": "seed=1,unit"}, overwrite=True)
    for s, a in enumerate(range(0, n, SHARD)):
        b = min(n, a + SHARD)
        rng = np.random.default_rng([1, s])
        w.add([f"d{i:09d}" for i in range(a, b)], _unit(rng, b - a, DIM))
    w.close()
    print(json.dumps({"built": True, "rows": n, "seconds": round(time.perf_counter() - t0, 2),
                      "peak_rss_mb": round(_rss_mb(), 1)}))


def _setup(folder: Path):  # type: ignore[no-untyped-def]
    import tempfile

    import numpy as np

    from mlir_bench.search import pad_relevant
    from mlir_bench.search.sharded import ShardedStore, sharded_search, write_store

    store = ShardedStore.open(folder)
    rng = np.random.default_rng(7)
    q = _unit(rng, N_QUERIES, DIM)
    rel = pad_relevant([list(rng.choice(store.n, 3, replace=False)) for _ in range(N_QUERIES)])
    with tempfile.TemporaryDirectory() as t:  # warm-up: load the compiled kernels before measuring
        tiny = write_store(t, [f"w{i}" for i in range(2000)], _unit(rng, 2000, DIM), shard_size=1000)
        sharded_search(q, tiny, k=K, relevant=pad_relevant([[0]] * N_QUERIES))
    return store, q, rel


def search_in_memory(folder: Path) -> None:
    """The same search on the whole matrix loaded at once (exact_search), for contrast."""
    import numpy as np

    from mlir_bench.search import exact_search

    store, q, rel = _setup(folder)
    before = _rss_mb()
    t0 = time.perf_counter()
    full = np.concatenate([v for _, v, _ in store.iter_shards()], axis=0)
    order = np.concatenate([o for _, _, o in store.iter_shards()])
    ex = exact_search(q, full, k=K, relevant=rel, doc_order=order)["all"]
    print(json.dumps({"in_memory_rss_before_mb": round(before, 1), "in_memory_peak_rss_mb": round(_rss_mb(), 1),
                      "in_memory_seconds": round(time.perf_counter() - t0, 2),
                      "in_memory_top_idx": ex.top_idx[:5, :10].tolist(),
                      "in_memory_rel_ranks": ex.rel_ranks.tolist()}))


def search(folder: Path, ann: str | None) -> None:
    import numpy as np

    from mlir_bench.search.sharded import sharded_search

    store, q, rel = _setup(folder)
    before = _rss_mb()
    t0 = time.perf_counter()
    res = sharded_search(q, store, k=K, relevant=rel)["all"]
    out = {"rows": store.n, "shards": len(store.shards), "rss_before_mb": round(before, 1),
           "peak_rss_mb": round(_rss_mb(), 1), "seconds": round(time.perf_counter() - t0, 2),
           "mean_rank_of_relevant": float(res.rel_ranks[res.rel_ranks > 0].mean()),
           "top_idx": res.top_idx[:5, :10].tolist(), "rel_ranks": res.rel_ranks.tolist()}
    if ann:
        from mlir_bench.search.faiss_index import build_index, recall_at_k

        index = build_index(store, ann, threads=2)
        t0 = time.perf_counter()
        _, approx = index.search(q, K)
        out["ann"] = {**index.describe(), "search_seconds": round(time.perf_counter() - t0, 3),
                      f"recall@{K}_vs_exact": float(np.nanmean(recall_at_k(approx, res.top_idx, K))),
                      "peak_rss_mb": round(_rss_mb(), 1)}
    print(json.dumps(out))


def _child(args: list[str]) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"),
           "NUMBA_NUM_THREADS": os.environ.get("NUMBA_NUM_THREADS", "2")}
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env, check=False)
    if proc.returncode:
        raise SystemExit(f"child {args} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,1000000,3000000")
    ap.add_argument("--workdir", default="/tmp/mlir-bench-shards")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    ap.add_argument("--in-memory", action="store_true", help="also run exact_search on the loaded matrix (<= 1M)")
    ap.add_argument("--ann", choices=["ivf", "ivfpq", "hnsw"], help="measure a faiss index on the largest size")
    ap.add_argument("--json", type=Path, help="write the rows here")
    ap.add_argument("--_build", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--_search", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--_in_memory", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--_dir", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a._build:
        return build(a._build, a._dir, a.dtype)
    if a._in_memory:
        return search_in_memory(a._dir)
    if a._search:
        return search(a._dir, a.ann)
    sizes = [int(s) for s in a.sizes.split(",")]
    rows = []
    for n in sizes:
        folder = Path(a.workdir) / f"n{n}-{a.dtype}"
        b = _child(["--_build", str(n), "--_dir", str(folder), "--dtype", a.dtype])
        extra = ["--ann", a.ann] if a.ann and n == max(sizes) else []
        s = _child(["--_search", "--_dir", str(folder), *extra])
        if a.in_memory and n <= 1_000_000:
            m = _child(["--_in_memory", "--_dir", str(folder)])
            s["in_memory_same_ranking"] = (m.pop("in_memory_top_idx") == s["top_idx"]
                                           and m.pop("in_memory_rel_ranks") == s["rel_ranks"])
            s.update(m)
        s.pop("top_idx")
        s.pop("rel_ranks")
        rows.append({"n": n, "build": b, **s})
        print(f"done {n}", file=sys.stderr, flush=True)
    print(f"{'vectors':>10} {'shards':>6} {'store GB':>8} {'RSS before':>10} {'peak RSS':>9} {'search s':>8}"
          f" {'in-memory peak':>14}")
    for r in rows:
        gb = r["n"] * DIM * (4 if a.dtype == "float32" else 2) / 1e9
        im = (f"{r['in_memory_peak_rss_mb']:.0f} MB" + ("" if r["in_memory_same_ranking"] else " (DIFFERS)")
              if "in_memory_peak_rss_mb" in r else "-")
        print(f"{r['n']:>10,} {r['shards']:>6} {gb:>8.2f} {r['rss_before_mb']:>7.0f} MB {r['peak_rss_mb']:>6.0f} MB"
              f" {r['seconds']:>8.1f} {im:>14}")
    for r in rows:
        if "ann" in r:
            print(f"ANN {r['ann']['kind']} over {r['n']:,}: recall@{K} vs exact = "
                  f"{r['ann'][f'recall@{K}_vs_exact']:.4f} ({r['ann']['params']}), build {r['ann']['build_seconds']} s")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
