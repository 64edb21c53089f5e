"""One run: resolve the task and the model, fix the result's identity, then reuse it or compute it.

This is the only module that knows every stage; it composes them and owns no stage's work: the task is built by
``tasks``, vectors by ``embedding``, the search by ``search.plan``, scores by ``scoring``, the bias section by
:mod:`.bias_section`, and the file by ``results.schema``.

Order of a run (:func:`run_evaluation`):

1. the task spec is resolved once, the metrics and text mode from it;
2. the model's metadata is loaded (registered models cheaply, without weights), the task is built (every data
   file sha256-checked), a fitted model (BM25) is fitted;
3. the result's :class:`~mlir_bench.results.schema.ResultIdentity` is computed from all of that, and from it the
   file name;
4. under a lock beside that file: an existing result is reused only when its identity matches in full, refused
   with one line saying what differs otherwise; or the run is computed and written atomically.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp

from ..embedding import embed_corpus, save_vectors
from ..embedding.lazy import LazyEncoder
from ..encoders.base import Encoder, ModelMeta, Progress
from ..errors import UserError
from ..io import default_cache_root, exclusive_lock
from ..results.manifest import base_manifest
from ..results.schema import (
    Result,
    ResultIdentity,
    model_identity,
    per_query_path,
    read_result,
    result_path,
    spec_digest,
    write_per_query,
    write_result,
)
from ..results.trec import RunFile, write_run_files
from ..scoring.aggregate import cell_values, macro_average
from ..scoring.metrics import parse
from ..search import SearchResult, doc_id_order, pad_relevant
from ..search.plan import InMemory, QueryGroup, Sharded, run_plan
from ..tasks import Cell, TaskData, get_task_spec, load_task
from ..tasks.spec import TaskSpec
from ..transforms import TransformSpec, split_model
from .sharded import StoreRows, encode_pool, measure_ann, wants_shards
from .timing import PhaseTimer
from .transform_step import EstimationTexts, apply_transform, load_estimation, task_languages

DEFAULT_METRICS = ["map", "map@100", "recall@1", "recall@10", "recall@100", "ndcg@10", "ndcg@20", "mrr@10"]
PER_QUERY_SETTINGS = ("mono", "multi", "per-language")


class Reporter(Protocol):
    """How a run shows progress; the CLI implements it with rich, tests with :class:`NullReporter`."""

    def progress(self, description: str, total: int) -> Progress: ...

    def log(self, message: str) -> None: ...

    def close(self) -> None: ...


class NullReporter:
    def progress(self, description: str, total: int) -> Progress:
        return lambda n: None

    def log(self, message: str) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class RunConfig:
    model: str
    task: str
    data_dir: str | Path | None = None
    output_dir: Path = Path("results")
    text_mode: str = "sentence"
    batch_size: int | None = 32  # None: the encoder's own default (sized for its device)
    k: int = 100
    metrics: list[str] = field(default_factory=lambda: list(DEFAULT_METRICS))
    runs_dir: Path | None = Path("runs")
    run_settings: tuple[str, ...] = ("mono", "multi", "per-language")  # cells whose TREC runs are written
    save_embeddings: Path | None = None
    languages: list[str] | None = None
    overwrite: bool = False
    dtype: str | None = None  # the dtype the default encoder factory loads with (None: the model's own)
    device: str | None = None  # auto, cpu, cuda[:N], mps for the default encoder factory (None: auto)
    engine: str | None = None  # torch, onnx, openvino for the default encoder factory (None: torch)
    quantization: str | None = None  # none or int8 for the default encoder factory (None: none)
    bias: bool = True  # language-bias and geometry statistics (Multi setting, parallel queries)
    cache: Any = None
    cache_chunk: int | None = None  # texts per cache shard (default: embed.DEFAULT_CHUNK); what a kill can lose
    encoder_factory: Callable[[str], Encoder] | None = None
    shard_size: int | None = None  # encode the pool into shards on disk and stream them (runner/sharded.py)
    shards_dir: Path | None = None  # where shard stores live (default <cache>/shards)
    ann: str | None = None  # also measure a faiss index (ivf, ivfpq, hnsw) against exact search (sharded path)
    # encodes missing texts elsewhere (the Ray backend) straight into ``cache``; called with the model name
    remote_factory: Callable[[str], Any] | None = None


@dataclass
class Prepared:
    """What a run knows before computing anything: the spec, task, encoder, metrics and the result's identity."""

    spec: TaskSpec
    task: TaskData
    encoder: Encoder
    meta: ModelMeta
    metrics: list[str]
    text_mode: str
    identity: ResultIdentity
    path: Path
    timer: PhaseTimer
    transform: TransformSpec | None = None
    estimation: EstimationTexts | None = None

    @property
    def display_name(self) -> str:
        """The model's name in the result: the base model's, plus ``+<transform>`` when one is applied."""
        return self.meta.name + (f"+{self.transform.name}" if self.transform else "")


