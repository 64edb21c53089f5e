"""Benchmark 2: mlir-bench against mteb on equivalent work, the 42 cross-lingual pairs of MLQA-R.

mteb evaluates each (query language X, candidate language Y) pair as one subset with its own queries and corpus,
and encodes both per subset: every language's questions and candidates are encoded 6 times (once per pair they
appear in). mlir-bench encodes each unique (text, role) once and scores all 42 Cross cells (and the Mono and Multi
ones) from that single pass. Both sides use the same encoder object (no embedding cache on either side: mteb's
model wrapper is given a cache that never hits) and are counted by a wrapper: encode() calls and texts.

To stay within minutes on this machine the task is subsampled, with all 7 languages and all 42 pairs kept: for
every ordered pair, ``--per-pair`` questions asked in both languages (with all their language versions and answer
sentences), plus the first ``--candidates`` other candidates of each language. The text-count ratio of the full task is also computed exactly (no
encoding needed). Each side's nDCG@10 on the 42 pairs is printed as a check that the work is the same.

    nice -n 10 python benchmarks/b2_vs_mteb.py --model muse-v3 --per-pair 5 --candidates 100
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, header, timed  # noqa: E402


class Counting:
    """An Encoder wrapper that counts encode() calls and texts."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.meta = inner.meta
        self.calls = 0
        self.texts = 0

    def encode(self, texts: Sequence[str], role, *, batch_size: int = 32, progress=None):
        self.calls += 1
        self.texts += len(texts)
        return self.inner.encode(texts, role, batch_size=batch_size, progress=progress)


class NeverHits:
    """A cache for mteb's model wrapper that never hits: every subset is encoded, as with plain mteb models."""

    def get_many(self, key, texts):
        return None, list(range(len(texts)))

    def put_many(self, key, texts, vectors) -> None:
        pass


