"""The one typed result: what a run writes, what every reader reads, and the identity that decides reuse.

A result file ``<stem>.json`` holds a :class:`Result` (schema version :data:`SCHEMA_VERSION`); beside it
``<stem>.perquery.json.gz`` holds the per-query values. Writers build a :class:`Result` and call
:func:`write_result`; readers call :func:`read_result` (or :func:`parse_result` on a parsed dict), which
upgrades older schema versions in memory (:func:`upgrade`) and names the file and the field when something is
missing or malformed. Nobody else parses result JSON.

**Identity.** :class:`ResultIdentity` is everything that can change a number in the file: the task spec (a
digest of its evaluation fields) and the sha256 of every data file read, the text mode and language subset, the
model's name, revision and every setting that changes a vector (dtype, engine and quantisation, prompts, pooling,
maximum length, normalisation, similarity), the vector transform, ``k``, and the schema. A stored result is reused only when its
identity equals the one a run asks for and it holds every statistic asked for (:meth:`ResultIdentity.differences`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, ValidationError, model_serializer

from ..errors import DataError
from ..io import atomic_open, write_json

SCHEMA_VERSION = 2
#: Versions :func:`upgrade` can read. 1: no ``identity`` section (added in 2).
READABLE_VERSIONS = (1, 2)


class _Open(BaseModel):
    """A section that may carry more keys than the ones typed here (task options, package versions...)."""

    model_config = ConfigDict(extra="allow")


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelIdentity(_Closed):
    """The model fields that change a vector (see :meth:`mlir_bench.encoders.base.ModelMeta.vector_fields`).

    ``engine`` and ``quantization`` are written only when they are not the defaults (torch, none), so results
    computed before engines existed keep their identity byte for byte (and a stored onnx result is never reused
    for a torch run: :meth:`ResultIdentity.differences` compares every field, defaults included).
    """

    name: str
    revision: str
    dtype: str = "float32"
    engine: str = "torch"
    quantization: str = "none"
    prompts: dict[str, str] = {}
    pooling: str = "mean"
    max_length: int | None = None
    normalize: bool = True
    similarity: str = "cosine"

    @model_serializer(mode="wrap")
    def _omit_default_engine(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        d = handler(self)
        for key, default in (("engine", "torch"), ("quantization", "none")):
            if d.get(key) == default:
                d.pop(key)
        return d


class ResultIdentity(_Closed):
    """Everything that can change a number of a result. Two runs with equal identities give equal numbers."""

    task: str
    spec_digest: str | None  # None: unknown (a schema-1 file written before it was recorded)
    dataset_sha256: dict[str, str]
    text_mode: str
    languages: list[str] | None = None  # the requested subset; None = all the task's languages
    model: ModelIdentity
    transform: str | None = None  # a post-hoc vector transform's canonical spec (``center:ntrex``), or None
    transform_data_sha256: dict[str, str] = {}  # the transform's estimation files (empty for ``pool``)
    k: int
    metrics: list[str]  # statistics computed (a stored superset satisfies a request)
    bias: bool  # whether the bias section was computed (idem)
    migrated_from: int | None = None  # set when the identity was reconstructed from an older schema

    def differences(self, wanted: ResultIdentity) -> list[str]:
        """Why this stored identity cannot serve ``wanted`` (empty when it can), one short phrase per field."""
        out: list[str] = []
        for name in ("task", "text_mode", "languages", "transform", "k"):
            a, b = getattr(self, name), getattr(wanted, name)
            if a != b:
                out.append(f"{name} {a!r} (asked: {b!r})")
        if self.spec_digest is None:
            out.append("the task spec digest was not recorded (schema 1)")
        elif self.spec_digest != wanted.spec_digest:
            out.append("the task spec differs")
        if self.transform_data_sha256 != wanted.transform_data_sha256:
            out.append("the transform's estimation data differ")
        if self.dataset_sha256 != wanted.dataset_sha256:
            changed = sorted(k for k in set(self.dataset_sha256) | set(wanted.dataset_sha256)
                             if self.dataset_sha256.get(k) != wanted.dataset_sha256.get(k))
            out.append(f"data files differ ({', '.join(changed[:3])}{' ...' if len(changed) > 3 else ''})")
        for key in ModelIdentity.model_fields:
            a, b = getattr(self.model, key), getattr(wanted.model, key)
            if a != b:
                out.append(f"model {key} {a!r} (asked: {b!r})")
        missing = [m for m in wanted.metrics if m not in self.metrics]
        if missing:
            out.append(f"metrics {', '.join(missing)} not computed")
        if wanted.bias and not self.bias:
            out.append("bias statistics not computed")
        return out


class TaskInfo(_Open):
    name: str
    family: str
    level: str
    languages: list[str]
    license: str
    citation: str
    text_mode: str
    n_queries: int | None
    n_documents: int | None


class ModelInfo(_Open):
    """The model's metadata as recorded (:meth:`mlir_bench.encoders.base.ModelMeta.to_dict`; engine and
    quantization, added with the engines, are kept as extra keys)."""

    name: str
    revision: str = "unknown"
    dim: int | None = None
    prompts: dict[str, str] = {}
    pooling: str = "mean"
    max_length: int | None = None
    normalize: bool = True
    dtype: str = "float32"
    similarity: str = "cosine"
    languages: list[str] | None = None
    training_datasets: list[str] = []
    n_parameters: int | None = None
    source: str = ""
    reference: str = ""


class MainScore(_Closed):
    metric: str
    setting: str
    value: float | None


class SettingScores(_Closed):
    n_cells: int
    n_queries: int | None
    n_skipped: int | None
    scores: dict[str, float | None]


class CellScores(_Closed):
    setting: str
    name: str
    query_lang: str
    doc_langs: list[str]
    n_queries: int | None
    n_evaluated: int | None
    n_skipped: int | None
    n_documents: int | None
    scores: dict[str, float | None]


class BiasSection(_Open):
    """The language-bias and geometry section (see :mod:`mlir_bench.scoring.bias_stats` for the statistics)."""

    setting: str = "multi"
    summary: dict[str, float | None] = {}
    definitions: dict[str, str] = {}
    figures: dict[str, str] = {}
    geometry: dict[str, Any] | None = None


class TransformInfo(_Open):
    """A post-hoc vector transform applied to the model's vectors before search (``-m <model>+<transform>``).

    ``name`` is the canonical spec (``center:ntrex``, ``lir:2:pool``, ``shift:both:ntrex``); ``transductive`` is
    true when its statistics were estimated on the evaluation pool and queries themselves (source ``pool``).
    ``estimation`` records the data: files and their sha256, texts per language and role, wall time.
    """

    name: str
    method: str
    param: str | None = None
    source: str
    transductive: bool
    base_model: str
    estimation: dict[str, Any] = {}


class Manifest(_Open):
    """Provenance: versions, git sha, platform, time, command, dataset sha256s, timings, counts."""

    created: str | None = None
    command: str = ""
    dataset_sha256: dict[str, str] = {}
    timings: dict[str, float | None] = {}


class Result(_Closed):
    schema_version: Literal[2] = SCHEMA_VERSION
    identity: ResultIdentity
    task: TaskInfo
    model: ModelInfo
    main_score: MainScore
    metrics: list[str]
    k: int
    settings: dict[str, SettingScores]
    cells: dict[str, CellScores]
    pool: dict[str, Any] | None = None
    bias: BiasSection | None = None
    manifest: Manifest
    imported: dict[str, Any] | None = None  # set on results imported from elsewhere (mteb)
    transform: TransformInfo | None = None  # set when a post-hoc vector transform was applied
    # set on a result made elsewhere and accepted by `mlir-bench validate --accept` (not re-run here): by,
    # validated, source_file, source_sha256, per_query_sha256, validator_version
    submitted: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready dict (None-valued optional sections left out)."""
        d = self.model_dump(mode="json")
        for key in ("pool", "bias", "imported", "transform", "submitted"):
            if d.get(key) is None:
                d.pop(key, None)
        return d

    def score(self, setting: str, metric: str) -> float | None:
        """A setting's macro-averaged metric (``setting="bias"``: the bias summary), or None when absent."""
        if setting == "bias":
            v = self.bias.summary.get(metric) if self.bias else None
        else:
            s = self.settings.get(setting)
            v = s.scores.get(metric) if s else None
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    def cells_of(self, setting: str) -> list[CellScores]:
        return [c for c in self.cells.values() if c.setting == setting]

    @property
    def languages_subset(self) -> tuple[str, ...]:
        return tuple(self.identity.languages or ())