def effective_text_mode(text_mode: str, spec: TaskSpec) -> str:
    """``text_mode``, except that the sentence-level default ("sentence") means the task's own default (spec
    option ``text_mode``) for passage-level tasks."""
    if text_mode != "sentence":
        return text_mode
    return str(spec.options.get("text_mode", "passage")) if spec.level == "passage" else "sentence"


def task_metrics(cfg_metrics: list[str], task_options: dict[str, Any]) -> list[str]:
    """The requested metrics, plus the metrics the task publishes (spec option ``metrics``) if missing."""
    names = [str(parse(m)) for m in cfg_metrics]
    return cfg_metrics + [m for m in task_options.get("metrics", []) if str(parse(m)) not in names]


def _ordered_languages(languages: list[str] | None, spec: TaskSpec) -> list[str] | None:
    """A language subset in the task's own order (so "en,de" and "de,en" are one result); None for all."""
    if not languages:
        return None
    order = {x: i for i, x in enumerate(spec.languages)}
    langs = sorted(dict.fromkeys(languages), key=lambda x: (order.get(x, len(order)), x))
    return None if langs == list(spec.languages) else langs


def has_bias_section(task: TaskData) -> bool:
    """Whether the bias section applies: a Multi setting and parallel queries (a ``groups`` column)."""
    return task.queries.groups is not None and any(c.setting == "multi" for c in task.cells)


def _default_factory(cfg: RunConfig) -> Callable[[str], Encoder]:
    from ..embedding.lazy import load_encoder_lazily

    options: dict[str, Any] = {"batch_size": cfg.batch_size}
    if cfg.dtype:
        options["dtype"] = cfg.dtype
    for key in ("device", "engine", "quantization"):
        if getattr(cfg, key):
            options[key] = getattr(cfg, key)
    return lambda name: load_encoder_lazily(name, **options)


def prepare(cfg: RunConfig, rep: Reporter) -> Prepared:
    """Resolve the spec once, load the model's metadata and the task, and compute the result's identity."""
    for m in cfg.metrics:
        try:
            parse(m)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    timer = PhaseTimer()
    spec = get_task_spec(cfg.task)
    text_mode = effective_text_mode(cfg.text_mode, spec)
    metrics = task_metrics(list(cfg.metrics), spec.options)
    languages = _ordered_languages(cfg.languages, spec)
    base_model, transform = split_model(cfg.model)  # "me5-small+center:ntrex" -> me5-small, center:ntrex
    encoder = (cfg.encoder_factory or _default_factory(cfg))(base_model)  # a bad model name fails at once
    opts: dict[str, Any] = {}
    if text_mode != "sentence":
        opts["text_mode"] = text_mode
    if languages:
        opts["languages"] = languages
    with timer.phase("load"):
        task = load_task(spec, data_dir=cfg.data_dir, **opts)
    fit = getattr(encoder, "fit", None)
    if callable(fit):
        fit(list(dict.fromkeys(task.docs.texts)))
    meta = encoder.meta  # after fit: a fitted encoder's identity includes its collection
    estimation = None
    if transform is not None:
        if meta.similarity != "cosine" or not meta.normalize:
            raise UserError(f"model {cfg.model!r}: transforms apply to dense L2-normalised vectors; {meta.name} "
                            f"gives {meta.similarity} scores on {'normalised' if meta.normalize else 'raw'} vectors")
        langs = task_languages(task)
        estimation = load_estimation(transform, langs["query"] | langs["document"], cfg.data_dir)
    identity = ResultIdentity(
        task=spec.name, spec_digest=spec_digest(spec), dataset_sha256=dict(task.file_hashes), text_mode=text_mode,
        languages=languages, model=model_identity(meta), transform=transform.name if transform else None,
        transform_data_sha256=dict(estimation.sha256) if estimation else {}, k=cfg.k,
        metrics=[str(parse(m)) for m in metrics], bias=cfg.bias and has_bias_section(task))
    return Prepared(spec, task, encoder, meta, metrics, text_mode, identity, result_path(cfg.output_dir, identity),
                    timer, transform, estimation)


