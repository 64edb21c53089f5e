"""XQuAD-R and MLQA-R built from the published files: counts, ids, qrels and cells
(docs/PROTOCOLS.md §1, §2.1, §2.2)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from mlir_bench.errors import DataError, UserError
from mlir_bench.tasks import get_task_spec, list_task_specs, load_task

XQ_CANDS = dict(ar=1222, de=1276, el=1234, en=1180, es=1215, hi=1244, ru=1219, th=852, tr=1167, vi=1209, zh=1196)
MQ = dict(ar=(517, 2545), de=(512, 2362), en=(1148, 6264), es=(500, 1787), hi=(507, 2426), vi=(511, 2828),
          zh=(504, 2322))


@pytest.fixture(scope="module")
def xquad(data_dir):
    return load_task("xquad-r", data_dir=data_dir)


@pytest.fixture(scope="module")
def mlqa(data_dir):
    return load_task("mlqa-r", data_dir=data_dir)


def test_registry_lists_both_tasks():
    names = {s.name for s in list_task_specs()}
    assert {"xquad-r", "mlqa-r"} <= names
    spec = get_task_spec("xquad-r")
    assert spec.license == "CC BY-SA 4.0" and spec.main_score == "map"
    assert get_task_spec("mlqa-r").license == "CC BY-NC 4.0"
    with pytest.raises(UserError, match="unknown task"):
        get_task_spec("no-such-task")


def test_xquad_counts(xquad):
    assert len(xquad.docs) == 13014
    assert len(xquad.queries) == 13090
    assert Counter(xquad.docs.langs) == XQ_CANDS
    assert Counter(xquad.queries.langs) == dict.fromkeys(XQ_CANDS, 1190)
    # every question has its answer sentence in all 11 languages
    assert Counter(len(v) for v in xquad.qrels.values()) == {11: 13090}


def test_xquad_ids_and_first_last_records(xquad):
    assert xquad.queries.ids[0] == "ar/56beb4343aeaaa14008c925b"
    assert xquad.docs.ids[0] == "ar/0.0.0"
    assert xquad.docs.ids[-1].startswith("zh/47.")
    en = xquad.queries.langs.index("en")
    assert xquad.queries.texts[en] == "How many points did the Panthers defense surrender?"
    assert xquad.qrels[xquad.queries.ids[en]]["en/0.0.0"] == 1  # the answer (308 points) is in sentence 0
    assert len(set(xquad.docs.ids)) == len(xquad.docs.ids)


def test_xquad_cells(xquad):
    settings = Counter(c.setting for c in xquad.cells)
    assert settings == {"mono": 11, "cross": 110, "multi": 11}
    cross = next(c for c in xquad.cells if c.name == "de-zh")
    assert set(np.asarray(xquad.docs.langs)[cross.doc_idx]) == {"zh"}
    assert set(np.asarray(xquad.queries.langs)[cross.query_idx]) == {"de"}
    multi = next(c for c in xquad.cells if c.setting == "multi")
    assert len(multi.doc_idx) == 13014


def test_mlqa_counts_and_relevant_sets(mlqa):
    assert len(mlqa.docs) == 20534
    assert Counter(mlqa.docs.langs) == {k: v[1] for k, v in MQ.items()}
    assert Counter(mlqa.queries.langs) == {k: v[0] for k, v in MQ.items()}
    sizes = Counter(len(v) for v in mlqa.qrels.values())
    assert set(sizes) <= {2, 3, 4}  # no MLQA question exists in all 7 languages
    settings = Counter(c.setting for c in mlqa.cells)
    assert settings == {"mono": 7, "cross": 42, "multi": 7}


def test_sentence_context_mode(data_dir):
    t = load_task("xquad-r", data_dir=data_dir, text_mode="sentence+context", languages=["en"])
    assert t.docs.texts[0].startswith("The Panthers defense gave up just 308 points")
    assert len(t.docs.texts[0]) > 400  # followed by the paragraph
    with pytest.raises(UserError, match="text mode"):
        load_task("xquad-r", data_dir=data_dir, text_mode="paragraph")


def test_count_mismatch_fails_loudly(data_dir, tmp_path):
    from mlir_bench.tasks.registry import task_dirs

    toml = (task_dirs()[-1] / "xquad-r.toml").read_text().replace("en = 1180", "en = 1181")
    p = tmp_path / "xquad-r-bad.toml"
    p.write_text(toml.replace('name = "xquad-r"', 'name = "xquad-r-bad"'))
    with pytest.raises(DataError, match="1180 candidate sentences, expected 1181"):
        load_task(str(p), data_dir=data_dir)
