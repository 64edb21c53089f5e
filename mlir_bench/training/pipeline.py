"""The data pipeline shared by every method: corpora → examples → language plan → rows in batch order.

The rows of the returned ``datasets.Dataset`` are already laid out batch by batch (see :mod:`.samplers`), with
the student's prompt prepended to each text and the teacher's cached vectors as ``label``:

- distillation (stage 1, KD-only): columns ``text`` and ``label`` (the teacher vector of the English side);
- MIMO stage 2: ``query``, ``passage`` and ``label`` (teacher vectors of the English query and passage);
- InfoNCE baselines: ``query`` and ``passage``;

with ``[train] same_language_negatives``, a ``negative`` column after ``passage`` (an unrelated passage in the
query's language, :func:`.samplers.fill_negatives`), which InfoNCE ranks with the in-batch passages.

With ``[data] holdout_task`` (a dev task such as ``ntrex-dev``), the NTREX-128 documents that task holds out are
removed before any example is made, so neither distillation texts nor query-passage pairs come from them.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError
from .corpora import DataFiles, ParallelItem, load_mkqa, load_ntrex, load_tatoeba
from .examples import DistillSource, ParallelPair, distill_sources, ict_pairs
from .recipes import Method, Recipe
from .samplers import (
    fill_distill,
    fill_negatives,
    fill_pairs,
    plan_distill,
    plan_hybrid,
    plan_mono,
    plan_xlco,
    plan_xx,
)
from .teacher import TeacherCache


def derive_seed(seed: int, purpose: str) -> int:
    """A stable 32-bit seed for one random choice (plans, item order, ...) derived from the run's seed."""
    return int(hashlib.sha256(f"{seed}:{purpose}".encode()).hexdigest()[:8], 16)


@dataclass
class Corpus:
    """Everything a recipe's methods draw from."""

    distill: dict[str, list[DistillSource]]
    pairs: list[ParallelPair]
    files: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)


@dataclass
class TrainingData:
    """A method's rows in batch order, with what the manifest needs to describe them."""

    dataset: object  # datasets.Dataset
    n_batches: int
    batch_size: int
    language_mix: dict[str, int]
    role_mix: dict[str, int]
    teacher_dim: int | None = None


def load_offline_corpus(recipe: Recipe, data_dir: Path, seed: int) -> Corpus:
    """Tatoeba, NTREX-128 and MKQA from ``data_dir``, restricted to the recipe's languages."""
    if not data_dir.is_dir():
        raise UserError(f"{data_dir}: data directory not found (expected the folders tatoeba/, ntrex-128/, "
                        "mkqa-mia2022/; set --data-dir or MLIR_BENCH_DATA)")
    settings = recipe.data
    langs = list(settings.languages)
    files = DataFiles(data_dir)
    items: list[ParallelItem] = []
    counts: dict[str, int] = {}
    notes: dict[str, object] = {}
    ntrex: list[ParallelItem] = []
    if settings.tatoeba:
        tatoeba = load_tatoeba(files, langs)
        items += tatoeba
        counts["tatoeba_pairs"] = len(tatoeba)
    if settings.mkqa:
        mkqa, dropped = load_mkqa(files, langs)
        items += mkqa
        counts["mkqa_queries"] = len(mkqa)
        notes["mkqa_dropped_example_ids"] = dropped
    if settings.ntrex:
        ntrex = load_ntrex(files, langs)
        if settings.holdout_task:
            held = set(recipe.holdout)
            kept = [item for item in ntrex if item.group not in held]
            counts["ntrex_heldout_sentences"] = len(ntrex) - len(kept)
            notes["holdout"] = {"task": settings.holdout_task, "ntrex_documents": sorted(held)}
            ntrex = kept
        items += ntrex
        counts["ntrex_sentences"] = len(ntrex)
    pairs = ict_pairs(ntrex, langs, settings.ict_radius) if ntrex else []
    if settings.max_pairs and len(pairs) > settings.max_pairs:
        pairs = _subsample(pairs, settings.max_pairs, derive_seed(seed, "subsample-pairs"))
    counts["ict_pairs"] = len(pairs)
    pool = distill_sources(items, langs, passages=pairs if settings.ntrex_passages_in_distill else ())
    if settings.max_distill_per_language:
        pool = {
            lang: _subsample(sources, settings.max_distill_per_language, derive_seed(seed, f"subsample-{lang}"))
            for lang, sources in pool.items()
        }
    counts.update({f"distill_{lang}": len(v) for lang, v in sorted(pool.items())})
    missing = [lang for lang in langs if lang not in pool]
    if missing:
        raise UserError(f"{data_dir}: no training text for language(s) {missing} in the enabled corpora")
    return Corpus(pool, pairs, dict(sorted(files.sha256.items())), counts, notes)


