"""Results both ways: our result JSON -> mteb ``TaskResult`` files, and mteb result files -> our result JSON.

Export (:func:`export_result`): one cell per mteb subset, for one setting (default Multi, else the result's main
setting), under the mteb task name of :func:`.mteb_tasks.mteb_task_name` (``MLIRBench.xquad-r.multi``), the same
name and dataset revision that ``mteb_task(...)`` gives the task, so exported files sit beside results of
``mteb.evaluate`` on our tasks. Files are written in mteb's results layout:
``<dir>/<model_name_as_path>/<revision>/<TaskName>.json`` plus ``model_meta.json``.

Import (:func:`import_task_result`): a ``TaskResult`` JSON of a task we share (``MIRACLRetrieval``: one subset
per language, each against its own corpus = our ``miracl`` per-language cells; or one of our own exported
tasks) -> a result in our schema marked ``"imported": {"from": "mteb", ...}``, so the leaderboard can show it and
flag it. The model's ``model_meta.json`` beside the file (mteb writes one) supplies the revision and training
datasets (the leaderboard's not-zero-shot flag); without it the name comes from the folder layout.

Metric names: ours ``ndcg@k``, ``recall@k``, ``map@k`` (trec_eval map_cut), ``mrr@k``, ``p@k``, ``hit@k`` are
mteb's ``ndcg_at_k``, ``recall_at_k``, ``map_at_k``, ``mrr_at_k``, ``precision_at_k``, ``hit_rate_at_k``. Our
full-ranking ``map`` and ``mrr`` have no mteb counterpart; they are exported as ``map_full_ranking`` and
``mrr_full_ranking``. mteb rounds means to 5 decimals; values are copied as they are.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path
from typing import Any

from ..errors import DataError, UserError
from ..io import sha256_file
from ..results.manifest import base_manifest
from ..results.schema import Result, model_identity, read_result, result_stem, spec_digest, write_result
from ..scoring.metrics import parse
from .mteb_tasks import from_mteb_lang, mteb_task_name, parse_mteb_task_name, revision_of, to_mteb_lang

OUR_ORG = "mlir-bench/"  # the mteb organisation our models are exported under (see mteb_models.mteb_model_meta)
#: mteb tasks whose scores are our cells: mteb name -> (our task, setting).
SHARED_TASKS: dict[str, tuple[str, str]] = {"MIRACLRetrieval": ("miracl", "per-language")}
SHARED_NOTES = {
    "MIRACLRetrieval": "mteb's MIRACLRetrieval: MIRACL dev topics and qrels per language against that language's "
                       "corpus, as our miracl per-language cells; mteb joins title and text with a space "
                       "(we: title, newline, text), and its nDCG/Recall means are rounded to 5 decimals.",
}

_OURS_TO_MTEB = {"ndcg": "ndcg_at_{k}", "recall": "recall_at_{k}", "map": "map_at_{k}", "mrr": "mrr_at_{k}",
                 "p": "precision_at_{k}", "hit": "hit_rate_at_{k}"}
_MTEB_RE = re.compile(r"^(ndcg|recall|map|mrr|precision|hit_rate)_at_(\d+)$")
_MTEB_TO_OURS = {"ndcg": "ndcg", "recall": "recall", "map": "map", "mrr": "mrr", "precision": "p", "hit_rate": "hit"}


def metric_to_mteb(metric: str) -> str:
    """``ndcg@10`` -> ``ndcg_at_10``; a metric without cutoff (``map``) -> ``map_full_ranking``."""
    m = parse(metric)
    return f"{m.name}_full_ranking" if m.k is None else _OURS_TO_MTEB[m.name].format(k=m.k)


def metric_from_mteb(key: str) -> str | None:
    """``ndcg_at_10`` -> ``ndcg@10``; ``map_full_ranking`` -> ``map``; None for keys that are not our metrics."""
    if key.endswith("_full_ranking"):
        name = key[: -len("_full_ranking")]
        return name if name in ("map", "mrr") else None
    hit = _MTEB_RE.match(key)
    return f"{_MTEB_TO_OURS[hit.group(1)]}@{hit.group(2)}" if hit else None


def _spec_split(task: str, default: str = "test") -> str:
    from ..tasks import get_task_spec

    try:
        return str(get_task_spec(task).options.get("split", default))
    except UserError:
        return default


def _mteb_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("mteb")
    except metadata.PackageNotFoundError:
        return "unknown"


# --------------------------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------------------------


def to_task_result(result: Result, *, setting: str | None = None) -> Any:
    """Our result as an mteb ``TaskResult`` for one setting (default: multi, else the main setting)."""
    from mteb.results import TaskResult

    settings = result.settings
    setting = setting or ("multi" if "multi" in settings else result.main_score.setting)
    cells = result.cells_of(setting)
    if not cells:
        raise UserError(f"result for {result.task.name} has no {setting!r} cells; "
                        f"it has {', '.join(settings) or 'none'}")
    metrics = list(result.metrics)
    main = "ndcg@10" if "ndcg@10" in metrics else result.main_score.metric
    split = _spec_split(result.task.name)
    subsets = []
    for c in cells:
        langs = [c.query_lang] + [x for x in c.doc_langs if x != c.query_lang]
        scores: dict[str, Any] = {metric_to_mteb(m): c.scores.get(m) for m in metrics}
        scores["main_score"] = c.scores.get(main)
        scores["hf_subset"] = c.name
        scores["languages"] = [to_mteb_lang(x) for x in langs]
        subsets.append(scores)
    manifest = result.manifest
    created = manifest.created
    return TaskResult(
        dataset_revision=revision_of(manifest.dataset_sha256, result.task.languages),
        task_name=mteb_task_name(result.task.name, setting),
        mteb_version=_mteb_version(),
        scores={split: subsets},
        evaluation_time=manifest.timings.get("total_seconds"),
        date=dt.datetime.fromisoformat(created) if created else None,
    )


def mteb_meta_of_result(result: Result) -> Any:
    """The mteb ModelMeta of the model in our result (name ``mlir-bench/<name>`` unless it has an org)."""
    from ..encoders.base import ModelMeta
    from .mteb_models import mteb_model_meta

    m = result.model.model_dump()
    fields = set(ModelMeta.__dataclass_fields__)
    m = {k: v for k, v in m.items() if k in fields}
    m["languages"] = tuple(m["languages"]) if m.get("languages") else None
    m["training_datasets"] = tuple(m.get("training_datasets") or ())
    m["prompts"] = dict(m.get("prompts") or {})
    name = str(m["name"])
    if name.startswith("mteb:"):  # an mteb model keeps its mteb name
        m["name"] = name[len("mteb:"):].split("@")[0]
    return mteb_model_meta(ModelMeta(**m))


def export_result(result_path: str | Path, output_dir: str | Path, *, setting: str | None = None) -> Path:
    """Write our result file as an mteb TaskResult in mteb's results layout; return the written path."""
    path = Path(result_path)
    result = read_result(path)
    if result.imported is not None:
        raise UserError(f"{path}: this result was imported from {result.imported.get('from')}; not re-exporting")
    tr = to_task_result(result, setting=setting)
    meta = mteb_meta_of_result(result)
    folder = Path(output_dir) / meta.model_name_as_path() / str(meta.revision)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{tr.task_name}.json"
    tr.to_disk(out)
    (folder / "model_meta.json").write_text(json.dumps(meta.to_dict(), indent=2, default=str), encoding="utf-8")
    return out