def run_evaluation(cfg: RunConfig, reporter: Reporter | None = None) -> Result:
    """Run ``cfg.model`` on ``cfg.task``; write and return the result.

    An existing result with the same identity is returned as it is unless ``overwrite``; one with another
    identity under the same name is a UserError saying what differs. Runs of the same result file are serialised
    by a lock beside it (``.<stem>.lock``): a second identical run waits, then reuses the first one's result. The
    lock holder first deletes the temporary files that a killed earlier run of the same result left behind, so no
    partial file survives a resumed run.
    """
    rep = reporter or NullReporter()
    prep = prepare(cfg, rep)
    out_path = prep.path
    if out_path.exists() and not cfg.overwrite and (stored := reuse_result(out_path, prep.identity, rep)):
        return stored
    out_dir = Path(cfg.output_dir)
    created = not out_dir.exists()
    for folder, what in ((cfg.runs_dir, "--runs-dir"), (cfg.save_embeddings, "--save-embeddings")):
        if folder:  # fail before any work, not after scoring
            _check_creatable(Path(folder), what)
    _check_writable(out_dir)
    try:
        with exclusive_lock(out_path.with_name(f".{out_path.stem}.lock"),
                            on_wait=lambda: rep.log(f"another run is computing {out_path}; waiting for it")):
            remove_stale_tmp(cfg, out_path.stem)
            if out_path.exists() and not cfg.overwrite and (stored := reuse_result(out_path, prep.identity, rep)):
                return stored
            return compute(cfg, prep, rep)
    except BaseException:
        if created:  # a failed first run leaves no empty results folder behind
            with contextlib.suppress(OSError):
                out_dir.rmdir()
        raise


def reuse_result(path: Path, wanted: ResultIdentity, rep: Reporter) -> Result | None:
    """The stored result at ``path`` if its identity serves ``wanted``.

    A damaged file, or one of another identity, is a UserError naming the file and what differs (never
    overwritten without ``--overwrite``). None when the identity matches but the per-query file beside it is gone:
    the run is computed again (same identity, same numbers) to restore it.
    """
    stored = read_result(path)
    diffs = stored.identity.differences(wanted)
    if diffs:
        raise UserError(f"{path}: holds another run's result ({'; '.join(diffs)}); pass --overwrite to replace "
                        "it, or --output-dir to keep both")
    if stored.submitted is not None:
        raise UserError(f"{path}: holds a submitted result (by {stored.submitted.get('by', '?')}, not computed "
                        "here); pass --overwrite to reproduce it in place, or --output-dir to reproduce it elsewhere")
    if not per_query_path(path).exists():
        rep.log(f"{path} has no per-query file beside it; computing it again")
        return None
    rep.log(f"{path} exists with the same identity; reusing it (pass --overwrite to recompute)")
    return stored


def remove_stale_tmp(cfg: RunConfig, stem: str) -> list[Path]:
    """Delete the temporary files (``.*.tmp``) of this result's outputs left by a killed run; return them.

    Only called under the result lock, so no live writer of these files exists.
    """
    out = Path(cfg.output_dir)
    found = list(out.glob(f".{stem}.*.tmp"))
    for folder in (out / "figures" / stem, Path(cfg.runs_dir) / stem if cfg.runs_dir else None):
        if folder is not None and folder.is_dir():
            found += folder.rglob(".*.tmp")
    for f in found:
        with contextlib.suppress(OSError):
            f.unlink()
    return found


