"""MIRACL: readers (topics, qrels, corpus), the per-language and pooled builders, published counts, offline errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from mlir_bench.data import miracl as reader
from mlir_bench.errors import DataError, UserError
from mlir_bench.tasks import TaskSpec, load_task
from mlir_bench.tasks import miracl as task_mod


def _write_gz(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def _mini(tmp_path: Path, *, pooled: bool = False, n_docs: int = 4, extra_qrel: str = "") -> Path:
    """A two-language MIRACL-format data root and spec; the corpora are local files (not declared in the spec)."""
    root = tmp_path / "data"
    (root / "miracl" / "topics").mkdir(parents=True)
    (root / "miracl" / "qrels").mkdir(parents=True)
    for lang in ("sw", "yo"):
        (root / "miracl" / "topics" / f"topics.miracl-v1.0-{lang}-dev.tsv").write_text(
            f"1\t{lang} query one\n2\t{lang} query two\n", encoding="utf-8")
        (root / "miracl" / "qrels" / f"qrels.miracl-v1.0-{lang}-dev.tsv").write_text(
            "1\tQ0\t10#0\t1\n1\tQ0\t10#1\t0\n2\tQ0\t11#0\t0\n" + extra_qrel, encoding="utf-8")
        _write_gz(root / "miracl" / "corpus" / lang / "docs.jsonl.gz",
                  [{"docid": f"{10 + i // 2}#{i % 2}", "title": f"T{i}", "text": f"{lang} passage {i}"}
                   for i in range(n_docs)])
    files = "".join(
        f'[[source.files]]\nlang = "{lang}"\npath = "miracl/{kind}/{kind}.miracl-v1.0-{lang}-dev.tsv"\n\n'
        for lang in ("sw", "yo") for kind in ("topics", "qrels"))
    spec = tmp_path / "mini.toml"
    spec.write_text(f'''name = "mini-miracl"
family = "miracl"
description = "test"
license = "test"
citation = "test"
main_score = "ndcg@10"
main_setting = "{'multi' if pooled else 'per-language'}"
level = "passage"
languages = ["sw", "yo"]

[options]
split = "dev"
metrics = ["ndcg@10", "recall@100"]
pooled = {str(pooled).lower()}
expected_positives = {{ sw = 1, yo = 1 }}

[source]
{files}
[expected]
questions = {{ sw = 2, yo = 2 }}
candidates = {{ sw = 4, yo = 4 }}
''', encoding="utf-8")
    return spec


def test_passage_text_is_anserini_mrtydi_contents() -> None:
    assert reader.passage_text("Title", "Body text.") == "Title\nBody text."
    assert reader.passage_text("", "x") == "\nx"


def test_readers_reject_bad_lines(tmp_path: Path) -> None:
    t = tmp_path / "t.tsv"
    t.write_text("1\tok\n2 no tab here\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"t\.tsv \(line 2\).*qid<TAB>query"):
        reader.read_topics(t)
    t.write_text("1\ta\n1\tb\n", encoding="utf-8")
    with pytest.raises(DataError, match="appears twice"):
        reader.read_topics(t)
    q = tmp_path / "q.tsv"
    q.write_text("1 Q0 d#0 1\n1 Q0 d#1 x\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"line 2.*relevance 'x'"):
        reader.read_qrels(q)
    c = tmp_path / "c.jsonl"
    c.write_text('{"docid": "1#0", "title": "t", "text": "x"}\n{"docid": "1#1", "title": 3, "text": "x"}\n',
                 encoding="utf-8")
    with pytest.raises(DataError, match=r"line 2.*'title' is int"):
        list(reader.iter_corpus([c]))


def test_build_per_language(tmp_path: Path) -> None:
    spec = TaskSpec.from_file(_mini(tmp_path))
    task = task_mod.build(spec, data_dir=tmp_path / "data")
    assert task.queries.ids[:2] == ["sw/1", "sw/2"] and task.queries.langs[:2] == ["sw", "sw"]
    assert task.docs.ids[0] == "sw/10#0" and task.docs.texts[0] == "T0\nsw passage 0"
    assert task.qrels["sw/1"] == {"sw/10#0": 1}  # rel 0 = judged non-relevant: not relevant
    assert task.qrels["sw/2"] == {}  # no relevant passage: the runner skips and counts it
    assert [(c.setting, c.name) for c in task.cells] == [("per-language", "sw"), ("per-language", "yo")]
    yo = task.cells[1]
    assert set(np.asarray(task.docs.langs)[yo.doc_idx]) == {"yo"}
    assert task.options["counts"]["yo"]["passages"] == 4
    text_only = task_mod.build(spec, data_dir=tmp_path / "data", text_mode="text")
    assert text_only.docs.texts[0] == "sw passage 0"


def test_build_pooled_is_labelled_non_standard(tmp_path: Path) -> None:
    task = task_mod.build(TaskSpec.from_file(_mini(tmp_path, pooled=True)), data_dir=tmp_path / "data")
    assert task.options["standard"] is False
    assert all(c.setting == "multi" and len(c.doc_idx) == 8 for c in task.cells)


def test_counts_are_checked(tmp_path: Path) -> None:
    spec = TaskSpec.from_file(_mini(tmp_path, n_docs=3))
    with pytest.raises(DataError, match="3 passages, expected 4"):
        task_mod.build(spec, data_dir=tmp_path / "data")
    assert len(task_mod.build(spec, data_dir=tmp_path / "data", strict=False).docs) == 6


def test_missing_relevant_passage_is_an_error(tmp_path: Path) -> None:
    spec = TaskSpec.from_file(_mini(tmp_path, extra_qrel="2\tQ0\t99#0\t1\n"))
    spec.options["expected_positives"] = {"sw": 2, "yo": 2}
    with pytest.raises(DataError, match="relevant passage.*not in the corpus.*99#0"):
        task_mod.build(spec, data_dir=tmp_path / "data")


def test_offline_hub_download_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError) as err:
        reader.hub_corpus_files("sw", tmp_path / "hub")
    msg = str(err.value)
    assert "miracl-corpus-v1.0-sw/docs-0.jsonl.gz" in msg and "miracl/miracl-corpus" in msg
    assert "miracl/corpus/sw/" in msg and "\n" not in msg


def test_real_yoruba_dev(data_dir: Path) -> None:
    task = load_task("miracl", data_dir=data_dir, languages=["yo"])
    c = task.options["counts"]["yo"]
    assert (len(task.queries), len(task.docs)) == (119, 49_043)
    assert c == {"queries": 119, "passages": 49_043, "judgments": 1188, "positives": 144,
                 "judged_passages_in_corpus": 942, "judged_passages": 942}
    assert sum(len(v) for v in task.qrels.values()) == 144
    assert all(q.startswith("yo/") for q in task.queries.ids) and set(task.docs.langs) == {"yo"}


def test_real_topics_and_qrels_of_all_languages_match_published_counts(data_dir: Path) -> None:
    spec = TaskSpec.from_file(Path(__file__).resolve().parents[1] / "tasks" / "miracl.toml")
    assert sum(reader.CORPUS_SIZES.values()) == 106_332_152  # docs/PROTOCOLS.md §2.4
    for lang in spec.languages:
        topics = reader.read_topics(data_dir / "miracl" / "topics" / f"topics.miracl-v1.0-{lang}-dev.tsv")
        qrels = reader.read_qrels(data_dir / "miracl" / "qrels" / f"qrels.miracl-v1.0-{lang}-dev.tsv")
        assert len(topics) == spec.expected.questions[lang]
        assert sum(r > 0 for v in qrels.values() for r in v.values()) == spec.options["expected_positives"][lang]