# --------------------------------------------------------------------------------------------------------------
# Import
# --------------------------------------------------------------------------------------------------------------


def _read_model_meta(path: Path) -> dict[str, Any]:
    meta_path = path.with_name("model_meta.json")
    if meta_path.exists():
        try:
            return dict(json.loads(meta_path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise DataError(meta_path, f"cannot read mteb model metadata ({exc})") from None
    # mteb's layout: <model_name_as_path>/<revision>/<task>.json
    return {"name": path.parent.parent.name.replace("__", "/"), "revision": path.parent.name}


def our_model_from_mteb(meta: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """Our ModelMeta dict (``mteb:<name>``) from an mteb model_meta.json dict."""
    from ..encoders.base import ModelMeta

    sim = str(meta.get("similarity_fn_name") or "cosine").lower()
    langs = sorted({from_mteb_lang(x) for x in meta.get("languages") or []})
    mteb_name = str(meta.get("name") or "unknown/unknown")
    if name is None:  # our own models go to mteb as mlir-bench/<name>: they come back under their own name
        name = mteb_name[len(OUR_ORG):] if mteb_name.startswith(OUR_ORG) else f"mteb:{mteb_name}"
    model = ModelMeta(
        name=name,
        revision=str(meta.get("revision") or "unknown"),
        dim=meta.get("embed_dim") if isinstance(meta.get("embed_dim"), int) else None,
        max_length=int(meta["max_tokens"]) if meta.get("max_tokens") else None,
        pooling="unknown",
        similarity="dot" if sim == "dot" else "cosine",
        normalize=sim != "dot",
        languages=tuple(langs) or None,
        training_datasets=tuple(sorted(meta.get("training_datasets") or ())),
        n_parameters=meta.get("n_parameters"),
        source=f"imported from mteb results ({mteb_name})",
        reference=str(meta.get("reference") or ""),
    )
    return model.to_dict()


def imported_score(path: Path, where: str, key: str, value: Any) -> float | None:
    """One imported value of one of our metrics, checked: a finite number in [0, 1] (every metric we share is a
    mean of per-query values in [0, 1]); None when mteb stored none (the metric is then left out).

    Anything else is a DataError naming the file, the subset, the key and the value: an nDCG of -5 or 1.3, NaN,
    a string or a boolean must never become a score on the leaderboard.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError(path, f"{key} is {value!r} ({type(value).__name__}), expected a number in [0, 1]",
                        where=where)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise DataError(path, f"{key} is {value!r}, expected a finite number in [0, 1]", where=where)
    return float(value)


def _pick_split(scores: dict[str, Any], wanted: str, path: Path) -> str:
    if wanted in scores:
        return wanted
    if len(scores) == 1:
        return next(iter(scores))
    raise DataError(path, f"no {wanted!r} split among {sorted(scores)}")


def import_task_result(path: str | Path, *, model: str | None = None) -> Result:
    """An mteb TaskResult file of a task we share, as our result marked ``imported``."""
    from mteb.results import TaskResult

    from ..tasks import get_task_spec

    path = Path(path)
    try:
        tr = TaskResult.from_disk(path)
    except Exception as exc:  # noqa: BLE001 - pydantic/JSON errors become one line naming the file
        raise DataError(path, f"not an mteb TaskResult file ({type(exc).__name__}: {str(exc)[:200]})") from None
    if tr.task_name in SHARED_TASKS:
        task, setting = SHARED_TASKS[tr.task_name]
    elif (ours := parse_mteb_task_name(tr.task_name)) is not None:
        task, setting = ours
    else:
        known = ", ".join([*SHARED_TASKS, "MLIRBench.<task>.<setting>"])
        raise UserError(f"{path}: mteb task {tr.task_name!r} is not one we share (importable: {known})")
    spec = get_task_spec(task)
    split = _pick_split(tr.scores, str(spec.options.get("split", "test")), path)
    cells: dict[str, Any] = {}
    metric_names: dict[str, None] = {}
    for s in tr.scores[split]:
        subset = str(s["hf_subset"])
        langs = [from_mteb_lang(x) for x in s.get("languages") or []] or [subset]
        if tr.task_name in SHARED_TASKS:  # MIRACL: the subset is the language, its corpus is its own
            query_lang, doc_langs = subset, [subset]
        else:
            order = {x: i for i, x in enumerate(spec.languages)}
            query_lang, doc_langs = langs[0], sorted(set(langs), key=lambda x: (order.get(x, len(order)), x))
        scores = {}
        for key, value in s.items():
            ours = metric_from_mteb(key)
            if ours is not None and (score := imported_score(path, f"{split}/{subset}", key, value)) is not None:
                scores[ours] = score
                metric_names.setdefault(ours)
        cells[f"{setting}/{subset}"] = {
            "setting": setting, "name": subset, "query_lang": query_lang, "doc_langs": doc_langs,
            "n_queries": None, "n_evaluated": None, "n_skipped": None, "n_documents": None, "scores": scores,
        }
    if not cells:
        raise DataError(path, f"no scores in split {split!r}")
    metrics = sorted(metric_names, key=_metric_order)
    macro = {m: _mean([c["scores"].get(m) for c in cells.values()]) for m in metrics}
    main_metric = spec.main_score if spec.main_score in metrics else ("ndcg@10" if "ndcg@10" in metrics else metrics[0])
    subset_langs = [c["query_lang"] for c in cells.values()]
    languages = [x for x in spec.languages if x in subset_langs] or subset_langs
    text_mode = str(spec.options.get("text_mode", "passage")) if spec.level == "passage" else "sentence"
    mmeta = _read_model_meta(path)
    model_dict = our_model_from_mteb(mmeta, model)
    full = list(spec.languages)
    return Result.model_validate({
        "identity": {"task": spec.name, "spec_digest": spec_digest(spec), "dataset_sha256": {},
                     "text_mode": text_mode, "languages": None if languages == full else languages,
                     "model": model_identity(model_dict).model_dump(), "transform": None, "k": 1000,
                     "metrics": metrics, "bias": False},
        "task": {"name": spec.name, "family": spec.family, "level": spec.level, "languages": languages,
                 "license": spec.license, "citation": spec.citation, "text_mode": text_mode,
                 "n_queries": None, "n_documents": None},
        "model": model_dict,
        "main_score": {"metric": main_metric, "setting": setting, "value": macro.get(main_metric)},
        "metrics": metrics,
        "k": 1000,
        "settings": {setting: {"n_cells": len(cells), "n_queries": None, "n_skipped": None, "scores": macro}},
        "cells": cells,
        "manifest": {**base_manifest(), "dataset_sha256": {}, "timings": {"total_seconds": tr.evaluation_time}},
        "imported": {
            "from": "mteb",
            "task_name": tr.task_name,
            "split": split,
            "mteb_version": tr.mteb_version,
            "dataset_revision": tr.dataset_revision,
            "model_name": mmeta.get("name"),
            "model_revision": mmeta.get("revision"),
            "evaluation_time": tr.evaluation_time,
            "date": tr.date.isoformat() if tr.date else None,
            "file": str(path.resolve()),
            "sha256": sha256_file(path),
            "note": SHARED_NOTES.get(tr.task_name, "an mlir-bench task evaluated in mteb"),
        },
    })


def _metric_order(m: str) -> tuple[int, int]:
    p = parse(m)
    order = ["ndcg", "map", "recall", "mrr", "p", "hit"]
    return (order.index(p.name) if p.name in order else len(order), p.k or 0)


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def write_imported(result: Result, output_dir: str | Path) -> Path:
    """Write an imported result as ``<task>__<model>__<text-mode>[__langs]__mteb.json`` in ``output_dir``."""
    stem = result_stem(result.task.name, result.model.name, result.task.text_mode, result.identity.languages)
    return write_result(Path(output_dir) / f"{stem}__mteb.json", result)


def import_files(paths: list[str | Path], output_dir: str | Path, *,
                 model: str | None = None) -> tuple[list[Path], list[Path]]:
    """Import mteb result files; return (written, skipped).

    A file named explicitly must be a task we share (else UserError); folders are searched recursively and
    result files of other mteb tasks in them are skipped.
    """
    written: list[Path] = []
    skipped: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*.json")):
                if f.name == "model_meta.json":
                    continue
                if not _is_shared(f):
                    skipped.append(f)
                    continue
                written.append(write_imported(import_task_result(f, model=model), output_dir))
        elif p.exists():
            written.append(write_imported(import_task_result(p, model=model), output_dir))
        else:
            raise UserError(f"{p}: no such file or folder")
    return written, skipped


def _is_shared(path: Path) -> bool:
    """Whether ``path`` is a TaskResult JSON of a task we can import (read cheaply, without validation)."""
    try:
        name = json.loads(path.read_text(encoding="utf-8")).get("task_name", "")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(name, str) and (name in SHARED_TASKS or parse_mteb_task_name(name) is not None)