# ----------------------------------------------------------------------------------------------------------
# Names and paths
# ----------------------------------------------------------------------------------------------------------


def slug(name: str) -> str:
    """A filesystem-safe model name: path separators and odd characters become '_'."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", name).strip("_") or "model"


def result_stem(task: str, model: str, text_mode: str, languages: list[str] | tuple[str, ...] | None = None) -> str:
    """``<task>__<model slug>__<text mode>[__<languages>]``: the name of a result and of its sidecars."""
    stem = f"{task}__{slug(model)}__{text_mode.replace('+', '-')}"
    if languages:
        stem += "__" + "-".join(languages)
    return stem


def identity_stem(identity: ResultIdentity) -> str:
    stem = result_stem(identity.task, identity.model.name, identity.text_mode, identity.languages)
    return stem + (f"__{slug(identity.transform)}" if identity.transform else "")


def result_path(output_dir: str | Path, identity: ResultIdentity) -> Path:
    return Path(output_dir) / f"{identity_stem(identity)}.json"


def per_query_path(result_file: str | Path) -> Path:
    p = Path(result_file)
    return p.with_name(p.name[: -len(".json")] + ".perquery.json.gz")


def spec_digest(spec: Any) -> str:
    """sha256 over the fields of a task spec that define its evaluation (not its description or licence)."""
    d = spec.model_dump(mode="json") if hasattr(spec, "model_dump") else dict(spec)
    keep = {k: d.get(k) for k in ("name", "family", "level", "languages", "main_score", "main_setting", "source",
                                  "expected", "options")}
    return hashlib.sha256(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()


def model_identity(meta: Any) -> ModelIdentity:
    """The identity fields of a :class:`~mlir_bench.encoders.base.ModelMeta` (or its dict)."""
    d = meta if isinstance(meta, dict) else meta.to_dict()
    return ModelIdentity(name=str(d["name"]), revision=str(d.get("revision") or "unknown"),
                         dtype=str(d.get("dtype") or "float32"), engine=str(d.get("engine") or "torch"),
                         quantization=str(d.get("quantization") or "none"), prompts=dict(d.get("prompts") or {}),
                         pooling=str(d.get("pooling") or "mean"), max_length=d.get("max_length"),
                         normalize=bool(d.get("normalize", True)), similarity=str(d.get("similarity") or "cosine"))


# ----------------------------------------------------------------------------------------------------------
# Reading and writing
# ----------------------------------------------------------------------------------------------------------


def upgrade(data: dict[str, Any], *, spec: Any = None, subset: bool = False) -> dict[str, Any]:
    """A result dict of any readable schema version as the current one (in memory; the file is not touched).

    Schema 1 has no ``identity``: it is reconstructed from the task, model and manifest sections. The task spec
    digest was not recorded then: it is taken from ``spec`` when given (the spec the result was computed with,
    as :file:`scripts/migrate_results.py` does for the committed results) and left unknown otherwise, so such a
    file is never reused for a run. Without the spec, ``subset`` says whether the run covered a language subset
    (schema 1 said so only in the file name: a fourth ``__`` part).
    """
    version = data.get("schema_version")
    if version == SCHEMA_VERSION:
        return data
    if version != 1:
        raise ValueError(f"schema_version {version!r}; this version reads {', '.join(map(str, READABLE_VERSIONS))}")
    d = dict(data)
    task = d.get("task") or {}
    langs = task.get("languages")
    full = list(spec.languages) if spec is not None else None
    d["identity"] = {
        "task": task.get("name"),
        "spec_digest": spec_digest(spec) if spec is not None else None,
        "dataset_sha256": dict((d.get("manifest") or {}).get("dataset_sha256") or {}),
        "text_mode": task.get("text_mode", "sentence"),
        "languages": (None if langs is None or langs == full or (full is None and not subset) else list(langs)),
        "model": model_identity(d.get("model") or {"name": "?"}).model_dump(),
        "transform": None,
        "k": d.get("k"),
        "metrics": list(d.get("metrics") or []),
        "bias": bool(d.get("bias")),
        "migrated_from": 1,
    }
    d["schema_version"] = SCHEMA_VERSION
    return d


def parse_result(data: Any, source: str | Path = "<result>", *, spec: Any = None) -> Result:
    """A :class:`Result` from a parsed JSON object; DataError naming ``source`` and the bad field otherwise."""
    if not isinstance(data, dict):
        raise DataError(source, f"expected a result object, found {type(data).__name__}")
    try:
        subset = isinstance(source, Path) and len(source.name[: -len(".json")].split("__")) > 3
        data = upgrade(data, spec=spec, subset=subset)
    except ValueError as exc:
        raise DataError(source, f"{exc}; delete it or pass --overwrite", where="schema_version") from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise DataError(source, f"cannot read this schema-1 result ({exc})") from None
    try:
        return Result.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        raise DataError(source, f"not a valid result file: {err['msg']}{more}", where=where) from None


def read_result(path: str | Path, *, spec: Any = None) -> Result:
    """Read and validate a result file (any readable schema version)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise DataError(p, f"cannot read the result ({exc.strerror or exc})") from None
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(p, f"not valid JSON ({exc}); expected a result file: delete it or pass --overwrite") from None
    return parse_result(data, p, spec=spec)