def subsample(task, per_pair: int, n_c: int):
    """All languages and cells kept: for every ordered language pair, ``per_pair`` questions (groups of parallel
    questions) asked in both languages, with every language version of them, their answer sentences, and the first
    ``n_c`` other candidates of each language."""
    from itertools import permutations

    from mlir_bench.tasks.base import Cell, Corpus

    q, d = task.queries, task.docs
    doc_pos = {x: i for i, x in enumerate(d.ids)}
    by_group: dict[str, list[int]] = {}
    for i, g in enumerate(q.groups or q.ids):
        if task.qrels.get(q.ids[i]):
            by_group.setdefault(g, []).append(i)
    langs_of = {g: {q.langs[i] for i in idx} for g, idx in by_group.items()}
    chosen: set[str] = set()
    for x, y in permutations(sorted(set(q.langs)), 2):
        have = [g for g in chosen if {x, y} <= langs_of[g]]
        for g in by_group:
            if len(have) >= per_pair:
                break
            if g not in chosen and {x, y} <= langs_of[g]:
                chosen.add(g)
                have.append(g)
    keep_q = sorted(i for g in chosen for i in by_group[g])
    keep_d = {doc_pos[x] for i in keep_q for x in task.qrels[q.ids[i]] if x in doc_pos}
    count: dict[str, int] = {}
    for i, lang in enumerate(d.langs):
        if count.get(lang, 0) < n_c:
            keep_d.add(i)
            count[lang] = count.get(lang, 0) + 1
    kd = sorted(keep_d)
    new_q = {old: new for new, old in enumerate(keep_q)}
    new_d = {old: new for new, old in enumerate(kd)}

    def corpus(c, idx):
        return Corpus([c.ids[i] for i in idx], [c.langs[i] for i in idx], [c.texts[i] for i in idx],
                      [c.groups[i] for i in idx] if c.groups is not None else None)

    cells = [Cell(c.setting, c.name, c.query_lang, c.doc_langs,
                  np.asarray([new_q[i] for i in c.query_idx if i in new_q], dtype=np.int64),
                  np.asarray([new_d[i] for i in c.doc_idx if i in new_d], dtype=np.int64)) for c in task.cells]
    kept_ids = {d.ids[i] for i in kd}
    qrels = {q.ids[i]: {x: r for x, r in task.qrels[q.ids[i]].items() if x in kept_ids} for i in keep_q}
    return replace(task, queries=corpus(q, keep_q), docs=corpus(d, kd), qrels=qrels, cells=cells)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="muse-v3")
    ap.add_argument("--per-pair", type=int, default=5, help="questions per ordered language pair")
    ap.add_argument("--candidates", type=int, default=100)
    args = ap.parse_args()

    import mteb

    import mlir_bench.integrations.mteb_tasks as mt
    import mlir_bench.runner.run as runner
    from mlir_bench.encoders import load_encoder
    from mlir_bench.integrations.mteb_models import as_mteb_model
    from mlir_bench.tasks import load_task

    header(f"benchmark 2: mlir-bench vs mteb, MLQA-R cross-lingual pairs ({args.model})")
    full = load_task("mlqa-r", data_dir=DATA)
    cross = [c for c in full.cells if c.setting == "cross"]
    mteb_full = sum(len(c.query_idx) + len(c.doc_idx) for c in cross)
    ours_full = len(set(full.queries.texts)) + len(set(full.docs.texts))
    print(f"full task: {len(cross)} pairs; mteb encodes {mteb_full} texts, mlir-bench {ours_full} unique "
          f"(query, document) texts: text ratio {mteb_full / ours_full:.2f}x; encode() calls "
          f"{2 * len(cross)} vs 2")
    task = subsample(full, args.per_pair, args.candidates)
    print(f"subsample: {len(task.queries)} queries, {len(task.docs)} candidates, {len(task.cells)} cells "
          f"({sum(c.setting == 'cross' for c in task.cells)} cross)")
    mt.load_task = lambda *a, **k: task  # both sides read the same subsample
    runner.load_task = lambda *a, **k: task
    base = load_encoder(args.model)

    ours_enc = Counting(base)
    with tempfile.TemporaryDirectory(prefix="h7_b2_") as tmp:
        cfg = runner.RunConfig(model=args.model, task="mlqa-r", output_dir=Path(tmp), runs_dir=None, cache=None,
                               bias=False, overwrite=True, encoder_factory=lambda n: ours_enc,
                               metrics=["ndcg@10"])
        with timed() as t_ours:
            ours = runner.run_evaluation(cfg).to_json()
    mteb_enc = Counting(base)
    model = as_mteb_model(mteb_enc, cache=NeverHits())
    with timed() as t_mteb:
        res = mteb.evaluate(model, tasks=[mt.mteb_task("mlqa-r", setting="cross")], cache=None,
                            show_progress_bar=False)
    tr = res.task_results[0]
    split = next(iter(tr.scores))
    mteb_ndcg = {s["hf_subset"]: s.get(mt.UNROUNDED_KEY, s["ndcg_at_10"]) for s in tr.scores[split]}
    ours_ndcg = {c["name"]: c["scores"]["ndcg@10"] for c in ours["cells"].values() if c["setting"] == "cross"}
    diffs = [abs(mteb_ndcg[k] - ours_ndcg[k]) for k in ours_ndcg if k in mteb_ndcg and ours_ndcg[k] is not None]
    print(f"mlir-bench (all settings, one pass): {t_ours.wall:7.2f} s wall ({t_ours.cpu:7.2f} s cpu), "
          f"{ours_enc.calls} encode() calls, {ours_enc.texts} texts")
    print(f"mteb (42 cross subsets):            {t_mteb.wall:7.2f} s wall ({t_mteb.cpu:7.2f} s cpu), "
          f"{mteb_enc.calls} encode() calls, {mteb_enc.texts} texts")
    print(f"ratios mteb/mlir-bench: wall {t_mteb.wall / t_ours.wall:.2f}x, cpu {t_mteb.cpu / t_ours.cpu:.2f}x, "
          f"encode() calls {mteb_enc.calls / ours_enc.calls:.0f}x, texts encoded {mteb_enc.texts / ours_enc.texts:.2f}x")
    print(f"same work: {len(diffs)} pairs compared, max |nDCG@10 ours - mteb| = {max(diffs):.2e}")


if __name__ == "__main__":
    main()
