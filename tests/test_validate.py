"""mlir-bench validate: every committed result passes; each kind of damage to a copy is caught with its own line.

The damaged copies are made from committed results (XQuAD-R, MLQA-R and MIRACL-yo BM25), so these tests need no
data and no model. One test runs a fresh BM25 result on real data (skipped without it) and accepts it.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlir_bench.results.schema import per_query_path, read_result
from mlir_bench.results.validate import PER_QUERY_SETTINGS, accept, validate_file
from mlir_bench.scoring.bias_stats import STATISTICS
from mlir_bench.tasks import get_task_spec

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "results"
COMMITTED = sorted(RESULTS.glob("*.json"))
KINDS = {key: s.summary for s in STATISTICS for key in s.keys()}
XQUAD = "xquad-r__bm25__sentence.json"
MLQA = "mlqa-r__bm25__sentence.json"
MIRACL = "miracl__bm25__title-text__yo.json"


def check(path: Path, **kwargs: Any) -> list[str]:
    return [str(p) for p in validate_file(path, resolve_spec=get_task_spec, bias_summary=KINDS, **kwargs)]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from mlir_bench.cli import main; main()", *args],
                          capture_output=True, text=True, env=dict(os.environ), timeout=600)


def copy(tmp: Path, name: str) -> Path:
    shutil.copy(RESULTS / name, tmp / name)
    shutil.copy(per_query_path(RESULTS / name), per_query_path(tmp / name))
    return tmp / name


def edit_json(path: Path, fn: Callable[[dict[str, Any]], Any]) -> None:
    d = json.loads(path.read_text())
    fn(d)
    path.write_text(json.dumps(d))


def edit_sidecar(path: Path, fn: Callable[[dict[str, Any]], Any]) -> None:
    side = per_query_path(path)
    with gzip.open(side, "rt") as fh:
        d = json.load(fh)
    fn(d)
    with gzip.open(side, "wt") as fh:
        json.dump(d, fh)


# --------------------------------------------------------------------------------------------- committed results


def test_committed_results_exist() -> None:
    assert len(COMMITTED) >= 30 and all(per_query_path(p).exists() for p in COMMITTED)


@pytest.mark.parametrize("path", COMMITTED, ids=[p.name for p in COMMITTED])
def test_every_committed_result_passes(path: Path) -> None:
    assert check(path) == []


def test_cli_passes_the_results_folder() -> None:
    p = cli("validate", str(RESULTS))
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip().splitlines()[-1] == f"{len(COMMITTED)} file(s): {len(COMMITTED)} passed, 0 with 0 problem(s)"


def test_per_query_settings_are_the_runners() -> None:
    from mlir_bench.runner.run import PER_QUERY_SETTINGS as RUNNER

    assert tuple(RUNNER) == PER_QUERY_SETTINGS


# ------------------------------------------------------------------------------------------------ damaged copies


def _cell_map_up(d: dict[str, Any]) -> None:
    d["cells"]["mono/de"]["scores"]["map"] += 0.01


def _sha(d: dict[str, Any]) -> None:
    d["identity"]["dataset_sha256"]["xquad-r/de.json"] = "0" * 64
    d["manifest"]["dataset_sha256"]["xquad-r/de.json"] = "0" * 64


def _flip(values: list[float]) -> None:
    values[0] = values[0] - 0.5 if values[0] >= 0.5 else values[0] + 0.5


# (name, file, damage to the JSON, damage to the sidecar, expected line: "<file>: <where>: <what>" as a regex)
DAMAGES: list[tuple[str, str, Any, Any, str]] = [
    ("cell score -> the macro", XQUAD, _cell_map_up, None,
     r"\.json: settings\.mono\.scores\.map: 0\.718540534 is not the mean of its 11 cells' scores \(0\.719449625\)"),
    ("cell score -> its per-query values", XQUAD, _cell_map_up, None,
     r"\.perquery\.json\.gz: \[mono/de\]\.map: the 1190 per-query values average 0\.67605786\d, but "
     r"cells\.mono/de\.scores\.map is 0\.68605786\d"),
    ("macro-average", XQUAD, lambda d: d["settings"]["cross"]["scores"].__setitem__("recall@10", 0.2), None,
     r"\.json: settings\.cross\.scores\.recall@10: 0\.2 is not the mean of its 110 cells' scores"),
    ("main score", XQUAD, lambda d: d["main_score"].__setitem__("value", 0.5), None,
     r"\.json: main_score\.value: 0\.5, but settings\.multi\.scores\.map is 0\.0894816\d+"),
    ("per-query value", XQUAD, None, lambda s: _flip(s["mono/de"]["map"]),
     r"\.perquery\.json\.gz: \[mono/de\]\.map: the 1190 per-query values average .* but cells\.mono/de\.scores\.map"),
    ("per-query value out of range", XQUAD, None, lambda s: s["multi/en"]["ndcg@10"].__setitem__(3, 1.5),
     r"\.perquery\.json\.gz: \[multi/en\]\.ndcg@10: value 3 \(en/\S+\) is 1\.5; expected a number in \[0, 1\]"),
    ("per-query queries dropped", XQUAD, None,
     lambda s: s["multi/en"].update({k: v[:-1] for k, v in s["multi/en"].items()}),
     r"\.perquery\.json\.gz: \[multi/en\]\.qids: 1189 queries, but cells\.multi/en evaluated 1190"),
    ("per-query groups cut short", XQUAD, None, lambda s: s["multi/en"].__setitem__("groups", s["multi/en"]["groups"][:-1]),
     r"\.perquery\.json\.gz: \[multi/en\]\.groups: expected one non-empty group label \(a string\) per query \(1190\)"),
    ("per-query cell missing", XQUAD, None, lambda s: s.pop("mono/th"),
     r"\.perquery\.json\.gz: \[mono/th\]: missing: the per-query values of cells\.mono/th"),
    ("dataset sha256", XQUAD, _sha, None,
     r"\.json: identity\.dataset_sha256\[xquad-r/de\.json\]: 0{64}, expected "
     r"16fb0f4bf4916154b585a20c24c66074591c9718a1affe764ff4697572328949 \(tasks/xquad-r\.toml\): computed on other data"),
    ("dataset file not recorded", XQUAD, lambda d: d["identity"]["dataset_sha256"].pop("xquad-r/th.json"), None,
     r"\.json: identity\.dataset_sha256\[xquad-r/th\.json\]: not recorded; expected c52922d3|\[xquad-r/th\.json\]: "
     r"not recorded; expected c3a04186"),
    ("manifest sha256s differ from the identity", XQUAD,
     lambda d: d["manifest"]["dataset_sha256"].pop("xquad-r/th.json"), None,
     r"\.json: manifest\.dataset_sha256: differs from identity\.dataset_sha256"),
    ("spec digest", XQUAD, lambda d: d["identity"].__setitem__("spec_digest", "f" * 64), None,
     r"\.json: identity\.spec_digest: f{64} is not the digest of this version's tasks/xquad-r\.toml"),
    ("candidate count", XQUAD, lambda d: d["cells"]["mono/de"].__setitem__("n_documents", 1000), None,
     r"\.json: cells\.mono/de\.n_documents: 1000, expected 1276 \(de candidates, tasks/xquad-r\.toml\)"),
    ("question count", XQUAD, lambda d: d["cells"]["cross/ar-de"].update(n_queries=1000, n_evaluated=1000), None,
     r"\.json: cells\.cross/ar-de\.n_queries: 1000, expected 1190 \(ar questions, tasks/xquad-r\.toml\)"),
    ("pool size", XQUAD, lambda d: d["cells"]["multi/zh"].__setitem__("n_documents", 13000), None,
     r"\.json: cells\.multi/zh\.n_documents: 13000, expected the pool of 13014 \(tasks/xquad-r\.toml\)"),
    ("task pool size", XQUAD, lambda d: d["task"].__setitem__("n_documents", 12000), None,
     r"\.json: task\.n_documents: 12000, expected the pool of 13014"),
    ("cell counts do not add up", XQUAD, lambda d: d["cells"]["mono/ar"].__setitem__("n_skipped", 3), None,
     r"\.json: cells\.mono/ar: n_evaluated 1190 \+ n_skipped 3 != n_queries 1190"),
    ("setting counts", XQUAD, lambda d: d["settings"]["cross"].__setitem__("n_cells", 100), None,
     r"\.json: settings\.cross\.n_cells: 100, but the result has 110 cross cells"),
    ("score out of range", XQUAD, lambda d: d["cells"]["cross/ar-de"]["scores"].__setitem__("ndcg@10", 1.2), None,
     r"\.json: cells\.cross/ar-de\.scores\.ndcg@10: 1\.2 is out of range: a retrieval metric is in \[0, 1\]"),
    ("negative score", XQUAD, lambda d: d["settings"]["mono"]["scores"].__setitem__("mrr@10", -0.1), None,
     r"\.json: settings\.mono\.scores\.mrr@10: -0\.1 is out of range"),
    ("recall falls as the cutoff grows", XQUAD,
     lambda d: d["cells"]["mono/en"]["scores"].__setitem__("recall@100", 0.5), None,
     r"\.json: cells\.mono/en\.scores\.recall@100: 0\.5 < recall@10 0\.90168\d+: implausible"),
    ("bias summary", XQUAD, lambda d: d["bias"]["summary"].__setitem__("rank_distance", 11405.0), None,
     r"\.json: bias\.summary\.rank_distance: 11405 is not its macro value over languages \(11400\.2673\)"),
    ("bias summary: macro where the registry says micro", MLQA,
     lambda d: d["bias"]["summary"].__setitem__("peer@20", round(d["bias"]["per_language"]["peer@20"]["macro"], 6)),
     None, r"\.json: bias\.summary\.peer@20: 0\.572656 is not its micro value over languages \(0\.56252197\d+\)"),
    ("bias per-language value", MLQA,
     lambda d: d["bias"]["per_language"]["tlr@10"]["per_language"].__setitem__("de", 0.5), None,
     r"\.json: bias\.per_language\.tlr@10\.macro: 0\.048410215\d* is not the mean of its 7 languages"),
    ("bias per-language value vs its per-query values", MLQA,
     lambda d: d["bias"]["per_language"]["tlr@10"]["per_language"].__setitem__("de", 0.5), None,
     r"\.perquery\.json\.gz: \[bias/multi/\*\]\.tlr@10: the de per-query values average 0\.\d+, but "
     r"bias\.per_language\.tlr@10\.per_language\.de is 0\.5"),
    ("bias per-query value", MLQA, None, lambda s: s["bias/multi/hi"]["rank_distance"].__setitem__(0, 0.0),
     r"\.perquery\.json\.gz: \[bias/multi/\*\]\.rank_distance: the hi per-query values average [\d.]+, but "
     r"bias\.per_language\.rank_distance\.per_language\.hi is [\d.]+"),
    ("bias statistic out of range", MLQA, lambda d: d["bias"]["summary"].__setitem__("mrc@10", -120.0), None,
     r"\.json: bias\.summary\.mrc@10: -120 is out of range: mrc is in \[-100, 100\]"),
    ("rank distance beyond the pool", MLQA,
     lambda d: d["bias"]["per_language"]["rank_distance"]["per_language"].__setitem__("en", 30000.0), None,
     r"\.json: bias\.per_language\.rank_distance\.per_language\.en: 30000 is out of range: rank_distance is in "
     r"\[0, 20533\]"),
    ("language-subset data file", MIRACL,
     lambda d: d["identity"]["dataset_sha256"].__setitem__("miracl/topics/topics.miracl-v1.0-ar-dev.tsv",
                                                          "10b534b889ec46e23df478eee09410ef2880d90d419644dfed5d05d39b57ece0"),
     None, r"\.json: identity\.dataset_sha256\[miracl/topics/topics\.miracl-v1\.0-ar-dev\.tsv\]: 10b534b8\w+: not a "
     r"checksummed data file of miracl for languages yo"),
    ("MIRACL corpus size", MIRACL, lambda d: d["cells"]["per-language/yo"].__setitem__("n_documents", 49000), None,
     r"\.json: cells\.per-language/yo\.n_documents: 49000, expected 49043 \(yo candidates, tasks/miracl\.toml\)"),
    ("MIRACL query count", MIRACL, lambda d: d["task"].__setitem__("n_queries", 118), None,
     r"\.json: task\.n_queries: 118, expected 119 \(tasks/miracl\.toml\)"),
    ("main score not the spec's", MIRACL, lambda d: d["main_score"].__setitem__("metric", "recall@100"), None,
     r"\.json: main_score: per-language recall@100, expected per-language ndcg@10 \(tasks/miracl\.toml\)"),
    ("unknown task", XQUAD, lambda d: (d["task"].__setitem__("name", "xquad-x"),
                                       d["identity"].__setitem__("task", "xquad-x")), None,
     r"\.json: task\.name: task 'xquad-x' is not a task of this mlir-bench version"),
    ("identity disagrees with the result", XQUAD, lambda d: d["identity"].__setitem__("k", 50), None,
     r"\.json: identity\.k: 50, but the result says 100"),
    ("identity's model disagrees with the model section", XQUAD,
     lambda d: d["identity"]["model"].__setitem__("dtype", "bfloat16"), None,
     r"\.json: identity\.model\.dtype: 'bfloat16', but the model section says 'float32'"),
    ("schema: a field missing", XQUAD, lambda d: d.pop("main_score"), None,
     r"\.json: main_score: schema: Field required"),
    ("schema: a wrong type", XQUAD, lambda d: d["cells"]["mono/ar"].__setitem__("n_queries", "many"), None,
     r"\.json: cells\.mono/ar\.n_queries: schema: Input should be a valid integer"),
    ("schema version", XQUAD, lambda d: d.__setitem__("schema_version", 3), None,
     r"\.json: schema_version: found 3; expected one of 1, 2"),
]


@pytest.mark.parametrize(("name", "file", "damage", "side_damage", "line"), DAMAGES, ids=[d[0] for d in DAMAGES])
def test_damage_is_caught_with_its_line(tmp_path: Path, name: str, file: str, damage: Any, side_damage: Any,
                                        line: str) -> None:
    path = copy(tmp_path, file)
    assert check(path) == []  # the undamaged copy passes
    if damage:
        edit_json(path, damage)
    if side_damage:
        edit_sidecar(path, side_damage)
    problems = check(path)
    assert problems, f"{name}: not caught"
    assert any(re.search(line, p) for p in problems), f"{name}: expected /{line}/ among:\n" + "\n".join(problems)
    assert all(p.startswith(str(tmp_path)) for p in problems)  # every line names its file


def test_truncated_sidecar(tmp_path: Path) -> None:
    path = copy(tmp_path, XQUAD)
    side = per_query_path(path)
    side.write_bytes(side.read_bytes()[: side.stat().st_size // 2])
    assert check(path) == [f"{side}: (per-query file): per-query file is damaged or truncated (EOFError: Compressed "
                           "file ended before the end-of-stream marker was reached); re-run the model with --overwrite"]


def test_missing_sidecar(tmp_path: Path) -> None:
    path = copy(tmp_path, XQUAD)
    per_query_path(path).unlink()
    assert check(path) == [f"{per_query_path(path)}: (per-query file): per-query file not found"]


def test_not_json(tmp_path: Path) -> None:
    path = copy(tmp_path, XQUAD)
    path.write_text('{"schema_version": 2, "task": ')
    (line,) = check(path)
    assert line.startswith(f"{path}: (file): not valid JSON")


def test_renamed_file(tmp_path: Path) -> None:
    path = copy(tmp_path, XQUAD)
    other = tmp_path / "mine.json"
    path.rename(other)
    per_query_path(path).rename(per_query_path(other))
    assert check(other) == [f"{other}: (file name): mine.json, expected {XQUAD} (the name a run of this identity "
                            "writes)"]


def test_imported_mteb_result_is_one_line(tmp_path: Path) -> None:
    """import-mteb results carry no per-query values or data checksums: one line says so, instead of seven."""
    p = cli("import-mteb", str(REPO / "tests" / "fixtures" / "mteb" / "results"), "--output-dir", str(tmp_path))
    assert p.returncode == 0, p.stderr
    (path,) = tmp_path.glob("*.json")
    (line,) = check(path)
    assert line.startswith(f"{path}: imported: a result imported from mteb carries no per-query values")


def test_summary_kind_needs_the_registry(tmp_path: Path) -> None:
    """Without the registry's summary kinds a summary may be either average; with them, only the registered one."""
    path = copy(tmp_path, MLQA)
    edit_json(path, lambda d: d["bias"]["summary"].__setitem__(
        "peer@20", round(d["bias"]["per_language"]["peer@20"]["macro"], 6)))
    assert validate_file(path, resolve_spec=get_task_spec) == []
    assert [str(p) for p in validate_file(path, resolve_spec=get_task_spec, bias_summary=KINDS)] == [
        f"{path}: bias.summary.peer@20: 0.572656 is not its micro value over languages (0.562521975)"]


