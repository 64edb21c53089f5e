"""`mlir-bench experiment`: train every method and seed, evaluate, test the claims, report; resumable.

The trainer is replaced by a function that records its calls (training is tested in tests/test_training_*), and the
students by deterministic fake encoders (one per model folder), on two real XQuAD-R articles in de and en.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from _data import DATA
from fake_encoder import DIM, make_tiny_task

from mlir_bench.encoders.base import ModelMeta
from mlir_bench.experiment import Plan, run_experiment, verdict


class Student:
    """A hash vector per (role, text) plus a per-model perturbation, so every model scores differently."""

    def __init__(self, name: str, calls: list[str]) -> None:
        self.meta = ModelMeta(name=name, revision="1", dim=DIM, pooling="none", source="tests")
        self.calls = calls
        self.shift = np.random.default_rng(int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)).normal(size=DIM)

    def encode(self, texts, role, *, batch_size=32, progress=None):
        self.calls.append(self.meta.name)
        rows = []
        for t in texts:
            h = hashlib.sha256(f"{role}\0{t}".encode()).digest()
            v = np.frombuffer(h[:DIM], dtype=np.uint8).astype(np.float32) - 127.5
            v = v / np.linalg.norm(v) + 0.3 * self.shift.astype(np.float32)
            rows.append(v / np.linalg.norm(v))
        return np.stack(rows).astype(np.float32)


@pytest.fixture
def setup(tmp_path: Path):
    spec = make_tiny_task(tmp_path / "data", DATA)
    trained: list[tuple[str, int]] = []
    encoded: list[str] = []

    def train(recipe: str, method: str, folder: Path, seed: int) -> Path:
        trained.append((method, seed))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "training_manifest.json").write_text(f'{{"method": "{method}", "seed": {seed}}}')
        return folder

    plan = Plan(recipe="cpu-small", methods=["mimo", "x-y"], seeds=[0, 1], tasks=[str(spec)], dtype="float32",
                models_root=tmp_path / "models", results_dir=tmp_path / "results", data_dir=tmp_path / "data",
                permutations=500)
    kwargs = dict(train=train, encoder_factory=lambda name: Student(name, encoded), base="base-model",
                  log=lambda msg: None)
    return plan, kwargs, trained, encoded


def test_experiment_trains_evaluates_tests_and_resumes(setup) -> None:
    plan, kwargs, trained, encoded = setup
    report = run_experiment(plan, **kwargs)
    # kd-only is not asked for: the trainer is called for the methods given, kd-only first when present
    assert trained == [("mimo", 0), ("x-y", 0), ("mimo", 1), ("x-y", 1)]
    rows = report.rows[plan.tasks[0]]
    assert set(rows) == {"base", "mimo", "x-y"} and len(rows["mimo"]["Multi mAP"]) == 2
    md = (plan.results_dir / "experiments" / "cpu-small.md").read_text()
    assert "±" in md and "MIMO > XLCO (Multi mAP)" in md and (plan.results_dir / "experiments" / "cpu-small.json").exists()
    claim = next(t for t in report.claims if t["claim"] == "MIMO > XLCO (Multi mAP)")
    # the per-seed means are the results' Multi mAP (the sidecar keeps 6 decimals)
    assert claim["a_seeds"] == pytest.approx(rows["mimo"]["Multi mAP"], abs=1e-5)
    assert claim["b_seeds"] == pytest.approx(rows["x-y"]["Multi mAP"], abs=1e-5)
    assert claim["unit"] == "group"  # XQuAD-R queries are translations: one sign per question
    # the training record is kept beside the results, where the model cards read it
    record = plan.results_dir / "training" / "cpu-small" / "seed-1" / "x-y" / "training_manifest.json"
    assert record.read_text() == '{"method": "x-y", "seed": 1}'
    from mlir_bench.leaderboard.cards import student_of
    assert student_of("st:models/cpu-small/seed-1/x-y") == ("cpu-small/seed-1", "x-y")
    assert student_of("st:models/cpu-small/mimo") == ("cpu-small", "mimo")
    # a second call trains nothing new and encodes nothing: every result is reused
    n_encoded = len(encoded)
    run_experiment(plan, **kwargs)
    assert len(encoded) == n_encoded


def test_verdicts_by_hand() -> None:
    t = {"a_seeds": [0.5, 0.6, 0.55], "b_seeds": [0.4, 0.5, 0.5], "a_mean": 0.55, "b_mean": 0.4667,
         "lower_is_better": False}
    assert verdict(t, 0.01, 0.05, False) == "**holds**"
    assert verdict(t, 0.2, 0.05, False) == "direction only (n.s.)"
    mixed = dict(t, b_seeds=[0.4, 0.7, 0.5])
    assert verdict(mixed, 0.01, 0.05, False).startswith("seeds disagree (2 of 3")
    # rank distance: lower is better, so A below B in every seed holds
    rd = {"a_seeds": [400.0, 410.0], "b_seeds": [450.0, 460.0], "a_mean": 405.0, "b_mean": 455.0,
          "lower_is_better": True}
    assert verdict(rd, 0.001, 0.05, False) == "**holds**"
    assert verdict(dict(rd, a_seeds=[500.0, 510.0]), 0.001, 0.05, False) == "**reversed**"
    # against the single untrained run, every seed is compared with it
    base = dict(t, b_seeds=[0.45])
    assert verdict(base, 0.01, 0.05, False) == "**holds**"
    assert verdict(t, 0.2, 0.05, True) == "holds (no significant difference)"


def test_dev_tasks_are_scored_but_never_test_a_claim(setup, monkeypatch) -> None:
    plan, kwargs, _, _ = setup
    # the tiny task is a lareqa task; declare that family selection data, as ntrex-dev's is
    monkeypatch.setattr("mlir_bench.experiment.DEV_FAMILIES", frozenset({"lareqa"}))
    report = run_experiment(plan, **kwargs)
    assert report.dev_tasks == plan.tasks and report.claims == []
    assert set(report.rows[plan.tasks[0]]) == {"base", "mimo", "x-y"}
    assert "(dev: selection data, no claims tested)" in (plan.results_dir / "experiments" / "cpu-small.md").read_text()


def test_training_free_references_are_evaluated_and_tested(setup) -> None:
    plan, kwargs, _, encoded = setup
    from mlir_bench.embedding.cache import EmbeddingCache

    plan.references = ["center:pool"]
    plan.cache = EmbeddingCache(plan.results_dir.parent / "cache")
    report = run_experiment(plan, **kwargs)
    rows = report.rows[plan.tasks[0]]
    assert set(rows) == {"base", "base+center:pool", "mimo", "x-y"}
    # the transform is applied to the base's cached raw vectors: the base is encoded once per role, not again
    assert encoded.count("base-model") == 2
    claim = next(t for t in report.claims if t["b"] == "base+center:pool")
    assert claim["claim"] == "MIMO > base+center:pool, training-free (Multi mAP)"
    assert claim["b_seeds"] == pytest.approx(rows["base+center:pool"]["Multi mAP"], abs=1e-5)
    assert rows["base+center:pool"]["Multi mAP"] != rows["base"]["Multi mAP"]


def test_references_are_skipped_on_dev_tasks(setup, monkeypatch) -> None:
    plan, kwargs, _, _ = setup
    monkeypatch.setattr("mlir_bench.experiment.DEV_FAMILIES", frozenset({"lareqa"}))
    plan.references = ["center:pool"]
    report = run_experiment(plan, **kwargs)
    assert set(report.rows[plan.tasks[0]]) == {"base", "mimo", "x-y"} and report.claims == []
