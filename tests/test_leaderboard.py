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
from mlir_bench.leaderboard.load import geometry_value, group_conditions, load_results
from mlir_bench.leaderboard.significance import (
    align_per_query,
    clusters,
    compare,
    holm,
    macro_weights,
    paired_t_test,
    randomization_test,
)
from mlir_bench.leaderboard.zero_shot import overlap

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
                       task: str = "toy-r") -> Path:
    """Result JSON + per-query sidecars for a 3-language toy task, in the runner's schema (version 1)."""
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
        if bias_summary is not None:  # the runner's layout: geometry scalars are also in the summary
            geo = {k: geometry_value(geometry, k) for k in ("xl_align", "uniformity")}
            result["bias"] = {"setting": "multi", "summary": {**bias_summary, **geo}, "geometry": geometry,
                              "definitions": {"mrc@k": "Spearman x100 of parallel queries' scores. Higher = fairer."}}
        stem = f"{task}__{name}__sentence"
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
    scores, sizes = align_per_query(pq, "map", ["multi/en"])
    assert sizes == [2]
    assert scores["x"].tolist() == [0.1, 0.3] and scores["y"].tolist() == [0.7, 0.9]


# ---------------------------------------------------------------------------------------------- metadata


def test_not_zero_shot_flag() -> None:
    assert overlap(["SQuAD v1.1", "msmarco"], {"name": "xquad-r"}) == ["SQuAD v1.1"]
    assert overlap(["squad_v2"], {"name": "mlqa-r"}) == []
    assert overlap(["MLQA"], {"name": "mlqa-r"}) == ["MLQA"]
    assert overlap(["Mr. TyDi"], {"name": "miracl"}) == ["Mr. TyDi"]
    assert overlap(["wiki"], {"name": "x", "derived_from": ["Wiki"]}) == ["wiki"]


def test_geometry_value_accepts_numbers_and_dicts() -> None:
    assert geometry_value({"xl_align": 0.5}, "xl_align") == 0.5
    assert geometry_value({"xl_align": {"overall": 0.7}}, "xl_align") == 0.7
    assert geometry_value({"xl_align": {"matrix": []}}, "xl_align") is None
    assert geometry_value(None, "xl_align") is None


# ---------------------------------------------------------------------------------------------- the page


@pytest.fixture(scope="module")
def fake_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("lb")
    results = write_fake_results(root / "results")
    (results / "expected.toml").write_text(
        '[[condition]]\nmodel = "weak-model"\ntask = "toy-r"\nsetting = "mono"\nmetric = "map"\nexpected = 0.1\n'
        'tags = ["fast"]\n', encoding="utf-8")
    out = build_leaderboard(results, root / "site" / "index.html", n_permutations=500)
    return out, out.read_text(encoding="utf-8")


def test_page_is_self_contained(fake_page: tuple[Path, str]) -> None:
    _, html = fake_page
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html), "the page must not load anything remote"
    assert "<script src" not in html and 'rel="stylesheet"' not in html
    assert "<style>" in html and "<script>" in html


def test_page_has_one_view_per_setting_with_tables_and_figures(fake_page: tuple[Path, str]) -> None:
    _, html = fake_page
    for setting in ("mono", "cross", "multi"):
        assert f'id="toy-r-{setting}"' in html
    assert html.count('class="lb sortable"') == 3
    assert html.count('class="bias-table sortable"') == 1  # bias and geometry: the Multi view only
    assert html.count('class="heatmap"') == 1 + 4 + 1  # Mono (models × lang), Cross (one per model), Multi
    assert 'class="scatter"' in html and html.count('class="pt"') == 3  # weak-model has no geometry
    assert "No alignment/uniformity in the results of: weak-model" in html
    for col in ("rank_distance", "mrc@10", "peer@20", "XL-align", "uniformity"):
        assert html.replace("\u200b", "").count(f">{col}</th>") == 1  # geometry not repeated as bias columns
    assert 'title="Spearman x100 of parallel queries&#39; scores. Higher = fairer."' in html


