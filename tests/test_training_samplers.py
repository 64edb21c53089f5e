"""The language plans hold the language mixes they claim: counted, not assumed."""

from __future__ import annotations

from collections import Counter

import pytest

from mlir_bench.training.examples import DistillSource, ParallelPair
from mlir_bench.training.samplers import (
    fill_distill,
    fill_negatives,
    fill_pairs,
    ordered_pairs,
    plan_distill,
    plan_hybrid,
    plan_mono,
    plan_xlco,
    plan_xx,
    round_robin,
)

LANGS = ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"]


def _even(counts: Counter, options) -> None:
    assert set(counts) == set(options)
    assert max(counts.values()) - min(counts.values()) <= 1


def test_round_robin_is_even_and_seeded():
    draws = round_robin(list("abcd"), 10, __import__("random").Random(3))
    _even(Counter(draws), "abcd")
    assert draws == round_robin(list("abcd"), 10, __import__("random").Random(3))


def test_xlco_spreads_evenly_over_ordered_pairs():
    plan = plan_xlco(LANGS, n_batches=25, batch_size=32, seed=7)
    assert len(plan) == 25 and all(len(b) == 32 for b in plan)
    slots = [slot for batch in plan for slot in batch]
    assert all(q != p for q, p in slots)
    assert len(ordered_pairs(LANGS)) == 110
    _even(Counter(slots), ordered_pairs(LANGS))  # 800 slots over 110 pairs: 7 or 8 each
    assert len({tuple(b) for b in plan}) == 25  # pairs are mixed within batches, not one pair per batch


def test_mono_batches_are_single_language_and_even():
    plan = plan_mono(LANGS, n_batches=40, batch_size=16, seed=1)
    assert all(len(set(batch)) == 1 and batch[0][0] == batch[0][1] for batch in plan)
    _even(Counter(batch[0][0] for batch in plan), LANGS)


def test_xx_rows_are_same_language_and_batches_mix_languages():
    """LAReQA's X-X (MIMO's InfoNCE): q and p share a language per row; the rows of a batch mix languages."""
    plan = plan_xx(LANGS, n_batches=25, batch_size=32, seed=4)
    assert len(plan) == 25 and all(len(b) == 32 for b in plan)
    slots = [slot for batch in plan for slot in batch]
    assert all(q == p for q, p in slots)
    _even(Counter(q for q, _ in slots), LANGS)  # 800 rows over 11 languages: 72 or 73 each
    for batch in plan:
        # 32 consecutive draws of shuffled 11-cycles span at least 2 whole cycles and touch at most 4:
        # every language is in every batch 2 to 4 times, so each row meets wrong answers in its own language.
        counts = Counter(q for q, _ in batch)
        assert set(counts) == set(LANGS) and 2 <= min(counts.values()) and max(counts.values()) <= 4
    assert plan == plan_xx(LANGS, n_batches=25, batch_size=32, seed=4)
    assert plan != plan_xx(LANGS, n_batches=25, batch_size=32, seed=5)


def test_hybrid_single_pair_batches_mix_mono_and_cross_with_p_half():
    plan = plan_hybrid(LANGS, n_batches=1000, batch_size=8, seed=5, p_mono=0.5, cross="single-pair")
    mono = [b for b in plan if b[0][0] == b[0][1]]
    cross = [b for b in plan if b[0][0] != b[0][1]]
    assert all(len(set(b)) == 1 for b in plan)  # one language (pair) per batch
    assert len(mono) + len(cross) == 1000
    assert 440 <= len(mono) <= 560  # Binomial(1000, 0.5): mean 500, sd 15.8
    _even(Counter(b[0][0] for b in mono), LANGS)
    cross_counts = Counter(b[0] for b in cross)
    assert max(cross_counts.values()) - min(cross_counts.values()) <= 1 and len(cross_counts) <= 110
    assert plan == plan_hybrid(LANGS, n_batches=1000, batch_size=8, seed=5, p_mono=0.5, cross="single-pair")


def test_hybrid_per_example_cross_batches_mix_pairs_like_xy():
    """The default: a cross-lingual batch gives every row its own pair (X != Y), round-robin over the 110."""
    plan = plan_hybrid(LANGS, n_batches=400, batch_size=32, seed=5, p_mono=0.5)
    single = plan_hybrid(LANGS, n_batches=400, batch_size=32, seed=5, p_mono=0.5, cross="single-pair")
    kinds = [b[0][0] == b[0][1] for b in plan]
    assert kinds == [b[0][0] == b[0][1] for b in single]  # the same coins: only the cross batches differ
    assert [b for b in plan if b[0][0] == b[0][1]] == [b for b in single if b[0][0] == b[0][1]]
    mono = [b for b in plan if len(set(b)) == 1 and b[0][0] == b[0][1]]
    cross = [b for b in plan if b[0][0] != b[0][1]]
    assert len(mono) + len(cross) == 400
    assert all(all(q != p for q, p in b) for b in cross)  # no same-language row in a cross-lingual batch
    rows = [slot for b in cross for slot in b]
    _even(Counter(rows), ordered_pairs(LANGS))  # round-robin over all 110 pairs across the cross batches
    # 32 consecutive draws of shuffled 110-cycles straddle at most 2 cycles: at most 16 pairs repeat
    assert all(len(set(b)) >= 16 for b in cross)
    # the point of per-example pairs: most rows meet a wrong passage in their own query language
    assert _rows_with_own_language_negative(cross) / len(rows) > 0.9
    single_cross = [b for b in single if b[0][0] != b[0][1]]
    assert _rows_with_own_language_negative(single_cross) == 0  # never in a single-pair batch