def query_groups(task: TaskData) -> list[QueryGroup]:
    """The search plan of a task: cells that share their queries form one group, searched in one pass."""
    doc_pos = {d: i for i, d in enumerate(task.docs.ids)}
    by_queries: dict[bytes, list[Cell]] = {}
    for c in task.cells:
        by_queries.setdefault(c.query_idx.tobytes(), []).append(c)
    groups = []
    for cells in by_queries.values():
        qidx = cells[0].query_idx
        rel = pad_relevant([[doc_pos[d] for d in task.qrels.get(task.queries.ids[i], {}) if d in doc_pos]
                            for i in qidx])
        groups.append(QueryGroup(qidx, rel, {cell_key(c): c.doc_idx for c in cells}))
    return groups


def compute(cfg: RunConfig, prep: Prepared, rep: Reporter) -> Result:
    """Encode, search, score and write one result (the lock is held)."""
    task, encoder, meta, timer = prep.task, prep.encoder, prep.meta, prep.timer
    out_path = prep.path
    name = prep.display_name
    rep.log(f"task {task.spec.name}: {len(task.queries)} queries, {len(task.docs)} candidates, "
            f"{len(task.cells)} cells")
    remote = cfg.remote_factory(cfg.model) if cfg.remote_factory else None
    chunk = {"chunk_size": cfg.cache_chunk} if cfg.cache_chunk else {}
    if prep.transform is not None and wants_shards(cfg.shard_size, len(task.docs), encoder):
        raise UserError(f"transform {prep.transform.name}: not available with a sharded pool (--shard-size); "
                        "transforms need the pool's vectors in memory")
    qv, qstats = embed_corpus(encoder, task.queries.texts, "query", batch_size=cfg.batch_size, cache=cfg.cache, **chunk,
                              progress=lambda n: rep.progress(f"encode queries ({meta.name})", n), remote=remote)
    pool_info: dict[str, Any] = {}
    transform_info: dict[str, Any] | None = None
    groups = query_groups(task)
    store = None
    if wants_shards(cfg.shard_size, len(task.docs), encoder):  # pools of any size: shards on disk, streamed
        pool = encode_pool(task, encoder, shards_dir=Path(cfg.shards_dir or default_cache_root() / "shards"),
                           shard_size=cfg.shard_size, batch_size=cfg.batch_size, cache=cfg.cache,
                           progress=lambda n: rep.progress(f"encode candidates ({meta.name}, sharded)", n))
        store = pool.store
        dv, dstats, pool_info = StoreRows(pool.store), pool.stats, pool.info
        backend: Any = Sharded(pool.store)
    else:
        dv, dstats = embed_corpus(encoder, task.docs.texts, "document", batch_size=cfg.batch_size, cache=cfg.cache,
                                  **chunk, progress=lambda n: rep.progress(f"encode candidates ({meta.name})", n),
                                  remote=remote)
        if prep.transform is not None:  # on the cached raw vectors: the pool is never encoded again
            assert prep.estimation is not None
            with timer.phase("transform"):
                qv, dv, est_info = apply_transform(prep.transform, prep.estimation, encoder, task, qv, dv,
                                                   cache=cfg.cache, batch_size=cfg.batch_size,
                                                   progress=rep.progress)
            transform_info = {"name": prep.transform.name, "method": prep.transform.method,
                              "param": prep.transform.param, "source": prep.transform.source,
                              "transductive": prep.transform.transductive, "base_model": meta.name,
                              "estimation": est_info}
            rep.log(f"transform {prep.transform.name}: estimation {est_info['encode_seconds']:.1f} s encode, "
                    f"{est_info['fit_seconds']:.2f} s fit")
        if cfg.save_embeddings:
            save_embeddings(Path(cfg.save_embeddings), task, qv, dv)
        backend = InMemory(dv, doc_id_order(task.docs.ids), checkpoint=_search_checkpoint(cfg.cache))
    with timer.phase("search"):
        searched = run_plan(groups, qv, backend, k=cfg.k)
    if store is not None and cfg.ann:
        pool_info["ann"] = measure_ann(task, qv, store, searched, kind=cfg.ann, k=cfg.k)
    with timer.phase("score"):
        cells, per_query = score_cells(task, searched, prep.metrics)
        settings = macro_average(cells.values(), prep.metrics)
    with timer.phase("bias"):
        bias = _bias(cfg, task, searched, qv, dv, Path(cfg.output_dir) / "figures" / out_path.stem,
                     f"{name} on {task.spec.name}") if prep.identity.bias else None
    if bias and "per_query" in bias:  # per-query bias values live in the sidecar, not in the result JSON
        per_query.update(bias.pop("per_query"))
    if cfg.runs_dir:
        with timer.phase("write_runs"):
            write_runs(Path(cfg.runs_dir) / out_path.stem, task, searched, name, cfg.run_settings)
    spec = prep.spec
    main = spec.main_score
    timings = timer.as_manifest()
    timings["encode_query_seconds"] = round(qstats.seconds, 3)
    timings["encode_document_seconds"] = round(dstats.seconds, 3)
    timings["queries_per_second"] = _rate(qstats.n_encoded, qstats.seconds)
    timings["documents_per_second"] = _rate(dstats.n_encoded, dstats.seconds)
    result = Result.model_validate({
        "identity": prep.identity.model_dump(),
        "task": {"name": spec.name, "family": spec.family, "level": spec.level,
                 "languages": task.options.get("languages", spec.languages), "license": spec.license,
                 "citation": spec.citation, "text_mode": prep.text_mode,
                 "n_queries": len(task.queries), "n_documents": len(task.docs),
                 **{k: v for k, v in task.options.items() if k not in ("languages", "text_mode")}},
        "model": {**meta.to_dict(), "name": name},
        "main_score": {"metric": main, "setting": spec.main_setting,
                       "value": settings.get(spec.main_setting, {}).get("scores", {}).get(main)},
        "metrics": list(prep.identity.metrics),
        "k": cfg.k,
        "settings": settings,
        "cells": cells,
        "pool": pool_info or None,
        "bias": bias,
        "transform": transform_info,
        "manifest": {
            **base_manifest(),
            "dataset_sha256": task.file_hashes,
            "timings": timings,
            "encoded": {"query": {"texts": qstats.n_texts, "unique": qstats.n_unique, "encoded": qstats.n_encoded},
                        "document": {"texts": dstats.n_texts, "unique": dstats.n_unique,
                                     "encoded": dstats.n_encoded}},
            "encoding": encoding_manifest(cfg, encoder, remote),
        },
    })
    write_per_query(per_query_path(out_path), per_query)
    write_result(out_path, result)
    rep.log(f"wrote {out_path}")
    return result


