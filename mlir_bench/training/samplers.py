"""Language plans: which languages each batch holds, decided up front from a seed.

Every method trains on batches laid out before training starts (as MIMO's ``prepare_stage2_datasets.py``
does), so the language mix is exact, reproducible, and countable in tests. A plan is a list of batches; a
batch is a list of slots; a slot is a (query language, passage language) pair for the contrastive methods or a
single student language for distillation. "Round-robin" means shuffled full cycles over the options: after n
draws, every option has been drawn ⌊n/k⌋ or ⌈n/k⌉ times.

- :func:`plan_distill` — stage 1 / KD-only: student languages round-robin over all slots (English identity
  pairs are the "en" language).
- :func:`plan_xlco` — MIMO stage 2 and X-Y: each slot an ordered pair (X, Y), X ≠ Y, round-robin over all
  k(k−1) ordered pairs, so a batch mixes pairs.
- :func:`plan_xx` — X-X (LAReQA; MIMO's InfoNCE baseline): each slot (X, X), question and answer in one
  language, X round-robin over all slots, so a batch mixes languages (each row's language is uniform; the
  draws are balanced, shuffled cycles, rather than independent). A row's in-batch negatives thus hold answers
  in its own language and in others.
- :func:`plan_mono` — X-X-mono (LAReQA, Elmahdy et al.): each batch in a single language X, X round-robin over
  batches.
- :func:`plan_hybrid` — Elmahdy's hybrid batches: each batch is monolingual with probability ``p_mono`` (one
  language X for the whole batch) and otherwise cross-lingual. Elmahdy et al. do not say whether a cross-lingual
  batch holds one language pair or several. ``cross="per-example"`` (the default, method ``hybrid``) gives each
  row of a cross-lingual batch its own ordered pair X ≠ Y, round-robin over all pairs, as X-Y's batches do, so
  a row's negatives usually hold passages in its query's language; ``cross="single-pair"`` (method
  ``hybrid-single-pair``) uses one pair for the whole batch, mirroring the monolingual batch, so a row never
  meets a wrong passage in its own language. Languages and pairs are round-robin within each kind.

:func:`fill_pairs` and :func:`fill_distill` then put training items into the slots, never placing two pairs
from the same source document in one batch (their passages overlap, which would make false in-batch negatives).

:func:`fill_negatives` (``[train] same_language_negatives``) gives every row of a filled batch one more passage:
an unrelated one (from a document that no other row of the batch uses) in the row's *query* language. In a
cross-lingual batch, whose positives are all in other languages than a row's query (single-pair hybrid) or
mostly so (X-Y), that is a wrong answer in the query's own language, which the in-batch negatives may lack; in a
monolingual row it is one more random in-language negative.
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


def plan_xx(languages: Sequence[str], n_batches: int, batch_size: int, seed: int) -> Plan:
    """Same-language slots (X, X), X round-robin over every slot, so languages mix within a batch (LAReQA X-X)."""
    langs = round_robin(list(languages), n_batches * batch_size, random.Random(seed))
    return _chunk([(lang, lang) for lang in langs], batch_size)


def plan_mono(languages: Sequence[str], n_batches: int, batch_size: int, seed: int) -> Plan:
    """Monolingual batches: one language per batch, round-robin over batches (LAReQA X-X-mono)."""
    langs = round_robin(list(languages), n_batches, random.Random(seed))
    return [[(lang, lang)] * batch_size for lang in langs]


HYBRID_CROSS = ("per-example", "single-pair")


def plan_hybrid(
    languages: Sequence[str], n_batches: int, batch_size: int, seed: int, p_mono: float = 0.5,
    cross: str = "per-example",
) -> Plan:
    """Hybrid batches: monolingual with probability ``p_mono``, else cross-lingual (see the module docstring).

    ``cross`` = ``per-example``: each row of a cross-lingual batch has its own ordered pair X ≠ Y, round-robin
    over all pairs across the cross-lingual batches; ``single-pair``: one pair for the whole batch.
    """
    if not 0.0 <= p_mono <= 1.0:
        raise ValueError(f"p_mono must be in [0, 1], got {p_mono}")
    if cross not in HYBRID_CROSS:
        raise ValueError(f"hybrid cross-lingual batches are {' or '.join(HYBRID_CROSS)}, got {cross!r}")
    rng = random.Random(seed)
    coins = [rng.random() < p_mono for _ in range(n_batches)]
    n_mono = sum(coins)
    monos = deque(round_robin(list(languages), n_mono, random.Random(seed + 1)))
    per_batch = 1 if cross == "single-pair" else batch_size
    crosses = deque(round_robin(ordered_pairs(languages), (n_batches - n_mono) * per_batch, random.Random(seed + 2)))
    plan: Plan = []
    for mono in coins:
        if mono:
            lang = monos.popleft()
            plan.append([(lang, lang)] * batch_size)
        elif cross == "single-pair":
            plan.append([crosses.popleft()] * batch_size)
        else:
            plan.append([crosses.popleft() for _ in range(batch_size)])
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


def fill_negatives(
    filled: list[list[tuple[ParallelPair, Slot]]], pairs: Sequence[ParallelPair], seed: int
) -> list[list[tuple[ParallelPair, str]]]:
    """One unrelated passage per row, in the row's query language, from a document new to the batch.

    Returns, per batch and row, (the pair whose passage is the negative, its language). Items cycle in a seeded
    shuffled order, as in :func:`fill_pairs`; no two rows of a batch share a negative's document, and no negative
    comes from a document whose pair is a row of the batch.
    """
    if not pairs:
        raise ValueError("no passages to draw negatives from")
    rng = random.Random(seed)
    queue: deque[int] = deque()
    out: list[list[tuple[ParallelPair, str]]] = []
    for batch in filled:
        groups = {pair.group for pair, _ in batch}
        negatives: list[tuple[ParallelPair, str]] = []
        deferred: list[int] = []
        for _, (query_lang, _) in batch:
            scanned = 0
            while True:
                if not queue:
                    order = list(range(len(pairs)))
                    rng.shuffle(order)
                    queue.extend(order)
                index = queue.popleft()
                candidate = pairs[index]
                if candidate.group not in groups and query_lang in candidate.passages:
                    groups.add(candidate.group)
                    negatives.append((candidate, query_lang))
                    break
                deferred.append(index)
                scanned += 1
                if scanned > 2 * len(pairs):
                    raise ValueError(f"cannot find a negative in {query_lang!r}: every document with a passage in "
                                     "that language is already in the batch (batch larger than half the documents?)")
        queue.extendleft(reversed(deferred))
        out.append(negatives)
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
