"""`mlir-bench check`: expected scores as data (Pyserini 2CR style), rerun and judged OK / OKish / FAIL.

The integration tests rerun BM25 on the real XQuAD-R and MLQA-R (about 30 s each) from tasks/expected.toml,
as CI does, and show that a deliberately perturbed expected value FAILs with a non-zero exit status.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _data import DATA, REPO, needs_data
from typer.testing import CliRunner

from mlir_bench.cli import app
from mlir_bench.errors import UserError
from mlir_bench.results.expected import (
    Condition,
    classify,
    judge,
    load_expected,
    packaged_expected_scores,
    select,
)
from mlir_bench.results.schema import parse_result

EXPECTED = packaged_expected_scores()  # tasks/expected.toml, shipped as mlir_bench.task_specs


def _toml(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------- units


def test_classify() -> None:
    assert classify(0.5, 0.5, 5e-4) == "OK"
    assert classify(0.5000004, 0.5, 5e-4) == "OK"  # equal at the 6 decimals the file is written in
    assert classify(0.5003, 0.5, 5e-4) == "OKish"
    assert classify(0.4990, 0.5, 5e-4) == "FAIL"
    assert classify(None, 0.5, 5e-4) == "FAIL"
    assert classify(float("nan"), 0.5, 5e-4) == "FAIL"


def test_load_expected_defaults_and_tags(tmp_path: Path) -> None:
    p = _toml(tmp_path / "e.toml", '[defaults]\ntolerance = 1e-3\n\n[[condition]]\nmodel = "bm25"\ntask = "t"\n'
                                    'setting = "multi"\nmetric = "map"\nexpected = 0.25\ntags = ["fast"]\n\n'
                                    '[[condition]]\nmodel = "m"\ntask = "t"\nsetting = "mono"\nmetric = "map"\n'
                                    'expected = 0.5\ntolerance = 0.01\ntext_mode = "sentence+context"\n'
                                    'dtype = "bf16"\n')
    a, b = load_expected(p)
    assert a == Condition("bm25", "t", "multi", "map", 0.25, 1e-3, tags=("fast",))
    assert b.tolerance == 0.01 and b.text_mode == "sentence+context" and b.run_key == ("m", "t", "sentence+context", (), "bfloat16")
    assert select([a, b], tags=["fast"]) == [a]
    assert select([a, b], models=["m"]) == [b]


@pytest.mark.parametrize("body, message", [
    ('[[condition]]\nmodel = "x"\n', "missing"),
    ('[[condition]]\nmodel = "x"\ntask = "t"\nsetting = "s"\nmetric = "map"\nexpected = 1\ncolour = 1\n', "unknown keys"),
    ('[[condition]]\nmodel = "x"\ntask = "t"\nsetting = "s"\nmetric = "map"\nexpected = "high"\n', "condition 1"),
    ('[[condition]]\nmodel = "x"\ntask = "t"\nsetting = "s"\nmetric = "map"\nexpected = 1\ndtype = "int8"\n',
     "condition 1: unsupported dtype 'int8'"),
    ("", "no [[condition]]"),
    ("not toml = = 1", "cannot read"),
])
def test_load_expected_errors(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(UserError, match=message.replace("[", r"\[")):
        load_expected(_toml(tmp_path / "bad.toml", body))


def test_score_and_judge() -> None:
    raw = json.loads((REPO / "results" / "xquad-r__bm25__sentence.json").read_text(encoding="utf-8"))
    raw["settings"]["multi"]["scores"]["map"] = 0.3
    raw["bias"]["summary"]["rank_distance"] = 210.0
    del raw["settings"]["mono"]
    result = parse_result(raw)
    assert result.score("multi", "map") == 0.3
    assert result.score("bias", "rank_distance") == 210.0
    assert result.score("mono", "map") is None
    c = Condition("m", "t", "multi", "map", 0.31, 5e-4)
    assert judge(c, result).status == "FAIL"
    assert judge(c, None, "run failed: boom").message == "run failed: boom"
    assert judge(Condition("m", "t", "bias", "rank_distance", 210.0), result).status == "OK"


def test_committed_expected_file_parses() -> None:
    conds = load_expected(EXPECTED)
    fast = select(conds, tags=["fast"])
    assert fast and {c.task for c in fast} >= {"xquad-r", "mlqa-r"}


# ---------------------------------------------------------------------------------------------- reruns

needs_xquad_mlqa = needs_data("xquad-r/en.json", "mlqa-r")


@pytest.fixture(scope="module")
def fast_check(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """`mlir-bench check --tag fast` on the committed expected scores, results kept for the next test."""
    out = tmp_path_factory.mktemp("check")
    r = CliRunner().invoke(app, ["check", "--expected", str(EXPECTED), "--tag", "fast", "--data-dir", str(DATA),
                                 "--output-dir", str(out), "--no-cache"])
    return out, r


@needs_xquad_mlqa
def test_check_passes_on_the_committed_expected_scores(fast_check: tuple[Path, object]) -> None:
    _, r = fast_check
    assert r.exit_code == 0, r.output
    n = len(select(load_expected(EXPECTED), tags=["fast"]))
    assert r.output.count("[OK]") + r.output.count("[OKish]") == n
    assert "[FAIL]" not in r.output and "0 FAIL" in r.output


@needs_xquad_mlqa
def test_perturbed_expected_value_fails(fast_check: tuple[Path, object], tmp_path: Path) -> None:
    """A moved number FAILs with exit status 1; a tiny move within tolerance is OKish; the exact one is OK."""
    out, _ = fast_check
    real = next(c for c in load_expected(EXPECTED) if (c.task, c.setting, c.metric) == ("mlqa-r", "multi", "map"))
    body = "".join(f'[[condition]]\nmodel = "bm25"\ntask = "mlqa-r"\nsetting = "multi"\nmetric = "map"\n'
                   f"expected = {v:.6f}\n\n" for v in (real.expected, real.expected + 2e-4, real.expected + 0.01))
    exp = _toml(tmp_path / "perturbed.toml", body)
    r = CliRunner().invoke(app, ["check", "--expected", str(exp), "--data-dir", str(DATA), "--output-dir", str(out),
                                 "--reuse", "--no-cache"])  # reuse the rerun of the fixture: same numbers, fast
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.output.splitlines() if ln.startswith("[")]
    assert [ln.split("]")[0] + "]" for ln in lines] == ["[OK]", "[OKish]", "[FAIL]"], r.output
    assert f"expected {real.expected + 0.01:.6f}" in lines[2]
    assert "1 OK · 1 OKish · 1 FAIL" in r.output


def test_check_reports_a_failed_run_as_fail(tmp_path: Path) -> None:
    exp = _toml(tmp_path / "e.toml", '[[condition]]\nmodel = "bm25"\ntask = "no-such-task"\nsetting = "multi"\n'
                                     'metric = "map"\nexpected = 0.1\n')
    r = CliRunner().invoke(app, ["check", "--expected", str(exp), "--output-dir", str(tmp_path / "o"), "--no-cache"])
    assert r.exit_code == 1 and "[FAIL]" in r.output and "run failed" in r.output


def test_check_with_no_matching_condition_is_a_user_error(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["check", "--expected", str(EXPECTED), "--tag", "no-such-tag"])
    assert r.exit_code != 0