def encoding_manifest(cfg: RunConfig, encoder: Encoder, remote: Any) -> dict[str, Any]:
    """Where and how the texts were encoded: the device asked for and the one used (None when no text needed
    the model: every vector came from the cache), the engine, quantization and batch size."""
    real: Encoder | None = encoder
    if isinstance(encoder, LazyEncoder):
        real = encoder.encoder() if encoder.loaded else None
    info = dict(getattr(real, "engine_info", None) or {"engine": encoder.meta.engine,
                                                        "quantization": encoder.meta.quantization})
    return {"device_requested": cfg.device or "auto",
            "device": None if real is None else getattr(real, "device", "cpu"),
            "batch_size": cfg.batch_size or getattr(real, "batch_size", None),
            "backend": "ray" if remote is not None else "local", **info}


def _rate(n: int, s: float) -> float | None:
    return round(n / s, 2) if n and s > 0 else None


def _check_creatable(d: Path, what: str) -> None:
    """``d`` is a folder, or can be made one: its nearest existing ancestor is a writable folder."""
    p = d
    while not p.exists() and p != p.parent:
        p = p.parent
    if not p.is_dir() or not os.access(p, os.W_OK):
        raise UserError(f"{d}: {what} folder cannot be created here ({p} is not a writable folder)")


