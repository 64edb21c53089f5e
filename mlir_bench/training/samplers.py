"""Language plans: which languages each batch holds, decided up front from a seed.

Every method trains on batches laid out before training starts (as MIMO's ``prepare_stage2_datasets.py``
does), so the language mix is exact, reproducible, and countable in tests. A plan is a list of batches; a
batch is a list of slots; a slot is a (query language, passage language) pair for the contrastive methods or a
single student language for distillation. "Round-robin" means shuffled full cycles over the options: after n
draws, every option has been drawn ⌊n/k⌋ or ⌈n/k⌉ times.

- :func:`plan_distill` — stage 1 / KD-only: student languages round-robin over all slots (English identity
  pairs are the "en" language).
- :func:`plan_xlco` — MIMO stage 2 and X-Y: each slot an ordered pair (X, Y), X ≠ Y, round-robin over all
  k(k−1) ordered pairs.
- :func:`plan_mono` — X-X-mono (LAReQA): each batch in a single language X, X round-robin over batches.
- :func:`plan_hybrid` — Elmahdy's hybrid batches: each batch is monolingual with probability ``p_mono`` (one
  language X for the whole batch) and otherwise cross-lingual (one ordered pair X ≠ Y for the whole batch);
  languages and pairs round-robin within each kind. Elmahdy et al. do not say whether a cross-lingual batch
  holds one language pair or several; we use one, mirroring the monolingual batch.

:func:`fill_pairs` and :func:`fill_distill` then put training items into the slots, never placing two pairs
from the same source document in one batch (their passages overlap, which would make false in-batch negatives).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from typing import TypeVar

from sentence_transformers import DefaultBatchSampler
from torch.utils.data import SequentialSampler

from .examples import DistillSource, ParallelPair

T = TypeVar("T")
Slot = tuple[str, str]
Plan = list[list[Slot]]


def round_robin(options: Sequence[T], n: int, rng: random.Random) -> list[T]:
    """``n`` draws from ``options`` as concatenated shuffled cycles (each option ⌊n/k⌋ or ⌈n/k⌉ times)."""
    if not options:
        raise ValueError("round_robin needs at least one option")
    out: list[T] = []
    while len(out) < n:
        cycle = list(options)
        rng.shuffle(cycle)
        out.extend(cycle)
    return out[:n]


def ordered_pairs(languages: Sequence[str]) -> list[Slot]:
    """All ordered pairs (X, Y) with X ≠ Y: k(k−1) of them."""
    return [(a, b) for a in languages for b in languages if a != b]


def _chunk(slots: list[T], batch_size: int) -> list[list[T]]:
    return [slots[i : i + batch_size] for i in range(0, len(slots), batch_size)]


def plan_distill(languages: Sequence[str], n_batches: int, batch_size: int, seed: int) -> list[list[str]]:
    """Student languages for every distillation slot, round-robin over ``languages``."""
    return _chunk(round_robin(list(languages), n_batches * batch_size, random.Random(seed)), batch_size)


def plan_xlco(languages: Sequence[str], n_batches: int, batch_size: int, seed: int) -> Plan:
    """Cross-lingual slots, round-robin over every ordered language pair (X ≠ Y), mixed within batches."""
    pairs = ordered_pairs(languages)
    return _chunk(round_robin(pairs, n_batches * batch_size, random.Random(seed)), batch_size)


def plan_mono(languages: Sequence[str], n_batches: int, batch_size: int, seed: int) -> Plan:
    """Monolingual batches: one language per batch, round-robin over batches."""
    langs = round_robin(list(languages), n_batches, random.Random(seed))
    return [[(lang, lang)] * batch_size for lang in langs]


def plan_hybrid(languages: Sequence[str], n_batches: int, batch_size: int, seed: int, p_mono: float = 0.5) -> Plan:
    """Hybrid batches: monolingual with probability ``p_mono``, else one cross-lingual pair for the batch."""
    if not 0.0 <= p_mono <= 1.0:
        raise ValueError(f"p_mono must be in [0, 1], got {p_mono}")
    rng = random.Random(seed)
    coins = [rng.random() < p_mono for _ in range(n_batches)]
    monos = deque(round_robin(list(languages), sum(coins), random.Random(seed + 1)))
    crosses = deque(round_robin(ordered_pairs(languages), n_batches - sum(coins), random.Random(seed + 2)))
    plan: Plan = []
    for mono in coins:
        if mono:
            lang = monos.popleft()
            plan.append([(lang, lang)] * batch_size)
        else:
            plan.append([crosses.popleft()] * batch_size)
    return plan


def fill_pairs(plan: Plan, pairs: Sequence[ParallelPair], seed: int) -> list[list[tuple[ParallelPair, Slot]]]:
    """Assign a pair to every slot: items cycle in a seeded shuffled order, one item per document per batch."""
    if not pairs:
        raise ValueError("no query-passage pairs to sample from")
    rng = random.Random(seed)
    queue: deque[int] = deque()
    out: list[list[tuple[ParallelPair, Slot]]] = []
    for batch in plan:
        groups: set[str] = set()
        filled: list[tuple[ParallelPair, Slot]] = []
        deferred: list[int] = []
        for slot in batch:
            scanned = 0
            while True:
                if not queue:
                    order = list(range(len(pairs)))
                    rng.shuffle(order)
                    queue.extend(order)
                index = queue.popleft()
                pair = pairs[index]
                if pair.group not in groups and slot[0] in pair.queries and slot[1] in pair.passages:
                    groups.add(pair.group)
                    filled.append((pair, slot))
                    break
                deferred.append(index)
                scanned += 1
                if scanned > 2 * len(pairs):
                    raise ValueError(f"cannot fill slot {slot}: no pair from a new document has those languages")
        queue.extendleft(reversed(deferred))
        out.append(filled)
    return out


def fill_distill(plan: list[list[str]], pool: dict[str, list[DistillSource]], seed: int) -> list[list[DistillSource]]:
    """Assign a distillation example to every slot, cycling through each language's shuffled pool."""
    rng = random.Random(seed)
    queues: dict[str, deque[DistillSource]] = {}
    out: list[list[DistillSource]] = []
    for batch in plan:
        filled = []
        for lang in batch:
            if not pool.get(lang):
                raise ValueError(f"no distillation examples in language {lang!r}")
            queue = queues.setdefault(lang, deque())
            if not queue:
                items = list(pool[lang])
                rng.shuffle(items)
                queue.extend(items)
            filled.append(queue.popleft())
        out.append(filled)
    return out


class PlannedOrderBatchSampler(DefaultBatchSampler):
    """Batches in dataset order: the dataset rows are already laid out batch by batch from a plan.

    Passed as the class to ``SentenceTransformerTrainingArguments.batch_sampler``. Being deterministic, it lets
    the Trainer resume mid-run by skipping the batches already seen.
    """

    def __init__(self, dataset, batch_size: int, drop_last: bool, valid_label_columns=None, generator=None, seed=0):
        super().__init__(
            SequentialSampler(dataset), batch_size=batch_size, drop_last=drop_last,
            valid_label_columns=valid_label_columns, generator=generator, seed=seed,
        )