def test_several_damages_one_line_each(tmp_path: Path) -> None:
    path = copy(tmp_path, XQUAD)

    def damage(d: dict[str, Any]) -> None:
        d["cells"]["cross/ar-de"]["scores"]["ndcg@10"] = 1.2
        d["cells"]["mono/de"]["n_documents"] = 1000
        d["identity"]["spec_digest"] = "f" * 64

    edit_json(path, damage)
    problems = check(path)
    wheres = [p.split(": ")[1] for p in problems]
    assert len(wheres) == len(set(wheres))  # no line repeated
    assert {"cells.cross/ar-de.scores.ndcg@10", "cells.mono/de.n_documents", "identity.spec_digest"} <= set(wheres)


def test_cli_damaged_copy_exits_1_one_line_per_problem(tmp_path: Path) -> None:
    good = copy(tmp_path, MLQA)
    bad = copy(tmp_path, XQUAD)
    edit_json(bad, lambda d: (d["settings"]["cross"]["scores"].__setitem__("map", 0.2),
                              d["cells"]["mono/de"].__setitem__("n_documents", 1000)))
    p = cli("validate", str(good), str(bad))
    assert p.returncode == 1, p.stdout + p.stderr
    lines = p.stdout.strip().splitlines()
    assert lines == [
        f"{bad}: cells.mono/de.n_documents: 1000, expected 1276 (de candidates, tasks/xquad-r.toml)",
        f"{bad}: settings.cross.scores.map: 0.2 is not the mean of its 110 cells' scores (0.122300414)",
        "2 file(s): 1 passed, 1 with 2 problem(s)",
    ]
    assert p.stderr == ""


