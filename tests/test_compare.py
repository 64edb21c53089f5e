"""`mlir-bench compare`: pairing by query id, undefined values, lower-is-better statistics, errors, the CLI."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from result_factory import make_result

from mlir_bench.errors import UserError
from mlir_bench.leaderboard.compare import compare_models, paired_values, select_entries
from mlir_bench.leaderboard.significance import randomization_test


def write_result(folder: Path, name: str, per_query: dict, cells: dict, task: str = "toy") -> None:
    result = make_result(task, name, cells)
    stem = f"{task}__{name.replace('/', '_')}__sentence"
    (folder / f"{stem}.json").write_text(json.dumps(result), encoding="utf-8")
    with gzip.open(folder / f"{stem}.perquery.json.gz", "wt", encoding="utf-8") as fh:
        json.dump(per_query, fh)


CELLS = {"multi/de": {"setting": "multi", "name": "de"}, "multi/en": {"setting": "multi", "name": "en"},
         "mono/de": {"setting": "mono", "name": "de"}}


@pytest.fixture
def results(tmp_path: Path) -> Path:
    # model a: map de [1, .5, 0], en [1, 1]; model b: map de [.5, .5, 0], en [0, 1] (query order differs)
    write_result(tmp_path, "a", {
        "multi/de": {"qids": ["de/1", "de/2", "de/3"], "map": [1.0, 0.5, 0.0]},
        "multi/en": {"qids": ["en/1", "en/2"], "map": [1.0, 1.0]},
        "bias/multi/de": {"qids": ["de/1", "de/2", "de/3"], "rank_distance": [2.0, None, 4.0]},
        "bias/multi/en": {"qids": ["en/1", "en/2"], "rank_distance": [1.0, 3.0]},
    }, CELLS)
    write_result(tmp_path, "models/b", {
        "multi/de": {"qids": ["de/3", "de/2", "de/1"], "map": [0.0, 0.5, 0.5]},
        "multi/en": {"qids": ["en/2", "en/1"], "map": [1.0, 0.0]},
        "bias/multi/de": {"qids": ["de/1", "de/2", "de/3"], "rank_distance": [6.0, 1.0, 8.0]},
        "bias/multi/en": {"qids": ["en/1", "en/2"], "rank_distance": [5.0, 7.0]},
    }, CELLS)
    return tmp_path


def test_values_are_paired_by_query_id(results: Path) -> None:
    entries = select_entries(results, "toy", ["a", "models/b"])
    scores, sizes, _ = paired_values(entries, "multi", "map")
    assert sizes == {"de": 3, "en": 2}
    assert scores["a"].tolist() == [1.0, 0.5, 0.0, 1.0, 1.0]
    assert scores["models/b"].tolist() == [0.5, 0.5, 0.0, 0.0, 1.0]


def test_macro_means_and_p_value_by_hand(results: Path) -> None:
    mc = compare_models(results, "toy", ["models/b", "a"], metric="map", n_permutations=2000)
    # a: macro of de mean .5 and en mean 1 = .75; b: (1/3 + 1/2) / 2 = 5/12
    assert mc.comparison.models == ["a", "models/b"]
    assert mc.means == pytest.approx([0.75, 5 / 12])
    # pairs follow the query order of the first model named (models/b: de/3, de/2, de/1, en/2, en/1)
    w = np.array([1 / 6, 1 / 6, 1 / 6, 1 / 4, 1 / 4])
    a = np.array([0.0, 0.5, 1.0, 1.0, 1.0])
    b = np.array([0.0, 0.5, 0.5, 1.0, 0.0])
    assert mc.p_value("a", "models/b", adjusted=False) == randomization_test(a, b, w, 2000, 42)
    # two non-zero weighted differences (.5 / 6 and 1 / 4): 2 of the 4 sign patterns are as extreme -> p ~ .5
    assert mc.p_value("a", "models/b") == pytest.approx(0.5, abs=0.04)
    assert not mc.comparison.better[0][1]


def test_lower_is_better_and_undefined_values_are_dropped(results: Path) -> None:
    mc = compare_models(results, "toy", ["a", "models/b"], metric="rank_distance", n_permutations=500)
    assert mc.lower_is_better
    assert mc.cell_sizes == {"de": 2, "en": 2}  # de/2 is undefined for model a
    # a: de (2 + 4) / 2 = 3, en (1 + 3) / 2 = 2 -> 2.5; b: de 7, en 6 -> 6.5; a is ranked first (lower)
    assert mc.comparison.models == ["a", "models/b"]
    assert mc.means == pytest.approx([2.5, 6.5])
    d = mc.to_dict()
    assert d["metric"] == "rank_distance" and d["lower_is_better"] and d["n_queries"] == 4


def test_errors_name_the_problem(results: Path) -> None:
    with pytest.raises(UserError, match="no result of model 'c' on toy; models with results: a, models/b"):
        compare_models(results, "toy", ["a", "c"])
    with pytest.raises(UserError, match="at least two models"):
        compare_models(results, "toy", ["a"])
    with pytest.raises(UserError, match="no results of task 'other'"):
        compare_models(results, "other", ["a", "models/b"])
    with pytest.raises(UserError, match=r"no per-query 'tlr@10' for cell bias/multi/de .*--overwrite"):
        compare_models(results, "toy", ["a", "models/b"], metric="tlr@10")
    with pytest.raises(UserError, match="no per-query 'map' for cell mono/de"):
        compare_models(results, "toy", ["a", "models/b"], setting="mono")


def test_cli_prints_the_table_and_writes_json(results: Path) -> None:
    out = results / "cmp.json"
    p = subprocess.run([sys.executable, "-c", "from mlir_bench.cli import main; main()", "compare", "-t", "toy", "-m", "a,models/b",
                        "--results-dir", str(results), "--permutations", "500", "--json", str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "models/b" in p.stdout and "0.7500" in p.stdout and "0.4167" in p.stdout
    assert json.loads(out.read_text())["models"] == ["a", "models/b"]
    p = subprocess.run([sys.executable, "-c", "from mlir_bench.cli import main; main()", "compare", "-t", "toy", "-m", "a,zzz",
                        "--results-dir", str(results)], capture_output=True, text=True)
    assert p.returncode == 2 and "no result of model 'zzz'" in p.stderr and "Traceback" not in p.stderr


def _with_groups(folder: Path) -> None:
    """Rewrite the fixture's sidecars with groups: the de and en versions of question k share group k."""
    for p in folder.glob("*.perquery.json.gz"):
        with gzip.open(p, "rt", encoding="utf-8") as fh:
            pq = json.load(fh)
        for key, entry in pq.items():
            if not key.startswith("bias/"):  # the bias cells stay without: they borrow the metric cells' groups
                entry["groups"] = [q.split("/")[1] for q in entry["qids"]]
        with gzip.open(p, "wt", encoding="utf-8") as fh:
            json.dump(pq, fh)


