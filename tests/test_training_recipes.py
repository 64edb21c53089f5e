"""Recipes and methods: listing, validation errors that name the field, and the paper recipe's offline stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlir_bench.errors import UserError
from mlir_bench.training.api import list_methods, list_recipes, train_reference
from mlir_bench.training.recipes import load_recipe, resolve_method


def test_shipped_recipes_and_methods():
    assert {"cpu-small", "cpu-small-self", "paper", "smoke"} <= set(list_recipes())
    assert list_methods() == ["kd-only", "mimo", "x-x", "x-x-mono", "x-y", "hybrid", "hybrid-single-pair"]
    assert resolve_method("mimo-stage1").name == "kd-only"
    assert resolve_method("infonce").name == "x-x"  # MIMO's InfoNCE baseline is LAReQA's X-X, not X-X-mono
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
    # the baselines share their schedules: X-X with X-X-mono (MIMO's GradCache 64), both hybrids (Elmahdy's)
    assert recipe.settings("x-x") == recipe.settings("x-x-mono") and recipe.settings("x-x").mini_batch_size == 64
    assert recipe.settings("hybrid-single-pair") == recipe.settings("hybrid")
    assert recipe.settings("hybrid").batch_size == 100


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


def test_method_definitions_tell_the_plans_apart():
    xx, mono = resolve_method("x-x"), resolve_method("x-x-mono")
    assert (xx.objective, xx.plan) == ("infonce", "xx") and (mono.objective, mono.plan) == ("infonce", "mono")
    hybrid, single = resolve_method("hybrid"), resolve_method("hybrid-single-pair")
    assert hybrid.definition() == {"objective": "infonce", "plan": "hybrid", "init": "base",
                                   "hybrid_cross": "per-example"}
    assert single.definition() == {**hybrid.definition(), "hybrid_cross": "single-pair"}
    assert "hybrid_cross" not in xx.definition()


def test_cpu_small_self_is_cpu_small_with_a_self_teacher():
    small, self_ = load_recipe("cpu-small"), load_recipe("cpu-small-self")
    assert self_.self_teacher and not small.self_teacher
    assert self_.student == small.student and self_.data == small.data and self_.train == small.train
    assert self_.data.holdout_task == "ntrex-dev"  # inherited: trained without the dev documents
    for method in ("kd-only", "mimo"):  # the student's prompts, whatever [teacher] says
        teacher = self_.teacher_for(method)
        assert (teacher.query_prompt, teacher.document_prompt) == ("query: ", "passage: ")
    assert small.teacher_for("mimo").query_prompt == ""  # a real teacher keeps its own


def test_self_teacher_refuses_other_prompts(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('extends = "cpu-small"\nname = "r"\n[teacher]\nmodel = "self"\nquery_prompt = "Query: "\n')
    with pytest.raises(UserError, match=r"query_prompt = 'Query: ' differs from the student's 'query: '"):
        load_recipe(path)


def test_holdout_task_must_be_an_ntrex_dev_task_and_offline(tmp_path):
    from mlir_bench.training.recipes import holdout_documents

    assert len(holdout_documents("ntrex-dev")) == 30 and load_recipe("cpu-small").holdout == holdout_documents("ntrex-dev")
    with pytest.raises(UserError, match="expected a held-out NTREX-128 dev task"):
        holdout_documents("xquad-r")
    with pytest.raises(UserError, match="unknown task"):
        holdout_documents("no-such-task")
    path = tmp_path / "hub.toml"
    path.write_text('extends = "paper"\nname = "hub"\n[data]\nholdout_task = "ntrex-dev"\n')
    with pytest.raises(UserError, match="holdout_task .* no effect with source = 'hub'"):
        load_recipe(path)
    path.write_text('extends = "smoke"\nname = "typo"\n[data]\nholdout_task = "ntrex-dve"\n')
    with pytest.raises(UserError, match="unknown task 'ntrex-dve'"):  # caught when the recipe loads
        load_recipe(path)
    path.write_text('extends = "smoke"\nname = "held"\n[data]\nholdout_task = "ntrex-dev"\n')
    plain = tmp_path / "plain.toml"
    plain.write_text('extends = "smoke"\nname = "held"\n[data]\nholdout_task = ""\n')
    assert load_recipe(path).sha256 != load_recipe(plain).sha256  # the hold-out is part of the identity


def test_run_folder_convention():
    from mlir_bench.training.api import run_folder

    assert run_folder("cpu-small", "mimo", 2) == Path("models/cpu-small/seed-2/mimo")
    # the stage-1 sibling of a seed's mimo is that seed's kd-only
    assert run_folder("cpu-small", "mimo", 2).parent / "kd-only" == run_folder("cpu-small", "kd-only", 2)


def _fake_complete(folder: Path, recipe: str, method: str, seed: int, **extra) -> None:
    import json

    from mlir_bench.training.recipes import METHODS

    folder.mkdir(parents=True)
    manifest = {"status": "complete", "recipe": {"sha256": load_recipe(recipe).sha256}, "method": method,
                "seed": seed, "method_definition": METHODS[method].definition(), **extra}
    (folder / "training_manifest.json").write_text(json.dumps(manifest))


def test_completed_run_of_another_seed_is_refused(tmp_path):
    from mlir_bench.training.api import _is_complete

    _fake_complete(tmp_path / "x-y", "smoke", "x-y", seed=1)
    assert _is_complete(tmp_path / "x-y", load_recipe("smoke"), "x-y", 1)
    assert train_reference("smoke", "x-y", tmp_path / "x-y", data_dir=tmp_path, seed=1) == tmp_path / "x-y"
    with pytest.raises(UserError, match="completed run with seed 1, not seed 2"):
        train_reference("smoke", "x-y", tmp_path / "x-y", data_dir=tmp_path, seed=2)


def test_redefined_hybrid_is_not_complete_without_its_definition(tmp_path):
    from mlir_bench.training.api import _is_complete

    recipe = load_recipe("smoke")
    _fake_complete(tmp_path / "hybrid", "smoke", "hybrid", seed=0, method_definition=None)
    _fake_complete(tmp_path / "x-y", "smoke", "x-y", seed=0, method_definition=None)
    assert not _is_complete(tmp_path / "hybrid", recipe, "hybrid", 0)  # old manifests: one pair per batch
    assert _is_complete(tmp_path / "x-y", recipe, "x-y", 0)  # unchanged methods stay complete
    _fake_complete(tmp_path / "h2", "smoke", "hybrid", seed=0,
                   method_definition=resolve_method("hybrid-single-pair").definition())
    assert not _is_complete(tmp_path / "h2", recipe, "hybrid", 0)


def test_cli_default_folder_holds_the_seed(tmp_path, monkeypatch):
    """`train-reference --seed n` goes to models/<recipe>/seed-<n>/<method>, named by the method, not an alias."""
    from typer.testing import CliRunner

    from mlir_bench.cli import app

    monkeypatch.chdir(tmp_path)
    _fake_complete(tmp_path / "models" / "smoke" / "seed-1" / "x-y", "smoke", "x-y", seed=1)
    result = CliRunner().invoke(app, ["train-reference", "--recipe", "smoke", "--method", "xlco", "--seed", "1",
                                      "--data-dir", str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "trained x-y (smoke, seed 1) -> models/smoke/seed-1/x-y" in " ".join(result.output.split())
    result = CliRunner().invoke(app, ["train-reference", "--recipe", "smoke", "--method", "x-y", "--seed", "2",
                                      "--output-dir", "models/smoke/seed-1", "--data-dir", str(tmp_path)])
    assert isinstance(result.exception, UserError)  # main() prints it as one line; the app raises it
    assert "completed run with seed 1, not seed 2" in str(result.exception)


def test_fp32_pilots_differ_from_their_parents_only_where_they_say():
    small, fp32 = load_recipe("cpu-small"), load_recipe("cpu-small-fp32")
    assert small.settings("mimo").bf16 and not fp32.settings("mimo").bf16
    assert fp32.student == small.student and fp32.teacher == small.teacher and fp32.data == small.data
    self_fp32, deep = load_recipe("cpu-small-self-fp32"), load_recipe("cpu-small-deep-fp32")
    assert self_fp32.self_teacher and not self_fp32.settings("mimo").bf16
    assert self_fp32.student == small.student and self_fp32.data == small.data
    assert (small.student.freeze_layers, deep.student.freeze_layers) == (8, 4)
    assert deep.teacher == small.teacher and deep.settings("mimo") == fp32.settings("mimo")


def test_cpu_1h_is_cpu_small_fp32_with_four_times_cpu_medium_budget():
    one_hour, medium, fp32 = load_recipe("cpu-1h"), load_recipe("cpu-medium"), load_recipe("cpu-small-fp32")
    for method in ("kd-only", "mimo"):
        s = one_hour.settings(method)
        assert (s.steps, s.batch_size, s.bf16) == (4 * medium.settings(method).steps, 32, False)
        assert s.learning_rate == fp32.settings(method).learning_rate
    assert one_hour.data == fp32.data and one_hour.data.holdout_task == "ntrex-dev"
    assert one_hour.student == fp32.student and one_hour.teacher == fp32.teacher
