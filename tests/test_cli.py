"""End to end through the real CLI: real data, real models, result JSON, run files, tables."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import pytest

from mlir_bench.results.trec import read_trec_run


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from mlir_bench.cli import main; main()", *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=1800)


@pytest.fixture(scope="module")
def bm25_xquad(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("res")
    runs = tmp_path_factory.mktemp("runs")
    p = cli("run", "--model", "bm25", "--task", "xquad-r", "--output-dir", str(out), "--runs-dir", str(runs),
            "--no-progress", "--no-cache")
    assert p.returncode == 0, p.stderr
    return out, runs, p


def test_full_xquad_run_writes_result(bm25_xquad):
    out, runs, p = bm25_xquad
    res = json.loads((out / "xquad-r__bm25__sentence.json").read_text())
    assert res["schema_version"] == 2 and res["identity"]["task"] == "xquad-r"
    assert {s: v["n_cells"] for s, v in res["settings"].items()} == {"mono": 11, "cross": 110, "multi": 11}
    assert res["task"]["n_documents"] == 13014 and res["task"]["n_queries"] == 13090
    assert res["settings"]["multi"]["n_skipped"] == 0
    m = res["manifest"]
    assert len(m["dataset_sha256"]) == 11 and m["timings"]["total_seconds"] > 0
    # BM25 is lexical: strong within a language, weak across languages
    mono, cross, multi = (res["settings"][s]["scores"]["map"] for s in ("mono", "cross", "multi"))
    assert mono > 0.6 and cross < 0.3 and multi < mono
    assert res["main_score"] == {"metric": "map", "setting": "multi", "value": multi}
    # the macro-average is the mean of the per-language cells
    cells = [c["scores"]["map"] for c in res["cells"].values() if c["setting"] == "multi"]
    assert abs(sum(cells) / len(cells) - multi) < 1e-12
    assert "multi" in p.stdout and "mono" in p.stdout and "cross" in p.stdout
    # language bias is computed in every run of a task with parallel queries
    b = res["bias"]
    for key in ("rank_distance", "mrc@10", "peer@20", "tlr@10", "own_language_share@10"):
        assert b["summary"][key] is not None, key
    assert b["summary"]["own_language_share@10"] > 0.9  # lexical matching keeps to the query's language
    assert b["geometry"] is None  # sparse vectors: no embedding geometry
    assert (out / "figures" / "xquad-r__bm25__sentence" / "share_matrix.png").exists()


def test_run_files_and_per_query(bm25_xquad):
    out, runs, _ = bm25_xquad
    run = read_trec_run(runs / "xquad-r__bm25__sentence" / "multi" / "en.trec.gz")
    assert len(run) == 1190 and all(len(v) == 100 for v in run.values())
    pq = json.loads(gzip.decompress((out / "xquad-r__bm25__sentence.perquery.json.gz").read_bytes()))
    assert len(pq["multi/en"]["qids"]) == 1190 and len(pq["multi/en"]["map"]) == 1190
    # per-query bias values (for paired tests) are in the sidecar, and average to the result's figures
    res = json.loads((out / "xquad-r__bm25__sentence.json").read_text())
    assert "per_query" not in res["bias"]
    b = pq["bias/multi/en"]
    assert b["qids"] == pq["multi/en"]["qids"]
    # the group of every query (its question id, from the task's group field): the unit of grouped tests
    assert pq["multi/en"]["groups"] == [q.split("/", 1)[1] for q in pq["multi/en"]["qids"]] == b["groups"]
    assert pq["mono/de"]["groups"] == pq["multi/en"]["groups"]
    for stat in ("rank_distance", "tlr@100", "own_language_share@10", "mrc@10", "peer@20"):
        vals = [v for v in b[stat] if v is not None]
        assert len(vals) == 1190, stat
        want = res["bias"]["per_language"][stat]["per_language"]["en"]
        assert abs(sum(vals) / len(vals) - want) < 1e-5, stat


def test_rerun_reuses_result(bm25_xquad):
    out, runs, _ = bm25_xquad
    p = cli("run", "--model", "bm25", "--task", "xquad-r", "--output-dir", str(out), "--runs-dir", str(runs),
            "--no-progress")
    assert p.returncode == 0 and "reusing" in p.stderr


def test_dense_model_on_language_subset(tmp_path, data_dir):
    p = cli("run", "-m", "muse-v3", "-t", "mlqa-r", "--languages", "de,es", "--output-dir", str(tmp_path),
            "--runs", "none", "--no-progress", "--no-cache", "--save-embeddings", str(tmp_path / "emb"))
    assert p.returncode == 0, p.stderr
    res = json.loads((tmp_path / "mlqa-r__muse-v3__sentence__de-es.json").read_text())
    s = res["settings"]
    assert s["cross"]["n_cells"] == 2 and s["multi"]["n_cells"] == 2
    # multilingual USE retrieves across languages far better than chance
    assert s["cross"]["scores"]["map"] > 0.3
    # questions of de without a Spanish version have no relevant candidate in the de-es cell: skipped, counted
    assert s["cross"]["n_skipped"] > 0
    g = res["bias"]["geometry"]
    assert 0 < g["xl_align"] < 2 and g["uniformity"] < 0
    assert g["same_language_cosine"] > g["cross_language_cosine"]
    assert (tmp_path / "figures" / "mlqa-r__muse-v3__sentence__de-es" / "xl_align.png").exists()
    ids = (tmp_path / "emb" / "documents.ids.txt").read_text().split()
    assert len(ids) == 2362 + 1787 and (tmp_path / "emb" / "documents.npy").exists()


def test_user_errors_are_one_line(tmp_path):
    for args, needle in ((["run", "-m", "bm25", "-t", "nope"], "unknown task"),
                         (["run", "-m", "no-such-model", "-t", "xquad-r", "--output-dir", str(tmp_path)], "model"),
                         (["run", "-m", "bm25", "-t", "xquad-r", "--metric", "ndcg@x"], "metric")):
        p = cli(*args)
        assert p.returncode == 2, (args, p.stderr)
        assert needle in p.stderr and "Traceback" not in p.stderr
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr


# ------------------------------------------------------------------------------------------------ listings
@pytest.mark.parametrize("command", ["list-tasks", "list-models"])
def test_listings_are_never_truncated_off_a_terminal(command):
    """`mlir-bench list-tasks | grep belebele-mmlir` used to find nothing: names were cut to "belebele-mm…"."""
    from mlir_bench.encoders.registry import registered_names
    from mlir_bench.tasks import list_task_specs

    # models registered in this process by other tests (fake-*) are not in the subprocess's registry
    names = [s.name for s in list_task_specs()] if command == "list-tasks" else \
        [n for n in registered_names() if not n.startswith("fake-")]
    p = cli(command, env={"COLUMNS": "60"})  # a pipe, and a narrow default width
    assert p.returncode == 0, p.stderr
    assert "…" not in p.stdout, p.stdout
    words = set(p.stdout.replace("│", " ").split())
    assert set(names) <= words, (sorted(set(names) - words), p.stdout)
    if command == "list-tasks":
        assert "belebele-mmlir" in words


@pytest.mark.parametrize("command", ["list-tasks", "list-models"])
def test_listings_as_json(command):
    from mlir_bench.encoders.registry import registered_names
    from mlir_bench.tasks import list_task_specs

    p = cli(command, "--json")
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    if command == "list-tasks":
        assert [r["name"] for r in rows] == [s.name for s in list_task_specs()]
        assert {"family", "level", "languages", "main_setting", "main_score", "license"} <= set(rows[0])
    else:
        assert sorted(r["name"] for r in rows) == [n for n in registered_names() if not n.startswith("fake-")]
        assert {"dim", "similarity", "prompts", "max_length", "revision", "source"} <= set(rows[0])


# ------------------------------------------------------------------------------------------------ numba's cache
def test_numba_cache_falls_back_when_neither_the_package_nor_home_is_writable(tmp_path):
    """An installed package and a user without a writable home: numba found no cache folder for the
    ``@njit(cache=True)`` kernels and every run died on import ("no locator available")."""
    import shutil
    from pathlib import Path

    import mlir_bench

    pkg = tmp_path / "site" / "mlir_bench"
    shutil.copytree(Path(mlir_bench.__file__).parent, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for d in [pkg, *(p for p in pkg.rglob("*") if p.is_dir())]:
        (d / "__pycache__").write_text("not a folder")  # the package's folders cannot hold a cache (read-only)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".cache").write_text("not a folder")  # ~/.cache/numba cannot be created, even by root
    home.chmod(0o555)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "MLIR_BENCH_CACHE")}
    env.update(HOME=str(home), TMPDIR=str(tmp), PYTHONPATH=str(pkg.parent))
    code = ("import os, numpy as np, mlir_bench\n"
            "assert mlir_bench.__file__.startswith(os.environ['PYTHONPATH']), mlir_bench.__file__\n"
            "import mlir_bench.search.kernels\n"
            "from mlir_bench.results._trec_kernel import _put_int\n"
            "out = np.zeros(8, np.uint8)\n"
            "assert _put_int(out, 0, 42) == 2 and bytes(out[:2]) == b'42'\n"
            "print(os.environ['NUMBA_CACHE_DIR'])\n")
    try:
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600,
                           cwd=tmp_path)
    finally:
        home.chmod(0o755)
    assert p.returncode == 0, p.stderr[-3000:]
    cache_dir = Path(p.stdout.strip())
    assert cache_dir.parent == tmp and cache_dir.stat().st_mode & 0o077 == 0  # private to the user
    assert list(cache_dir.rglob("*.nbi")), "numba cached nothing"
    env["MLIR_BENCH_CACHE"] = str(tmp_path / "mb-cache")  # a configured mlir-bench cache is preferred
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600,
                       cwd=tmp_path)
    assert p.returncode == 0 and p.stdout.strip() == str(tmp_path / "mb-cache" / "numba"), p.stderr[-3000:]
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")  # an explicit choice is kept
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600,
                       cwd=tmp_path)
    assert p.returncode == 0 and p.stdout.strip() == str(tmp_path / "mine"), p.stderr[-3000:]