def test_grouped_test_by_hand(results: Path) -> None:
    """Weighted differences a - b: question 1 has de .5/6 and en 1/4 (sum 1/3), questions 2 and 3 sum to 0. With
    one sign per question only question 1 matters, and both of its signs are as extreme: p = 1 (per query ~ .5)."""
    with pytest.raises(UserError, match="no query groups"):
        compare_models(results, "toy", ["a", "models/b"], n_permutations=500, unit="group")
    auto = compare_models(results, "toy", ["a", "models/b"], n_permutations=500)
    assert auto.comparison.unit == "query"  # no groups stored: auto falls back to per query
    _with_groups(results)
    grouped = compare_models(results, "toy", ["a", "models/b"], n_permutations=2000)
    assert grouped.comparison.unit == "group" and grouped.comparison.n_units == 3
    assert grouped.p_value("a", "models/b", adjusted=False) == pytest.approx(1.0)
    per_query = compare_models(results, "toy", ["a", "models/b"], n_permutations=2000, unit="query")
    assert per_query.p_value("a", "models/b", adjusted=False) == pytest.approx(0.5, abs=0.04)
    assert grouped.to_dict()["unit"] == "group" and grouped.means == per_query.means
    # bias statistics take the groups of the metric cells of the same sidecar
    rd = compare_models(results, "toy", ["a", "models/b"], metric="rank_distance", n_permutations=500)
    assert rd.comparison.unit == "group"