def _subsample(values: list, n: int, seed: int) -> list:
    import random

    chosen = sorted(random.Random(seed).sample(range(len(values)), n))
    return [values[i] for i in chosen]


def n_batches_for(settings_steps: int, epochs: float, n_examples: int, batch_size: int) -> int:
    """The run's number of batches: ``steps`` if set, else ``epochs`` passes over ``n_examples``."""
    if settings_steps > 0:
        return settings_steps
    return max(1, math.ceil(epochs * n_examples / batch_size))


def build_training_data(
    recipe: Recipe, method: Method, corpus: Corpus, seed: int, teacher: TeacherCache | None, *, progress: bool
) -> TrainingData:
    """Lay out ``method``'s rows for ``recipe`` in batch order (see module docstring)."""
    from datasets import Dataset

    settings = recipe.settings(method.name)
    student = recipe.student_for(method.name)
    langs = list(recipe.data.languages)
    batch = settings.batch_size
    if method.objective == "distill":
        total = sum(len(v) for v in corpus.distill.values())
        n_batches = n_batches_for(settings.steps, settings.epochs, total, batch)
        plan = plan_distill(langs, n_batches, batch, derive_seed(seed, "plan-distill"))
        rows = [src for b in fill_distill(plan, corpus.distill, derive_seed(seed, "fill-distill")) for src in b]
        assert teacher is not None
        vectors = _teacher_vectors(teacher, [(s.english, s.role) for s in rows], progress)
        data = {"text": [student.prompt(s.role) + s.text for s in rows], "label": vectors}
        mix = Counter(s.lang for s in rows)
        roles = Counter(s.role for s in rows)
        dim = int(vectors.shape[1])
    else:
        if not corpus.pairs:
            raise UserError(f"recipe {recipe.name!r}: method {method.name!r} needs query-passage pairs, found none")
        n_batches = n_batches_for(settings.steps, settings.epochs, len(corpus.pairs), batch)
        plan_seed = derive_seed(seed, f"plan-{method.plan}")
        if method.plan == "xlco":
            plan = plan_xlco(langs, n_batches, batch, plan_seed)
        elif method.plan == "xx":
            plan = plan_xx(langs, n_batches, batch, plan_seed)
        elif method.plan == "mono":
            plan = plan_mono(langs, n_batches, batch, plan_seed)
        else:
            plan = plan_hybrid(langs, n_batches, batch, plan_seed, p_mono=settings.p_mono, cross=method.hybrid_cross)
        filled = fill_pairs(plan, corpus.pairs, derive_seed(seed, "fill-pairs"))
        rows_p = [slot for b in filled for slot in b]
        data = {
            "query": [student.prompt("query") + pair.queries[q] for pair, (q, _) in rows_p],
            "passage": [student.prompt("document") + pair.passages[p] for pair, (_, p) in rows_p],
        }
        mix = Counter(f"{q}->{p}" for _, (q, p) in rows_p)
        roles = Counter({"query-passage": len(rows_p)})
        if settings.same_language_negatives:
            negatives = fill_negatives(filled, corpus.pairs, derive_seed(seed, "fill-negatives"))
            data["negative"] = [student.prompt("document") + pair.passages[lang]
                                for batch_negatives in negatives for pair, lang in batch_negatives]
            roles["same-language-negative"] = len(data["negative"])
        dim = None
        if method.objective == "joint":
            assert teacher is not None
            q_vec = _teacher_vectors(teacher, [(pair.queries["en"], "query") for pair, _ in rows_p], progress)
            p_vec = _teacher_vectors(teacher, [(pair.passages["en"], "document") for pair, _ in rows_p], progress)
            data["label"] = np.stack([q_vec, p_vec], axis=1)
            dim = int(q_vec.shape[1])
    return TrainingData(Dataset.from_dict(data), n_batches, batch, dict(sorted(mix.items())), dict(roles), dim)


def _teacher_vectors(teacher: TeacherCache, texts: list[tuple[str, str]], progress: bool) -> np.ndarray:
    """Teacher vectors for (text, role) rows, encoding each distinct text once per role."""
    out: np.ndarray | None = None
    for role in ("query", "document"):
        index = [i for i, (_, r) in enumerate(texts) if r == role]
        if not index:
            continue
        unique = sorted({texts[i][0] for i in index})
        vectors = teacher.encode(unique, role, progress=progress)
        lookup = {t: v for t, v in zip(unique, vectors, strict=True)}
        if out is None:
            out = np.zeros((len(texts), vectors.shape[1]), np.float32)
        for i in index:
            out[i] = lookup[texts[i][0]]
    assert out is not None
    return out