def test_cli_usage_errors(tmp_path: Path) -> None:
    p = cli("validate", str(RESULTS / XQUAD), "--accept", str(tmp_path / "acc"))
    assert p.returncode == 2 and "--accept: expected --by NAME" in p.stderr
    (tmp_path / "empty").mkdir()
    p = cli("validate", str(tmp_path / "empty"))
    assert p.returncode == 2 and "no result file (*.json) there" in p.stderr


# ----------------------------------------------------------------------------------------------------- accepting


def test_accept_marks_the_copy_submitted(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    src = copy(tmp_path / "in", XQUAD)
    dest = tmp_path / "results"
    p = cli("validate", str(src), "--accept", str(dest), "--by", "Jane Doe")
    assert p.returncode == 0, p.stdout + p.stderr
    out = dest / XQUAD
    assert p.stdout.strip().splitlines()[-1] == f"accepted {out} (submitted by Jane Doe)"
    sub = json.loads(out.read_text())["submitted"]
    assert sub["by"] == "Jane Doe" and re.fullmatch(r"\d{4}-\d\d-\d\d", sub["validated"])
    assert sub["source_file"] == XQUAD and len(sub["source_sha256"]) == 64
    assert per_query_path(out).read_bytes() == per_query_path(src).read_bytes()
    r = read_result(out)
    assert r.submitted is not None and r.submitted["by"] == "Jane Doe"  # type: ignore[attr-defined]
    assert r.settings == read_result(src).settings
    assert check(out) == []  # the accepted copy still passes
    # all or nothing: a destination that exists refuses the whole batch, and nothing is overwritten
    before = out.read_bytes()
    p = cli("validate", str(src), "--accept", str(dest), "--by", "Someone Else")
    assert p.returncode == 2 and "already there; nothing accepted" in p.stderr
    assert out.read_bytes() == before


def test_accepted_copy_with_another_sidecar_is_caught(tmp_path: Path) -> None:
    src = copy(tmp_path, XQUAD)
    out = accept(src, tmp_path / "results", by="Jane Doe", today="2026-01-01")
    edit_sidecar(out, lambda s: None)  # rewritten: same values, other bytes
    problems = check(out)
    assert len(problems) == 1 and ": submitted.per_query_sha256: " in problems[0]


def test_failing_files_are_not_accepted(tmp_path: Path) -> None:
    src = copy(tmp_path, XQUAD)
    edit_json(src, lambda d: d["main_score"].__setitem__("value", 0.5))
    p = cli("validate", str(src), "--accept", str(tmp_path / "results"), "--by", "Jane Doe")
    assert p.returncode == 1 and "nothing accepted" in p.stdout
    assert not (tmp_path / "results").exists()


# ----------------------------------------------------------------------------------------- a fresh run validates


def test_fresh_run_validates(tmp_path: Path, data_dir: Path) -> None:
    """A result written now (a language subset, with the bias section's version and per-query bias values) passes,
    is accepted with its figures, and loses its per-query bias values only with a problem line."""
    out = tmp_path / "run"
    p = cli("run", "-m", "bm25", "-t", "xquad-r", "--languages", "de,en,zh", "--output-dir", str(out),
            "--runs", "none", "--no-progress", "--no-cache", "--data-dir", str(data_dir))
    assert p.returncode == 0, p.stderr
    (path,) = sorted(out.glob("*.json"))
    assert path.name == "xquad-r__bm25__sentence__de-en-zh.json"
    assert check(path) == []
    assert json.loads(path.read_text())["bias"].get("version") is not None
    dest = accept(path, tmp_path / "results", by="Jane Doe")
    assert dest == tmp_path / "results" / path.name
    assert (tmp_path / "results" / "figures" / path.stem / "share_matrix.png").is_file()  # where the leaderboard looks
    edit_sidecar(path, lambda s: [s.pop(k) for k in list(s) if k.startswith("bias/")])
    assert check(path) == [f"{per_query_path(path)}: [bias/multi/*]: missing: the per-query bias values of the bias "
                           "section"]


def test_a_folder_is_its_own_results_not_the_experiment_reports_below_it(tmp_path: Path) -> None:
    from mlir_bench.results.validate import expand

    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "cpu-small.json").write_text('{"recipe": "cpu-small"}')
    (tmp_path / "xquad-r__m__sentence.json").write_text("{}")
    assert [p.name for p in expand([tmp_path])] == ["xquad-r__m__sentence.json"]
    # named explicitly, it is checked (and is not a result)
    assert expand([tmp_path / "experiments" / "cpu-small.json"]) == [tmp_path / "experiments" / "cpu-small.json"]