def test_page_marks_significance_and_groups(fake_page: tuple[Path, str]) -> None:
    _, html = fake_page
    multi = html[html.index('id="toy-r-multi"'):html.index('id="models"')]
    # strong (a) beats the twins (b, c) and weak (d); the twins beat weak; the twins are not separable
    assert re.search(r'title="significantly better than b, c, d[^"]*">bcd</sup>', multi)
    assert multi[:multi.index("Language bias and geometry")].count(">2–3</td>") == 2
    assert "Cross cells have no per-query values" in html
    assert "Holm-adjusted p &lt; 0.05" in html


def test_page_flags_not_zero_shot_and_links_manifests(fake_page: tuple[Path, str]) -> None:
    path, html = fake_page
    assert re.search(r'class="flag" title="training data overlaps this task(&#39;|\')s source: SQuAD v1.1"', html)
    assert html.count('<dialog class="manifest"') == 4
    m = re.search(r'<a href="([^"]+toy-r__strong-model__sentence\.json)"', html)
    assert m and (path.parent / m.group(1)).resolve().exists()
    assert "dataset sha256" in html and "f" * 64 in html


def test_page_reproduction_table(fake_page: tuple[Path, str]) -> None:
    _, html = fake_page
    assert "weak-model · toy-r · mono · map" in html and 'class="status-fail"' in html


def test_page_without_bias_or_per_query_degrades(tmp_path: Path) -> None:
    results = write_fake_results(tmp_path / "r", models={k: (v[0], [], None, None) for k, v in FAKE_MODELS.items()})
    for p in results.glob("*.perquery.json.gz"):
        p.unlink()
    html = build_leaderboard(results, tmp_path / "index.html", n_permutations=200).read_text(encoding="utf-8")
    assert 'class="scatter"' not in html and "Embedding geometry" not in html
    assert "Mono cells have no per-query values" in html and "Multi cells have no per-query values" in html


def test_page_is_deterministic(tmp_path: Path) -> None:
    results = write_fake_results(tmp_path / "r")
    a = build_leaderboard(results, tmp_path / "a" / "index.html", n_permutations=300).read_text(encoding="utf-8")
    b = build_leaderboard(results, tmp_path / "b" / "index.html", n_permutations=300).read_text(encoding="utf-8")
    assert a == b


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
    bad = CliRunner().invoke(app, ["leaderboard", "--results-dir", str(tmp_path / "missing"), "--out", str(out)])
    assert bad.exit_code != 0


@pytest.mark.skipif(not (ROOT / "leaderboard" / "index.html").exists() or not list((ROOT / "results").glob("*.json")),
                    reason="no committed leaderboard/index.html and results/ yet")
def test_committed_page_is_up_to_date(tmp_path: Path) -> None:
    """leaderboard/index.html is what `mlir-bench leaderboard` renders from the committed results/ (no drift)."""
    fresh = build_leaderboard(ROOT / "results", tmp_path / "leaderboard" / "index.html")
    committed = (ROOT / "leaderboard" / "index.html").read_text(encoding="utf-8")
    # manifest links are relative to the output folder; the fresh page lives elsewhere
    rel = re.compile(r'href="[^"#]*?results/')
    assert rel.sub('href="results/', fresh.read_text(encoding="utf-8")) == rel.sub('href="results/', committed), \
        "leaderboard/index.html is stale: run `mlir-bench leaderboard` and commit it"


def test_page_escapes_names(tmp_path: Path) -> None:
    results = write_fake_results(tmp_path / "r", models={"x<b>y": (0.1, [], None, None), "z": (0.0, [], None, None)})
    html = build_leaderboard(results, tmp_path / "index.html", n_permutations=200).read_text(encoding="utf-8")
    assert "x<b>y" not in html and "x&lt;b&gt;y" in html


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