def _rows_with_own_language_negative(batches) -> int:
    """Rows for which another row of the batch has its passage in this row's query language."""
    return sum(any(p == q for j, (_, p) in enumerate(b) if j != i) for b in batches for i, (q, _) in enumerate(b))


def test_hybrid_rejects_unknown_cross():
    with pytest.raises(ValueError, match="per-example or single-pair"):
        plan_hybrid(LANGS, n_batches=2, batch_size=2, seed=0, cross="several")


@pytest.mark.parametrize("cross", ["per-example", "single-pair"])
@pytest.mark.parametrize("p", [0.0, 1.0])
def test_hybrid_extremes(p, cross):
    plan = plan_hybrid(LANGS, n_batches=50, batch_size=4, seed=0, p_mono=p, cross=cross)
    assert all(all((q == d) == (p == 1.0) for q, d in b) for b in plan)


def test_distill_languages_round_robin():
    plan = plan_distill(LANGS, n_batches=10, batch_size=16, seed=2)
    _even(Counter(lang for batch in plan for lang in batch), LANGS)


def _pairs(n_docs: int, per_doc: int) -> list[ParallelPair]:
    return [
        ParallelPair(f"p{d}-{i}", {lang: f"q{d}-{i}-{lang}" for lang in LANGS},
                     {lang: f"p{d}-{i}-{lang}" for lang in LANGS}, group=f"doc{d}")
        for d in range(n_docs) for i in range(per_doc)
    ]


def test_fill_pairs_respects_languages_and_documents():
    pairs = _pairs(n_docs=20, per_doc=5)
    plan = plan_xlco(LANGS, n_batches=30, batch_size=16, seed=0)
    filled = fill_pairs(plan, pairs, seed=0)
    for batch, planned in zip(filled, plan, strict=True):
        assert [slot for _, slot in batch] == planned
        groups = [pair.group for pair, _ in batch]
        assert len(groups) == len(set(groups))  # never two pairs of one document in a batch
    used = Counter(pair.pair_id for batch in filled for pair, _ in batch)
    assert max(used.values()) - min(used.values()) <= 2  # items cycle through the pool


def test_fill_pairs_fails_clearly_when_batch_exceeds_documents():
    with pytest.raises(ValueError, match="new document"):
        fill_pairs(plan_mono(["en"], 1, 4, seed=0), _pairs(n_docs=2, per_doc=3)[:6], seed=0)


def test_fill_distill_uses_planned_languages():
    pool = {lang: [DistillSource(lang, f"{lang}{i}", f"en{i}", "query", str(i)) for i in range(7)] for lang in LANGS}
    plan = plan_distill(LANGS, n_batches=5, batch_size=11, seed=0)
    filled = fill_distill(plan, pool, seed=0)
    assert [[s.lang for s in b] for b in filled] == plan


def test_fill_negatives_gives_each_row_an_unrelated_passage_in_its_query_language():
    pairs = _pairs(n_docs=60, per_doc=3)
    plan = plan_xlco(LANGS, n_batches=30, batch_size=16, seed=0)
    filled = fill_pairs(plan, pairs, seed=0)
    negatives = fill_negatives(filled, pairs, seed=1)
    assert [len(b) for b in negatives] == [16] * 30
    for batch, negs in zip(filled, negatives, strict=True):
        positives = {pair.group for pair, _ in batch}
        neg_groups = [pair.group for pair, _ in negs]
        assert not positives & set(neg_groups) and len(set(neg_groups)) == 16  # new, distinct documents
        for (_, (query_lang, passage_lang)), (neg, lang) in zip(batch, negs, strict=True):
            assert lang == query_lang != passage_lang and neg.passages[lang].endswith(f"-{query_lang}")
    used = Counter(pair.pair_id for negs in negatives for pair, _ in negs)
    assert max(used.values()) - min(used.values()) <= 2  # negatives cycle through the pool too
    assert negatives == fill_negatives(filled, pairs, seed=1)


def test_fill_negatives_fails_clearly_without_new_documents():
    pairs = _pairs(n_docs=3, per_doc=2)
    filled = fill_pairs(plan_mono(["en"], 1, 2, seed=0), pairs, seed=0)
    with pytest.raises(ValueError, match="already in the batch"):
        fill_negatives(filled, pairs, seed=0)