def looks_like_result(data: Any) -> bool:
    """Whether a parsed JSON object claims to be a result (has a schema version and a task and model)."""
    return isinstance(data, dict) and "schema_version" in data and isinstance(data.get("task"), dict) \
        and isinstance(data.get("model"), dict)


def write_result(path: str | Path, result: Result) -> Path:
    """Write ``result`` atomically (a crash leaves the old file or the new one, never half of one)."""
    p = Path(path)
    write_json(p, result.to_json())
    return p


def write_per_query(path: str | Path, per_query: dict[str, Any]) -> None:
    """The per-query sidecar: ``{cell: {"qids": [...], "groups": [...], statistic: [value, ...]}}``, gzipped,
    atomic. ``groups`` (the query's group, e.g. its question id, for tasks with parallel queries) is the unit of
    the grouped paired tests; cells of bias statistics (``bias/...``) take the groups of the metric cells."""
    with atomic_open(Path(path), "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz:
        gz.write(json.dumps(per_query, separators=(",", ":")).encode("utf-8"))


def read_per_query(path: str | Path) -> dict[str, Any]:
    """The per-query sidecar; a truncated or damaged file is a DataError naming it (never an "interrupted")."""
    p = Path(path)
    try:
        with gzip.open(p, "rt", encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise DataError(p, "per-query file not found") from None
    except (OSError, EOFError, ValueError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
        raise DataError(p, f"per-query file is damaged or truncated ({type(exc).__name__}: {exc}); "
                        "re-run the model with --overwrite") from None
    if not isinstance(data, dict):
        raise DataError(p, f"expected a per-query object, found {type(data).__name__}")
    return data


__all__ = [
    "SCHEMA_VERSION", "BiasSection", "CellScores", "MainScore", "Manifest", "ModelIdentity", "ModelInfo",
    "Result", "ResultIdentity", "SettingScores", "TaskInfo", "TransformInfo", "identity_stem", "looks_like_result",
    "model_identity", "parse_result", "per_query_path", "read_per_query", "read_result", "result_path",
    "result_stem", "slug", "spec_digest", "upgrade", "write_per_query", "write_result",
]
