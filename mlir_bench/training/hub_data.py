"""The ``paper`` recipe's data, downloaded from the Hugging Face hub (MIMO's released configuration).

- Stage 1: OPUS parallel sentences, ``sentence-transformers/parallel-sentences-<corpus>`` configs ``en-<lang>``
  (columns ``english``, ``non_english``), loaded with ``datasets``. MIMO's filters: both sides 10-512
  characters, length ratio ≤ 3, English side de-duplicated across corpora, at most 500k pairs per language,
  plus English-English identity pairs from the collected English sentences.
- Stage 2 and the baselines: mMARCO (``unicamp-dl/mmarco``, Google-translated MS MARCO), the unique
  (query, positive passage) pairs of ``triples.train.ids.small.tsv``, aligned by id across the 14 languages
  (MIMO's ``build_mmarco_parallel.py``), loaded with ``datasets``' csv builder over ``hf://`` paths.

Nothing here runs offline: any download failure becomes one :class:`UserError` line.
"""

from __future__ import annotations

from collections import defaultdict

from ..errors import UserError
from .examples import DistillSource, ParallelPair
from .pipeline import Corpus
from .recipes import Recipe

MMARCO_REPO = "unicamp-dl/mmarco"
OPUS_REPO = "sentence-transformers/parallel-sentences-{corpus}"


def _passes(en: str, other: str, settings) -> bool:
    if not en or not other:
        return False
    short, long = sorted((len(en), len(other)))
    return (
        short >= settings.opus_min_chars
        and long <= settings.opus_max_chars
        and long / max(short, 1) <= settings.opus_max_length_ratio
    )


def load_opus(recipe: Recipe) -> dict[str, list[DistillSource]]:
    """Stage-1 distillation sources from OPUS (see the module docstring); role "document" = no teacher prompt."""
    from datasets import load_dataset

    settings = recipe.data
    pool: dict[str, list[DistillSource]] = defaultdict(list)
    seen_en: set[str] = set()
    english_order: list[str] = []
    for corpus in settings.opus_corpora:
        for lang in settings.languages:
            if lang == "en" or len(pool[lang]) >= settings.opus_max_pairs_per_language:
                continue
            try:
                ds = load_dataset(OPUS_REPO.format(corpus=corpus), f"en-{lang}", split="train")
            except ValueError:  # this corpus has no such language pair
                continue
            for row in ds:
                en, other = row["english"], row["non_english"]
                if en in seen_en or not _passes(en, other, settings):
                    continue
                seen_en.add(en)
                english_order.append(en)
                pool[lang].append(DistillSource(lang, other, en, "document", f"opus:{corpus}:{lang}"))
                if len(pool[lang]) >= settings.opus_max_pairs_per_language:
                    break
    pool["en"] = [DistillSource("en", en, en, "document", "opus:en")
                  for en in english_order[: settings.opus_max_pairs_per_language]]
    return dict(pool)


def _tsv(path: str, names: list[str]):
    from datasets import load_dataset

    return load_dataset("csv", data_files=f"hf://datasets/{MMARCO_REPO}/{path}", delimiter="\t",
                        column_names=names, split="train", quoting=3, dtype=str)


def load_mmarco(recipe: Recipe) -> list[ParallelPair]:
    """Unique (query, positive) pairs of mMARCO's training triples, aligned across the recipe's languages."""
    names = recipe.data.mmarco_languages  # ISO 639-1 -> mMARCO's language name ("nl" -> "dutch")
    triples = _tsv("data/triples.train.ids.small.tsv", ["qid", "pos", "neg"])
    pairs = list(dict.fromkeys(zip(triples["qid"], triples["pos"], strict=True)))
    need_q, need_p = {q for q, _ in pairs}, {p for _, p in pairs}
    queries: dict[str, dict[str, str]] = {}
    passages: dict[str, dict[str, str]] = {}
    for lang, name in names.items():
        q = _tsv(f"data/google/queries/train/{name}_queries.train.tsv", ["id", "text"])
        queries[lang] = {i: t for i, t in zip(q["id"], q["text"], strict=True) if i in need_q}
        c = _tsv(f"data/google/collections/{name}_collection.tsv", ["id", "text"])
        passages[lang] = {i: t for i, t in zip(c["id"], c["text"], strict=True) if i in need_p}
    out = []
    for qid, pid in pairs:
        qs = {lang: queries[lang][qid] for lang in names if qid in queries[lang]}
        ps = {lang: passages[lang][pid] for lang in names if pid in passages[lang]}
        if len(qs) == len(names) and len(ps) == len(names):
            out.append(ParallelPair(f"mmarco:{qid}:{pid}", qs, ps, group=f"mmarco:{pid}"))
    return out


def load_hub_corpus(recipe: Recipe, seed: int) -> Corpus:
    """OPUS and mMARCO for the ``paper`` recipe; download problems become one-line :class:`UserError`s."""
    try:
        distill = load_opus(recipe)
        pairs = load_mmarco(recipe)
    except UserError:
        raise
    except Exception as exc:  # datasets / huggingface_hub raise many types for "cannot download"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise UserError(f"recipe {recipe.name!r}: cannot load its hub data ({type(exc).__name__}: {first})") from None
    counts = {f"distill_{lang}": len(v) for lang, v in sorted(distill.items())}
    counts["mmarco_pairs"] = len(pairs)
    return Corpus(distill, pairs, files={}, counts=counts,
                  notes={"opus_corpora": list(recipe.data.opus_corpora), "mmarco": MMARCO_REPO})
