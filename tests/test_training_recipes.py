"""Recipes and methods: listing, validation errors that name the field, and the paper recipe's offline stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlir_bench.errors import UserError
from mlir_bench.training.api import list_methods, list_recipes, train_reference
from mlir_bench.training.recipes import load_recipe, resolve_method


def test_shipped_recipes_and_methods():
    assert {"cpu-small", "paper", "smoke"} <= set(list_recipes())
    assert list_methods() == ["kd-only", "mimo", "x-x-mono", "x-y", "hybrid"]
    assert resolve_method("mimo-stage1").name == "kd-only"
    for name in list_recipes():
        recipe = load_recipe(name)
        assert "en" in recipe.data.languages
        for method in list_methods():
            assert recipe.settings(method).batch_size > 0


def test_cpu_small_gives_every_method_the_same_budget():
    recipe = load_recipe("cpu-small")
    budgets = {(recipe.settings(m).steps, recipe.settings(m).batch_size) for m in list_methods()}
    assert len(budgets) == 1


def test_paper_recipe_is_mimos_configuration():
    recipe = load_recipe("paper")
    assert recipe.teacher.model == "Qwen/Qwen3-Embedding-8B" and recipe.student.model == "FacebookAI/xlm-roberta-large"
    assert len(recipe.data.languages) == 14
    stage1, stage2 = recipe.settings("kd-only"), recipe.settings("mimo")
    assert (stage1.learning_rate, stage1.batch_size, recipe.teacher_for("kd-only").max_seq_length) == (1e-4, 128, 256)
    assert (stage2.learning_rate, stage2.batch_size, stage2.mini_batch_size) == (2e-5, 2048, 32)
    assert (stage2.xlco_weight, stage2.distill_weight, stage2.scale) == (0.2, 0.8, 20.0)
    assert stage1.bf16 and stage2.bf16


def test_unknown_recipe_and_method(tmp_path):
    with pytest.raises(UserError, match="unknown recipe 'nope'"):
        load_recipe("nope")
    with pytest.raises(UserError, match="unknown method 'mimo3'"):
        train_reference("smoke", "mimo3", tmp_path, data_dir=tmp_path)


def test_unknown_key_names_the_table(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text(Path(load_recipe("smoke").path).read_text() + "\n[methods.hybrid]\np_mon = 0.5\n")
    with pytest.raises(UserError, match=r"unknown key\(s\) \['p_mon'\] in \[methods.hybrid\]"):
        load_recipe(path)


def test_missing_data_dir_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="data directory not found"):
        train_reference("smoke", "x-y", tmp_path / "out", data_dir=tmp_path / "nothing", progress=False)


def test_paper_stops_offline_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError) as err:
        train_reference("paper", "mimo", tmp_path / "out", data_dir=tmp_path)
    assert "HF_HUB_OFFLINE=1" in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()


def test_cpu_medium_extends_cpu_small_with_four_times_the_budget():
    small, medium = load_recipe("cpu-small"), load_recipe("cpu-medium")
    assert medium.name == "cpu-medium" and medium.sha256 != small.sha256
    assert {medium.settings(m).steps for m in list_methods()} == {4 * small.settings("x-y").steps}
    for m in list_methods():  # everything but the budget is cpu-small's
        assert medium.settings(m).learning_rate == small.settings(m).learning_rate
        assert medium.settings(m).batch_size == small.settings(m).batch_size
    assert medium.student == small.student and medium.teacher == small.teacher and medium.data == small.data


def test_extends_merges_tables_and_rejects_cycles(tmp_path):
    (tmp_path / "a.toml").write_text('extends = "smoke"\nname = "a"\n[train]\nsteps = 7\n[methods.x-y]\nscale = 5.0\n')
    a = load_recipe(tmp_path / "a.toml")
    smoke = load_recipe("smoke")
    assert a.settings("x-y").steps == 7 and a.settings("x-y").scale == 5.0
    assert a.settings("x-y").batch_size == smoke.settings("x-y").batch_size  # merged key by key
    assert a.settings("kd-only").projection_learning_rate == smoke.settings("kd-only").projection_learning_rate
    (tmp_path / "b.toml").write_text('extends = "c.toml"\nname = "b"\n')
    (tmp_path / "c.toml").write_text('extends = "b.toml"\nname = "c"\n')
    with pytest.raises(UserError, match="extend each other in a cycle"):
        load_recipe(tmp_path / "b.toml")
    (tmp_path / "d.toml").write_text('extends = "nope"\nname = "d"\n')
    with pytest.raises(UserError, match="unknown recipe 'nope'"):
        load_recipe(tmp_path / "d.toml")