def _check_writable(d: Path) -> None:
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=d)  # unique: concurrent runs may probe at once
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UserError(f"{d}: results directory is not writable ({exc.strerror or exc})") from None


def _bias(cfg: RunConfig, task: TaskData, searched: dict[str, SearchResult], qv: Any, dv: Any,
          figure_dir: Path, title: str) -> dict[str, Any] | None:
    """The bias section (:func:`.bias_section.language_analysis`), memoised beside the search checkpoints when
    the vectors are in memory (see :mod:`.bias_memo`); imported here, so runs that reuse a result never load
    scipy.stats."""
    from .bias_memo import memo_analysis, task_digest
    from .bias_section import language_analysis

    def compute_section() -> dict[str, Any] | None:
        return language_analysis(task, searched, qv, dv, figure_dir, title)

    root = getattr(cfg.cache, "root", None)
    dense_or_sparse = all(isinstance(x, np.ndarray) or sp.issparse(x) for x in (qv, dv))
    if root is None or not dense_or_sparse:
        return compute_section()
    from ..search.checkpoint import SEARCH_VERSION, matrix_digest

    parts = [SEARCH_VERSION, matrix_digest(qv), matrix_digest(dv), task_digest(task), f"k={cfg.k}", title]
    return memo_analysis(Path(root) / "searches", parts, figure_dir, compute_section)


def _search_checkpoint(cache: Any) -> Any:
    """Search checkpoints live beside the embedding cache (``<cache root>/searches``); none without a cache."""
    root = getattr(cache, "root", None)
    if root is None:
        return None
    from ..search.checkpoint import SearchCheckpoint

    return SearchCheckpoint(Path(root) / "searches")


def cell_key(c: Cell) -> str:
    return f"{c.setting}/{c.name}"


def score_cells(task: TaskData, searched: dict[str, SearchResult], metrics: list[str]
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each cell's metric means (over the queries with a relevant candidate) and, for the settings kept per query,
    the per-query values."""
    cells: dict[str, Any] = {}
    per_query: dict[str, Any] = {}
    for c in task.cells:
        r = searched[cell_key(c)]
        vals = cell_values(r.rel_ranks, r.n_rel, metrics)
        cells[cell_key(c)] = {
            "setting": c.setting, "name": c.name, "query_lang": c.query_lang, "doc_langs": list(c.doc_langs),
            "n_queries": int(len(c.query_idx)), "n_evaluated": vals.n_evaluated, "n_skipped": vals.n_skipped,
            "n_documents": int(r.n_docs), "scores": vals.means(),
        }
        if c.setting in PER_QUERY_SETTINGS:
            ok = vals.evaluated
            kept = [i for i, good in zip(c.query_idx, ok, strict=True) if good]
            entry: dict[str, Any] = {"qids": [task.queries.ids[i] for i in kept]}
            if task.queries.groups is not None:  # parallel queries: the unit of the grouped paired tests
                entry["groups"] = [task.queries.groups[i] for i in kept]
            entry.update({m: np.round(v[ok], 6).tolist() for m, v in vals.values.items()})
            per_query[cell_key(c)] = entry
    return cells, per_query


def write_runs(folder: Path, task: TaskData, searched: dict[str, SearchResult], tag: str,
               settings: tuple[str, ...] | None = None) -> None:
    """One gzipped TREC run per cell of ``settings`` (all if None): ``folder/<setting>/<cell>.trec.gz``."""
    runs = [RunFile(f"{c.setting}/{c.name}.trec.gz", [task.queries.ids[i] for i in c.query_idx],
                    searched[cell_key(c)].top_idx, searched[cell_key(c)].top_scores)
            for c in task.cells if settings is None or c.setting in settings]
    write_run_files(folder, task.docs.ids, runs, tag)


def save_embeddings(folder: Path, task: TaskData, qv: Any, dv: Any) -> None:
    """``queries.npy``/``documents.npy`` (or ``.npz`` for sparse) and one id per line in ``*.ids.txt``."""
    save_vectors(folder, "queries", qv, task.queries.ids)
    save_vectors(folder, "documents", dv, task.docs.ids)
