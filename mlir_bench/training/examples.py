"""Turn parallel items into the two kinds of training example every method draws from.

- **Distillation examples** (stage 1, KD-only): a text in language X paired with the English side, whose
  teacher vector is the target. English–English identity pairs are included (MIMO's stage 1).
- **Query–passage pairs** (stage 2 and the contrastive baselines), multi-way parallel so that the sampler can
  choose the query and passage languages freely. Offline, they come from NTREX-128 by the inverse cloze task
  (ICT, Lee et al. 2019): the pseudo-query is one news sentence and its passage is the window of up to
  ``radius`` sentences on either side in the same document, with the query sentence removed. Each language
  version of the query and passage is an exact translation, so one pair gives every (query lang, passage lang)
  combination. The hub recipe uses mMARCO (query, positive) pairs instead (:mod:`.hub_data`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .corpora import ParallelItem

# Scripts written without spaces between sentences.
_NO_SPACE_JOIN = {"zh", "ja"}


@dataclass(frozen=True)
class DistillSource:
    """A student text in ``lang`` whose target is the teacher's vector of ``english``."""

    lang: str
    text: str
    english: str
    role: str  # "query" or "document": which prompt the student and teacher use
    item_id: str


@dataclass(frozen=True)
class ParallelPair:
    """A (query, passage) pair available in several languages; ``group`` is the source document."""

    pair_id: str
    queries: dict[str, str]
    passages: dict[str, str]
    group: str

    @property
    def languages(self) -> list[str]:
        return sorted(set(self.queries) & set(self.passages))


def join_sentences(sentences: Sequence[str], lang: str) -> str:
    """Join sentences into a passage: with no separator for zh/ja, with a space otherwise."""
    sep = "" if lang in _NO_SPACE_JOIN else " "
    return sep.join(s.strip() for s in sentences)


def ict_pairs(items: Sequence[ParallelItem], languages: Iterable[str], radius: int) -> list[ParallelPair]:
    """Inverse-cloze pairs from document-grouped sentences (NTREX): sentence → its context window.

    A sentence becomes a query only if its window has at least one other sentence; every language in
    ``languages`` that the item has is kept.
    """
    if radius < 1:
        raise ValueError(f"ICT radius must be >= 1, got {radius}")
    langs = set(languages)
    by_doc: dict[str, list[ParallelItem]] = defaultdict(list)
    for item in items:
        by_doc[item.group].append(item)
    pairs: list[ParallelPair] = []
    for doc, doc_items in by_doc.items():
        for i, item in enumerate(doc_items):
            context = doc_items[max(0, i - radius) : i] + doc_items[i + 1 : i + 1 + radius]
            if not context:
                continue
            common = [lang for lang in item.texts if lang in langs and all(lang in c.texts for c in context)]
            if "en" not in common:
                continue
            queries = {lang: item.texts[lang] for lang in common}
            passages = {lang: join_sentences([c.texts[lang] for c in context], lang) for lang in common}
            pairs.append(ParallelPair(f"ict:{item.item_id}", queries, passages, group=doc))
    return pairs


def distill_sources(
    items: Sequence[ParallelItem], languages: Iterable[str], *, passages: Sequence[ParallelPair] = ()
) -> dict[str, list[DistillSource]]:
    """Distillation examples per student language, English identity pairs under "en".

    Sentences and MKQA questions use the query role (short texts); ICT passages, when given, add
    passage-length texts under the document role, so that the student learns both prompts.
    """
    langs = set(languages)
    pool: dict[str, list[DistillSource]] = defaultdict(list)
    seen_en: set[tuple[str, str]] = set()

    def add(lang: str, text: str, english: str, role: str, item_id: str) -> None:
        pool[lang].append(DistillSource(lang, text, english, role, item_id))

    for item in items:
        english = item.texts["en"]
        for lang, text in item.texts.items():
            if lang != "en" and lang in langs:
                add(lang, text, english, "query", item.item_id)
        if "en" in langs and (english, "query") not in seen_en:
            seen_en.add((english, "query"))
            add("en", english, english, "query", item.item_id)
    for pair in passages:
        english = pair.passages["en"]
        for lang, text in pair.passages.items():
            if lang in langs and (lang != "en" or (english, "document") not in seen_en):
                if lang == "en":
                    seen_en.add((english, "document"))
                add(lang, text, english, "document", pair.pair_id)
    return dict(pool)
