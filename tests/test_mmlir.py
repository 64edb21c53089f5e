"""MMLIR (MIMO protocol, SHIFT construction): xquad-mmlir and mlqa-mmlir on the real files, belebele on a synthetic
copy, parallelism checks, offline errors, and a BM25 run through the runner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlir_bench.errors import DataError, UserError
from mlir_bench.runner import RunConfig, run_evaluation
from mlir_bench.tasks import TaskSpec, load_task, mmlir

REPO = Path(__file__).resolve().parents[1]
HEADLINE = ["ndcg@10", "ndcg@20", "ndcg@100", "recall@10", "recall@20", "recall@100", "mrr@10", "mrr@20",
            "mrr@100", "map@100"]


def test_xquad_mmlir_construction(data_dir: Path) -> None:
    task = load_task("xquad-mmlir", data_dir=data_dir)
    assert (len(task.queries), len(task.docs)) == (9520, 1920)
    q = "de/56beb4343aeaaa14008c925b"
    assert task.qrels[q] == {f"{x}/0.0": 1 for x in ("ar", "de", "en", "es", "hi", "ru", "vi", "zh")}
    assert {len(v) for v in task.qrels.values()} == {8}
    groups = dict(zip(task.queries.ids, task.queries.groups or [], strict=True))
    assert groups[q] == groups["zh/56beb4343aeaaa14008c925b"] == "56beb4343aeaaa14008c925b"
    assert task.spec.main_score == "ndcg@20" and task.spec.options["metrics"] == HEADLINE
    settings = [c.setting for c in task.cells]
    assert settings.count("multi") == 8 and settings.count("mono") == 8 and settings.count("all") == 1
    assert task.options["split"] == "test"


def test_mlqa_mmlir_dev_construction(data_dir: Path) -> None:
    task = load_task("mlqa-mmlir", data_dir=data_dir)
    assert task.options["split"] == "dev"
    assert (len(task.queries), len(task.docs)) == (4199, 3640)
    n_rel = [len(v) for v in task.qrels.values()]
    assert min(n_rel) >= 1 and max(n_rel) == 4
    per = task.options["counts"]["per_language"]
    assert per["en"] == {"queries": 1148, "passages": 975}
    # every relevant passage of a question is a context of the same MLQA id, one per context language
    qid = task.queries.ids[0]
    langs = [d.split("/")[0] for d in task.qrels[qid]]
    assert len(langs) == len(set(langs))


def _belebele_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "belebele").mkdir(parents=True)
    texts = {"en": ("Passage A.", "Passage B."), "de": ("Absatz A.", "Absatz B."), "fr": ("Passage A.", "Texte B.")}
    for lang, cfg in (("en", "eng_Latn"), ("de", "deu_Latn"), ("fr", "fra_Latn")):
        rows = [{"link": "l1", "question_number": 1, "flores_passage": texts[lang][0], "question": f"{lang} q1"},
                {"link": "l1", "question_number": 2, "flores_passage": texts[lang][0], "question": f"{lang} q2"},
                {"link": "l2", "question_number": 1, "flores_passage": texts[lang][1], "question": f"{lang} q3"}]
        (root / "belebele" / f"{cfg}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return root


def test_belebele_construction_on_local_files(tmp_path: Path) -> None:
    spec = TaskSpec.from_file(REPO / "tasks" / "belebele-mmlir.toml")
    task = mmlir.build(spec, data_dir=_belebele_root(tmp_path), languages=["de", "en", "fr"])
    # passages deduplicated by exact text, as SHIFT does: fr "Passage A." is the en passage
    assert len(task.docs) == 5 and task.docs.ids[:2] == ["de/p0", "de/p1"]
    assert len(task.queries) == 9
    by_text = dict(zip(task.queries.texts, task.queries.ids, strict=True))
    assert set(task.qrels[by_text["fr q1"]]) == {"de/p0", "en/p0"}
    assert set(task.qrels[by_text["de q3"]]) == {"de/p1", "en/p1", "fr/p0"}


def test_belebele_offline_error_names_file_and_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(url: str, dest: Path, sha256: str | None, **kw: object) -> Path:
        raise UserError(f"{dest}: cannot download {url} (offline); place the file there or set --data-dir")

    monkeypatch.setattr("mlir_bench.data.fetch.download", no_network)
    spec = TaskSpec.from_file(REPO / "tasks" / "belebele-mmlir.toml")
    with pytest.raises(UserError, match=r"belebele/deu_Latn\.jsonl.*huggingface\.co/datasets/facebook/belebele"):
        mmlir.build(spec, data_dir=tmp_path, languages=["de", "en"])


def test_xquad_files_must_be_parallel(tmp_path: Path, data_dir: Path) -> None:
    root = tmp_path / "data"
    (root / "xquad-r").mkdir(parents=True)
    for lang in ("de", "en"):
        doc = json.loads((data_dir / "xquad-r" / f"{lang}.json").read_text(encoding="utf-8"))
        if lang == "de":
            doc["data"][0]["paragraphs"] = doc["data"][0]["paragraphs"][::-1]
        (root / "xquad-r" / f"{lang}.json").write_text(json.dumps(doc), encoding="utf-8")
    spec = TaskSpec.from_file(REPO / "tasks" / "xquad-mmlir.toml")
    with pytest.raises(DataError, match="not parallel"):
        mmlir.build(spec, data_dir=root, languages=["de", "en"], verify=False)


def test_mlqa_test_split_offline_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(url: str, dest: Path, sha256: str | None, **kw: object) -> Path:
        raise UserError(f"{dest}: cannot download {url} (offline)")

    monkeypatch.setattr("mlir_bench.data.fetch.download", no_network)
    with pytest.raises(UserError, match=r"MLQA_V1\.zip.*dl\.fbaipublicfiles\.com/MLQA/MLQA_V1\.zip"):
        load_task("mlqa-mmlir-test", data_dir=tmp_path)


def test_bm25_run_reports_the_mimo_metrics(tmp_path: Path, data_dir: Path) -> None:
    fast = {"bias": False} if "bias" in RunConfig.__dataclass_fields__ else {}  # bias is tested elsewhere
    cfg = RunConfig(model="bm25", task="xquad-mmlir", data_dir=data_dir, output_dir=tmp_path, runs_dir=None,
                    languages=["de", "en"], **fast)
    r = run_evaluation(cfg).to_json()
    assert r["main_score"]["metric"] == "ndcg@20" and r["main_score"]["setting"] == "multi"
    assert set(HEADLINE) <= set(r["metrics"])
    assert r["task"]["split"] == "test" and r["task"]["text_mode"] == "passage"
    multi = r["settings"]["multi"]["scores"]
    assert 0.0 < multi["ndcg@20"] <= 1.0 and r["settings"]["multi"]["n_skipped"] == 0
    assert np.isclose(r["main_score"]["value"], multi["ndcg@20"])
    assert Path(tmp_path / "xquad-mmlir__bm25__passage__de-en.json").exists()
