"""Our tasks as mteb retrieval tasks, built from the same loaders (``mlir_bench.tasks.load_task``).

>>> task = mteb_task("xquad-r")                       # the Multi setting: one pooled corpus
>>> results = mteb.evaluate(model, tasks=[task], cache=None)

One mteb *subset* per evaluation cell of the chosen setting (default: the task's Multi setting, else its main
setting). For Multi the subset is the query language: that language's queries against the ONE pool holding the
candidates of every language (all subsets share one corpus ``Dataset``). For MIRACL-style ``per-language``
cells it is the language with its own corpus; ``mono``/``cross`` work the same way. Relevant documents are the
task's qrels restricted to the cell's corpus, so mteb's nDCG denominator counts what ours counts, and queries
with no relevant document in the cell are dropped by mteb as they are skipped by us.

How the scores line up with ours (see tests/test_mteb.py and docs):

- mteb's score per subset = our cell's mean over evaluated queries; mteb's task score (``TaskResult.get_score``)
  is the mean over subsets = our macro-average over query languages
  (docs/PROTOCOLS.md §1).
- mteb rounds its per-subset nDCG/MAP/Recall means to 5 decimals (``parse_metrics_from_scores``); these tasks
  add ``ndcg_at_10_unrounded`` (the same per-query pytrec_eval values, averaged without rounding).
- Ties: pytrec_eval ranks by score descending, then document id descending, which is our order too.
- mteb strips leading/trailing whitespace from corpus texts before encoding (``_corpus_to_dict``); we encode
  texts as published. The tokenizers of our models ignore that whitespace, but it is a real difference for
  a model that does not.
- mteb's main score is ``ndcg_at_10`` (its convention); a spec whose main score is full-ranking MAP has no exact
  mteb counterpart (mteb's ``map_at_1000`` only sees the top 1000).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UserError
from ..tasks import Cell, TaskData, load_task

if TYPE_CHECKING:
    from mteb.abstasks.retrieval import AbsTaskRetrieval

TASK_PREFIX = "MLIRBench"
#: The instruction instruct-style mteb models get, on our tasks and on ``mteb:`` encoders alike.
QUERY_INSTRUCTION = "Given a question, retrieve passages that answer the question"
UNROUNDED_KEY = "ndcg_at_10_unrounded"

# ISO 639-1 -> mteb's ISO 639-3 + ISO 15924 codes, as mteb's own MIRACL/XQuAD tasks spell them.
_MTEB_LANGS = {
    "ar": "ara-Arab", "bn": "ben-Beng", "de": "deu-Latn", "el": "ell-Grek", "en": "eng-Latn", "es": "spa-Latn",
    "fa": "fas-Arab", "fi": "fin-Latn", "fr": "fra-Latn", "hi": "hin-Deva", "id": "ind-Latn", "ja": "jpn-Jpan",
    "ko": "kor-Kore", "ru": "rus-Cyrl", "sw": "swa-Latn", "te": "tel-Telu", "th": "tha-Thai", "tr": "tur-Latn",
    "vi": "vie-Latn", "yo": "yor-Latn", "zh": "zho-Hans",
}


def to_mteb_lang(code: str) -> str:
    """``"de"`` -> ``"deu-Latn"`` (mteb's language-script code); uses mteb's ISO tables beyond our own."""
    if code in _MTEB_LANGS:
        return _MTEB_LANGS[code]
    from mteb.languages.iso_mappings import _get_iso1_to_iso3, _get_iso3_to_default_script

    iso3 = _get_iso1_to_iso3().get(code)
    script = _get_iso3_to_default_script().get(iso3 or "")
    if not iso3 or not script:
        raise UserError(f"language {code!r} has no mteb language code")
    return f"{iso3}-{script}"


def from_mteb_lang(code: str) -> str:
    """``"deu-Latn"`` (or ``"arb-Arab"``, ``"deu"``) -> ``"de"``; an unknown code is returned unchanged."""
    iso3 = code.split("-")[0]
    for k, v in _MTEB_LANGS.items():
        if v.split("-")[0] == iso3:
            return k
    if iso3 == "arb":  # mteb's XQuAD spells Arabic as Standard Arabic
        return "ar"
    from mteb.languages.iso_mappings import _get_iso1_to_iso3

    inverse = {v: k for k, v in _get_iso1_to_iso3().items()}
    return inverse.get(iso3, code)


def mteb_task_name(task: str, setting: str) -> str:
    """The mteb name of our ``task`` in ``setting``: ``MLIRBench.xquad-r.multi``."""
    return f"{TASK_PREFIX}.{task}.{setting}"


def parse_mteb_task_name(name: str) -> tuple[str, str] | None:
    """``MLIRBench.xquad-r.multi`` -> ``("xquad-r", "multi")``; None for a name that is not one of ours."""
    head = f"{TASK_PREFIX}."
    if not name.startswith(head) or "." not in name[len(head):]:
        return None
    task, setting = name[len(head):].rsplit(".", 1)
    return task, setting


def mteb_license(text: str) -> str:
    """Our free-text licence ("CC BY-SA 4.0") as one of mteb's licence literals, else "not specified"."""
    import typing

    from mteb.types._metadata import Licenses

    allowed = {a for arg in typing.get_args(Licenses) for a in (typing.get_args(arg) or (arg,))}
    first = text.split("(")[0].split(";")[0].strip().lower()
    candidate = "-".join(first.replace("_", " ").split())
    return candidate if candidate in allowed else "not specified"


def default_setting(data: TaskData) -> str:
    """Multi if the task has it (the setting mteb lacks), else the task's main setting."""
    settings = data.settings()
    if "multi" in settings:
        return "multi"
    if data.spec.main_setting in settings:
        return data.spec.main_setting
    return settings[0]


def revision_of(file_hashes: dict[str, str], languages: list[str] | tuple[str, ...] | None) -> str:
    """Our stand-in for a dataset revision: a short sha256 over the data files' sha256s and the languages.

    Results exported by :mod:`.mteb_results` carry the same revision as ``mteb_task`` gives the task.
    """
    h = hashlib.sha256()
    for path, digest in sorted(file_hashes.items()):
        h.update(f"{path}\0{digest}\n".encode())
    h.update(("languages=" + ",".join(languages or ())).encode())
    return h.hexdigest()[:16]


def dataset_revision(data: TaskData) -> str:
    """The revision of a loaded task (see :func:`revision_of`)."""
    langs = data.options.get("languages") or data.spec.languages
    return revision_of(data.file_hashes, list(langs))  # type: ignore[arg-type]


def split_name(data: TaskData) -> str:
    """The split label mteb files scores under: the spec's ``split`` option (MIRACL: dev), else ``test``."""
    return str(data.spec.options.get("split", "test"))


def cell_languages(cell: Cell) -> list[str]:
    """mteb codes of a cell: the query language first, then the other languages of its corpus."""
    langs = [cell.query_lang] + [x for x in cell.doc_langs if x != cell.query_lang]
    return [to_mteb_lang(x) for x in langs]


def build_split_data(data: TaskData, cells: list[Cell]) -> dict[str, Any]:
    """``{subset: RetrievalSplitData}`` for ``cells``; cells over the same documents share one corpus Dataset."""
    from datasets import Dataset
    from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData

    corpora: dict[bytes, Any] = {}
    out: dict[str, Any] = {}
    for cell in cells:
        doc_idx = np.asarray(cell.doc_idx, dtype=np.int64)
        key = doc_idx.tobytes()
        if key not in corpora:
            corpora[key] = Dataset.from_dict({
                "id": [data.docs.ids[i] for i in doc_idx],
                "text": [data.docs.texts[i] for i in doc_idx],
            })
        in_cell = {data.docs.ids[i] for i in doc_idx}
        qids = [data.queries.ids[i] for i in cell.query_idx]
        relevant = {}
        for qid in qids:
            rel = {d: int(r) for d, r in data.qrels.get(qid, {}).items() if d in in_cell and r > 0}
            if rel:
                relevant[qid] = rel
        queries = Dataset.from_dict({"id": qids, "text": [data.queries.texts[i] for i in cell.query_idx]})
        out[cell.name] = RetrievalSplitData(corpus=corpora[key], queries=queries, relevant_docs=relevant,
                                            top_ranked=None)
    return out


def mteb_task(
    name: str,
    *,
    setting: str | None = None,
    data_dir: str | Path | None = None,
    languages: list[str] | None = None,
    text_mode: str | None = None,
) -> AbsTaskRetrieval:
    """Our task ``name`` in one ``setting`` as an mteb retrieval task instance, ready for ``mteb.evaluate``.

    ``languages`` restricts the task as ``mlir-bench run --languages`` does (the pool shrinks too);
    ``text_mode`` is the candidate text (``sentence``, ``sentence+context``; default: the task's own).
    The data is read when this is called; mteb's ``load_data`` then only hands it over.
    """
    from mteb.abstasks.retrieval import AbsTaskRetrieval
    from mteb.abstasks.task_metadata import TaskMetadata

    opts: dict[str, Any] = {}
    if languages:
        opts["languages"] = list(languages)
    if text_mode:
        opts["text_mode"] = text_mode
    data = load_task(name, data_dir=data_dir, **opts)
    setting = setting or default_setting(data)
    cells = [c for c in data.cells if c.setting == setting]
    if not cells:
        raise UserError(f"task {data.spec.name} has no {setting!r} cells; it has {', '.join(data.settings())}")
    split = split_name(data)
    spec = data.spec
    metadata = TaskMetadata(
        name=mteb_task_name(spec.name, setting),
        description=f"{spec.description} mlir-bench task {spec.name}, {setting} setting"
                    + (f", candidate text {data.options['text_mode']}" if data.options.get("text_mode") else "")
                    + ".",
        reference="https://github.com/google-research-datasets/lareqa" if spec.family == "lareqa" else None,
        dataset={"path": f"mlir-bench/{spec.name}", "revision": dataset_revision(data)},
        type="Retrieval",
        category="t2t",
        modalities=["text"],
        eval_splits=[split],
        eval_langs={c.name: cell_languages(c) for c in cells},
        main_score="ndcg_at_10",
        prompt={"query": QUERY_INSTRUCTION},
        license=mteb_license(spec.license),
        bibtex_citation="",
        sample_creation="found",
        annotations_creators="derived",
        domains=["Encyclopaedic", "Written"],
        task_subtypes=["Question answering"],
        dialect=[],
        date=None,
    )

    def load_data(self: AbsTaskRetrieval, num_proc: int | None = None, **kwargs: Any) -> None:
        if self.data_loaded:
            return
        self.dataset = {subset: {split: sd} for subset, sd in build_split_data(data, cells).items()}
        self.data_loaded = True

    def task_specific_scores(self: AbsTaskRetrieval, scores: dict[str, dict[str, float]], qrels: Any,
                             results: Any, hf_split: str, hf_subset: str) -> dict[str, float]:
        values = [s["ndcg_cut_10"] for s in scores.values() if "ndcg_cut_10" in s]
        return {UNROUNDED_KEY: float(np.mean(values)) if values else float("nan")}

    cls_name = "".join(p.capitalize() for p in f"mlirbench {spec.name} {setting}".replace("-", " ").split())
    cls = type(cls_name, (AbsTaskRetrieval,), {
        "metadata": metadata,
        "load_data": load_data,
        "task_specific_scores": task_specific_scores,
        "__doc__": f"mlir-bench {spec.name} ({setting}) as an mteb retrieval task.",
        "mlir_task": data,
        "mlir_setting": setting,
    })
    return cls()


def mteb_tasks(names: list[str], **kwargs: Any) -> list[AbsTaskRetrieval]:
    """Several of our tasks as mteb tasks (same keyword options for all)."""
    return [mteb_task(n, **kwargs) for n in names]
