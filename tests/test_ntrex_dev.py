"""ntrex-dev, the dev set for selection (docs/PROTOCOLS.md §2.5): the held-out documents follow the stated rule,
the task is built as documented, and the trainer's examples never come from its documents."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections import Counter

import pytest
from _data import DATA
from _data import needs_data as _needs_data

from mlir_bench.tasks import get_task_spec, load_task
from mlir_bench.tasks.ntrex import blocks, heldout_documents, select_documents

LANGS = ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"]
needs_data = _needs_data("ntrex-128")


def test_blocks_by_hand():
    assert blocks(4, 3) == [[0, 1, 2, 3]]  # the one sentence left over joins the last block
    assert blocks(8, 3) == [[0, 1, 2], [3, 4, 5, 6, 7]]
    assert blocks(9, 3) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert blocks(2, 3) == []


def test_select_documents_orders_by_salted_sha256():
    import hashlib

    ids = ["a", "a", "b", "c", "c", "c", "d"]
    rank = sorted("abcd", key=lambda d: hashlib.sha256(f"s:{d}".encode()).hexdigest())
    chosen = select_documents(ids, 2, salt="s")
    assert set(chosen) == set(rank[:2]) and chosen == sorted(chosen, key="abcd".index)  # file order


@pytest.fixture(scope="module")
def dev():
    return load_task("ntrex-dev", data_dir=DATA)


@needs_data
def test_spec_lists_the_documents_the_rule_draws():
    doc_of_line = (DATA / "ntrex-128" / "DOCUMENT_IDS.tsv").read_text(encoding="utf-8").split()
    assert len(doc_of_line) == 1997 and len(set(doc_of_line)) == 123
    spec = get_task_spec("ntrex-dev")
    assert heldout_documents(spec) == select_documents(doc_of_line, 30, salt="ntrex-dev")
    assert sum(doc_of_line.count(d) for d in heldout_documents(spec)) == 506  # sentences held out


@needs_data
def test_counts_groups_and_relevance(dev):
    assert dev.spec.languages == LANGS and dev.spec.main_score == "map" and dev.spec.main_setting == "multi"
    assert Counter(dev.queries.langs) == dict.fromkeys(LANGS, 162)
    assert Counter(dev.docs.langs) == dict.fromkeys(LANGS, 162)
    assert Counter(len(rel) for rel in dev.qrels.values()) == {11: 162 * 11}
    # every language version of a query shares its group, and its relevant set is that group's 11 passages
    assert Counter(Counter(dev.queries.groups).values()) == {11: 162}
    for qid, group, lang in zip(dev.queries.ids, dev.queries.groups, dev.queries.langs, strict=True):
        assert qid == f"{lang}/{group}" and set(dev.qrels[qid]) == {f"{x}/{group}" for x in LANGS}
    assert Counter(c.setting for c in dev.cells) == {"mono": 11, "cross": 110, "multi": 11}
    assert not set(dev.queries.texts) & set(dev.docs.texts)


@needs_data
def test_first_block_by_hand(dev):
    """bbc.381790 opens the file: lines 1-3 are block 0; the query is line 2, the passage lines 1 and 3."""
    en = (DATA / "ntrex-128" / "newstest2019-src.eng.txt").read_text(encoding="utf-8").splitlines()
    zh = (DATA / "ntrex-128" / "newstest2019-ref.zho-CN.txt").read_text(encoding="utf-8").splitlines()
    q = dev.queries.ids.index("en/bbc.381790.0")
    assert dev.queries.texts[q] == en[1].strip()
    assert dev.docs.texts[dev.docs.ids.index("en/bbc.381790.0")] == f"{en[0].strip()} {en[2].strip()}"
    assert dev.docs.texts[dev.docs.ids.index("zh/bbc.381790.0")] == zh[0].strip() + zh[2].strip()  # no space


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(c for c in text if not unicodedata.category(c).startswith("P"))
    return re.sub(r"\s+", " ", text).strip()


def _training_texts(corpus) -> set[str]:
    out: set[str] = set()
    for sources in corpus.distill.values():
        for s in sources:
            out.update((s.text, s.english))
    for pair in corpus.pairs:
        out.update(pair.queries.values())
        out.update(pair.passages.values())
    return out


@_needs_data("ntrex-128", "tatoeba", "mkqa-mia2022")
def test_training_examples_and_dev_pool_are_disjoint(dev):
    """cpu-small (holdout_task = ntrex-dev): no training example comes from a held-out document, and no training
    text equals a dev query, a dev passage or any sentence of a held-out document (after NFKC, lower-casing and
    punctuation removal). Without the hold-out, the same check finds every dev query."""
    from mlir_bench.training.pipeline import load_offline_corpus
    from mlir_bench.training.recipes import load_recipe

    recipe = load_recipe("cpu-small")
    assert recipe.data.holdout_task == "ntrex-dev"
    corpus = load_offline_corpus(recipe, DATA, seed=0)
    held = set(heldout_documents(dev.spec))
    doc_of_line = (DATA / "ntrex-128" / "DOCUMENT_IDS.tsv").read_text(encoding="utf-8").split()
    assert corpus.counts["ntrex_sentences"] == 1997 - 506 and corpus.counts["ntrex_heldout_sentences"] == 506
    assert corpus.notes["holdout"] == {"task": "ntrex-dev", "ntrex_documents": sorted(held)}
    assert not {pair.group for pair in corpus.pairs} & held
    ntrex_lines = {int(s.item_id.split(":")[1]) for v in corpus.distill.values() for s in v
                   if s.item_id.startswith("ntrex:")}
    ntrex_lines |= {int(p.pair_id.split(":")[2]) for p in corpus.pairs}
    assert ntrex_lines and not {doc_of_line[i] for i in ntrex_lines} & held

    train = _training_texts(corpus)
    assert not train & (set(dev.queries.texts) | set(dev.docs.texts))
    files = {"en": "newstest2019-src.eng.txt"} | {
        x: f"newstest2019-ref.{c}.txt" for x, c in (("ar", "arb"), ("de", "deu"), ("el", "ell"), ("es", "spa"),
                                                   ("hi", "hin"), ("ru", "rus"), ("th", "tha"), ("tr", "tur"),
                                                   ("vi", "vie"), ("zh", "zho-CN"))}
    held_sentences = set()
    for name in files.values():
        lines = (DATA / "ntrex-128" / name).read_text(encoding="utf-8").splitlines()
        held_sentences |= {_norm(t) for t, d in zip(lines, doc_of_line, strict=True) if d in held}
    held_sentences = {s for s in held_sentences if len(s) >= 8}
    assert len(held_sentences) > 5000
    assert not {_norm(t) for t in train} & held_sentences

    open_recipe = dataclasses.replace(recipe, data=dataclasses.replace(recipe.data, holdout_task=""))
    leaky = {_norm(t) for t in _training_texts(load_offline_corpus(open_recipe, DATA, seed=0))}
    assert {_norm(t) for t in dev.queries.texts} <= leaky  # the check does see the held-out text when it is there


@needs_data
def test_runs_like_any_task_through_the_cli(tmp_path):
    """`mlir-bench run -m bm25 -t ntrex-dev` (4 s): the scores pin the construction; the result says it is a dev set."""
    import json
    import os
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-c", "from mlir_bench.cli import main; main()", "run", "-m", "bm25", "-t",
                        "ntrex-dev", "--output-dir", str(tmp_path / "res"), "--runs-dir", str(tmp_path / "runs"),
                        "--no-progress", "--no-cache"],
                       capture_output=True, text=True, env={**os.environ, "MLIR_BENCH_DATA": str(DATA)}, timeout=600)
    assert p.returncode == 0, p.stderr
    res = json.loads((tmp_path / "res" / "ntrex-dev__bm25__passage.json").read_text())
    assert res["task"]["standard"] is False and res["task"]["split"] == "dev"
    assert {s: v["n_cells"] for s, v in res["settings"].items()} == {"mono": 11, "cross": 110, "multi": 11}
    # BM25 is lexical: strong within a language (Mono mAP .347), near the floor in the 11-language pool (.044)
    assert res["settings"]["mono"]["scores"]["map"] == pytest.approx(0.347276, abs=5e-4)
    assert res["settings"]["multi"]["scores"]["map"] == pytest.approx(0.044028, abs=5e-4)
    assert res["bias"]["summary"]["own_language_share@10"] > 0.95  # grouped queries: the bias section is there
