"""Check a result file produced elsewhere before it enters the leaderboard (``mlir-bench validate``).

:func:`validate_file` reads a result JSON and its per-query sidecar and returns every problem it finds, one
:class:`Problem` (one printed line) each; an empty list means the file passes. It checks:

1. **Schema**: valid JSON, a readable schema version, every field of :class:`~.schema.Result` (each pydantic
   error is one problem).
2. **Task**: the task exists in this version (``resolve_spec``), the result's spec digest equals the digest of
   this version's spec (:func:`~.schema.spec_digest`), its main score is the spec's, its languages are the spec's
   (or a subset), and its dataset sha256s are exactly the spec's ``source.files[*].sha256`` of the files its
   languages read (the manifest's copy too).
3. **Counts**: per query language the cells' query counts equal the spec's ``expected.questions``; per document
   language the candidates (``expected.candidates``); the pool (``expected.pool``, or the sum of the candidates
   of a language subset) in every cell over all languages and in ``task.n_documents``.
4. **Internal consistency**: the identity agrees with the sections it summarises (task, text mode, ``k``,
   metrics, model, transform, bias, file name); every cell's counts add up; every setting's counts and macro-averages
   equal the unweighted mean of its cells' non-null scores; the main score is its setting's macro-average; the
   per-query values of every Mono / Multi / per-language cell average to the cell's scores (they are rounded to
   6 decimals, so within :data:`PER_QUERY_TOLERANCE`) and count its evaluated queries; the bias summary is the
   macro or micro average of its per-language values as the statistic's registry entry says (``bias_summary``),
   each macro is the mean of its languages, and the per-query bias values average to the per-language values.
   A result imported from mteb (``imported``) has none of this to check: it is one problem line.
5. **Plausibility**: every retrieval metric (cells, settings, per query) is finite and in [0, 1]; cutoff
   metrics that cannot fall as the cutoff grows (recall@k, map@k, mrr@k, hit@k) do not; bias and geometry
   statistics lie within their mathematical ranges (:data:`BIAS_BOUNDS`).

This module imports nothing of mlir-bench above :mod:`mlir_bench.results` (the import contracts): what it needs
from a task spec (a :class:`~mlir_bench.tasks.spec.TaskSpec` or any object with the same fields) comes through
``resolve_spec``, and the bias registry's summary kinds through ``bias_summary``; the CLI passes both.

:func:`accept` copies a passing file, its sidecar and its figures into a results folder with a ``submitted``
section: such a result is submitted (not re-run here) until a maintainer reproduces it and replaces it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from pydantic import ValidationError

from ..errors import DataError, UserError
from ..io import atomic_open, write_json
from .schema import (
    READABLE_VERSIONS,
    Result,
    identity_stem,
    model_identity,
    per_query_path,
    read_per_query,
    spec_digest,
    upgrade,
)

#: The settings whose cells have per-query values in the sidecar (``mlir_bench.runner.run.PER_QUERY_SETTINGS``;
#: tests/test_validate.py checks that the two agree).
PER_QUERY_SETTINGS = ("mono", "multi", "per-language")
#: Per-query values are written rounded to 6 decimals: their mean may differ from the cell's score by 5e-7.
PER_QUERY_TOLERANCE = 1e-6
#: Macro-averages are recomputed from the same floats: only the order of summation can differ.
MACRO_TOLERANCE = 1e-9
#: The bias summary is written rounded to 6 decimals.
SUMMARY_TOLERANCE = 1e-6
#: Retrieval metrics whose value cannot decrease as the cutoff grows (the bare name = no cutoff = the largest).
MONOTONE_METRICS = ("recall", "map", "mrr", "hit")
#: The ranges of the bias and geometry statistics by base name (``mrc@10`` -> ``mrc``), None = unbounded. The
#: rank distance is also bounded above by the pool size, checked separately.
BIAS_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "rank_distance": (0.0, None),  # max - min rank of a query's relevant documents
    "mrc": (-100.0, 100.0),  # Spearman correlation x 100
    "peer": (0.0, 1.0),  # a p-value
    "tlr": (0.0, 1.0),  # a recall
    "own_language_share": (0.0, 1.0),
    "own_language_pool_share": (0.0, 1.0),
    "xl_align": (0.0, None),  # a mean squared distance
    "xl_align_answers": (0.0, None),
    "uniformity": (None, 0.0),  # log of a mean of exp(-2 d^2) <= log 1
    "same_language_cosine": (-1.0, 1.0),
    "cross_language_cosine": (-1.0, 1.0),
}


@dataclass(frozen=True)
class Problem:
    """One problem of one file: printed as ``<file>: <where>: <what>``."""

    file: str
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.what}"


def _n(x: Any) -> str:
    return f"{x:.9g}" if isinstance(x, float) else repr(x)


def _count(x: int | None) -> str:
    return "not recorded" if x is None else str(x)


def _num(x: Any) -> TypeGuard[int | float]:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _close(a: float | None, b: float | None, tol: float) -> bool:
    """Whether two numbers agree within ``tol`` (plus 1e-12 relative); False when either is missing."""
    if not _num(a) or not _num(b):
        return False
    return abs(a - b) <= tol + 1e-12 * max(abs(a), abs(b))


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values)


def _base(key: str) -> tuple[str, int | None]:
    name, _, k = key.partition("@")
    return name, (int(k) if k.isdigit() else None)


class _Checker:
    def __init__(self, path: Path) -> None:
        self.file = str(path)
        self.problems: list[Problem] = []

    def add(self, where: str, what: str, file: str | None = None) -> None:
        self.problems.append(Problem(file or self.file, where, what))


# ----------------------------------------------------------------------------------------------------------
# Entry points
# ----------------------------------------------------------------------------------------------------------


def validate_file(path: str | Path, *, resolve_spec: Callable[[str], Any] | None = None,
                  bias_summary: Mapping[str, str] | None = None,
                  per_query_settings: tuple[str, ...] = PER_QUERY_SETTINGS) -> list[Problem]:
    """Every problem of the result file ``path`` and its sidecar (empty: it passes).

    ``resolve_spec(task_name)`` returns the task's spec (any exception: the task is unknown); without it the
    task checks (2, 3) are skipped. ``bias_summary`` maps a bias statistic's key (``mrc@10``) to how its summary
    is formed from its per-language values, ``"macro"`` or ``"micro"`` (the registry in
    :mod:`mlir_bench.scoring.bias_stats`); a key it does not name must equal one of the two.
    """
    p = Path(path)
    ck = _Checker(p)
    result = _read(ck, p)
    if result is None:
        return ck.problems
    if result.imported is not None:  # written by import-mteb: no per-query values, data checksums or counts
        ck.add("imported", "a result imported from mteb carries no per-query values, data sha256s or counts to "
               "check; it is shown as imported and cannot be submitted (run the model here instead)")
        return ck.problems
    spec = None
    if resolve_spec is not None:
        try:
            spec = resolve_spec(result.task.name)
        except Exception as exc:  # noqa: BLE001 - whatever the resolver raises, the task is not known here
            ck.add("task.name", f"task {result.task.name!r} is not a task of this mlir-bench version ({exc})")
    if spec is not None:
        _check_task(ck, result, spec)
    _check_identity(ck, p, result)
    _check_cells(ck, result)
    _check_settings(ck, result)
    _check_bias_section(ck, result, bias_summary or {})
    _check_per_query(ck, p, result, bias_summary or {}, per_query_settings)
    _check_submitted(ck, p, result)
    return ck.problems


def expand(paths: list[str | Path]) -> list[Path]:
    """The result files named: files as given, folders as their ``*.json`` files (sorted, not recursive: the
    experiment reports live in ``experiments/`` below the results)."""
    files: list[Path] = []
    for p in map(Path, paths):
        files += sorted(q for q in p.glob("*.json") if q.is_file()) \
            if p.is_dir() else [p]
    return files


def accepted_path(path: str | Path, dest_dir: str | Path) -> Path:
    """Where :func:`accept` puts ``path`` in ``dest_dir``: the name a run here gives the same identity."""
    result = Result.model_validate(upgrade(json.loads(Path(path).read_bytes())))
    return Path(dest_dir) / f"{identity_stem(result.identity)}.json"


def accept(path: str | Path, dest_dir: str | Path, *, by: str, today: str | None = None,
           validator_version: str | None = None) -> Path:
    """Copy a result that passed :func:`validate_file` into ``dest_dir``, marked ``submitted``.

    The copy is the file's JSON (upgraded in memory to the current schema) plus a top-level ``submitted``
    section: who submitted it (``by``), when it was validated (``today``, ISO date), the sha256 of the submitted
    JSON and sidecar as received, and the mlir-bench version that validated it. The sidecar is copied byte for
    byte beside it, and the run's figures (``figures/<stem>/`` beside the source) into ``figures/``. The name is
    the one a run here would give the same identity; an existing file there is never overwritten (UserError).
    """
    src = Path(path)
    raw = src.read_bytes()
    data = upgrade(json.loads(raw))
    if not by.strip():
        raise UserError("--by: expected the submitter's name (or handle), found an empty value")
    dest = accepted_path(src, dest_dir)
    side_dest = per_query_path(dest)
    for target in (dest, side_dest):
        if target.exists():
            raise UserError(f"{target}: a result with this identity is already there; remove it first to replace "
                            "it with the submitted one")
    side = per_query_path(src).read_bytes()
    if validator_version is None:
        from .. import __version__ as validator_version
    data["submitted"] = {
        "by": by.strip(),
        "validated": today or _dt.date.today().isoformat(),
        "source_file": src.name,
        "source_sha256": hashlib.sha256(raw).hexdigest(),
        "per_query_sha256": hashlib.sha256(side).hexdigest(),
        "validator_version": validator_version,
    }
    figures = src.parent / "figures" / src.name[: -len(".json")]
    if figures.is_dir():  # the run's figures (the bias heatmaps), where the leaderboard looks for them
        for f in sorted(figures.iterdir()):
            if f.is_file():
                with atomic_open(dest.parent / "figures" / dest.name[: -len(".json")] / f.name, "wb") as fh:
                    fh.write(f.read_bytes())
    with atomic_open(side_dest, "wb") as fh:
        fh.write(side)
    write_json(dest, data)
    return dest


# ----------------------------------------------------------------------------------------------------------
# 1. Schema
# ----------------------------------------------------------------------------------------------------------


def _read(ck: _Checker, p: Path) -> Result | None:
    try:
        raw = p.read_bytes()
    except OSError as exc:
        ck.add("(file)", f"cannot read it ({exc.strerror or exc})")
        return None
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        ck.add("(file)", f"not valid JSON ({exc}); expected a result file")
        return None
    if not isinstance(data, dict):
        ck.add("(top level)", f"expected a result object, found {type(data).__name__}")
        return None
    try:
        data = upgrade(data)
    except ValueError:
        ck.add("schema_version", f"found {data.get('schema_version')!r}; expected one of "
               f"{', '.join(map(str, READABLE_VERSIONS))}")
        return None
    except (KeyError, TypeError, AttributeError) as exc:
        ck.add("(top level)", f"cannot read this schema-1 result ({exc})")
        return None
    try:
        return Result.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(x) for x in err["loc"]) or "(top level)"
            found = "" if err["type"] == "missing" else f" (found {repr(err.get('input'))[:60]})"
            ck.add(where, f"schema: {err['msg']}{found}")
        return None


# ----------------------------------------------------------------------------------------------------------
# 2, 3. Against the task spec
# ----------------------------------------------------------------------------------------------------------


def _languages(result: Result, spec: Any | None = None) -> list[str]:
    if result.identity.languages:
        return list(result.identity.languages)
    return list(spec.languages) if spec is not None else list(result.task.languages)


def _check_task(ck: _Checker, result: Result, spec: Any) -> None:
    name = spec.name
    toml = f"tasks/{name}.toml"
    ident = result.identity
    if ident.spec_digest is None:
        ck.add("identity.spec_digest", "not recorded (a schema-1 file); re-run with this mlir-bench version")
    else:
        want = spec_digest(spec)
        if ident.spec_digest != want:
            ck.add("identity.spec_digest", f"{ident.spec_digest} is not the digest of this version's {toml} "
                   f"({want}): the result was computed for another definition of the task")
    for field, want in (("family", spec.family), ("level", spec.level)):
        if getattr(result.task, field) != want:
            ck.add(f"task.{field}", f"{getattr(result.task, field)!r}, expected {want!r} ({toml})")
    if result.main_score.metric != spec.main_score or result.main_score.setting != spec.main_setting:
        ck.add("main_score", f"{result.main_score.setting} {result.main_score.metric}, expected "
               f"{spec.main_setting} {spec.main_score} ({toml})")
    full = list(spec.languages)
    langs = _languages(result, spec)
    unknown = [x for x in langs if x not in full]
    if unknown:
        ck.add("identity.languages", f"{unknown} are not languages of {name} ({', '.join(full)})")
    if sorted(result.task.languages) != sorted(langs):
        ck.add("task.languages", f"{result.task.languages}, expected {langs} (the identity's languages)")

    # dataset sha256s: exactly the spec's checksummed files that these languages read
    want_sha = {f.path: f.sha256 for f in spec.source.files
                if f.sha256 and (f.lang is None or f.lang in langs)}
    got_sha = dict(ident.dataset_sha256)
    for rel in sorted(set(want_sha) | set(got_sha)):
        got_h, want_h = got_sha.get(rel), want_sha.get(rel)
        where = f"identity.dataset_sha256[{rel}]"
        if got_h is None:
            ck.add(where, f"not recorded; expected {want_h} ({toml})")
        elif want_h is None:
            ck.add(where, f"{got_h}: not a checksummed data file of {name} for languages {','.join(langs)} ({toml})")
        elif got_h != want_h:
            ck.add(where, f"{got_h}, expected {want_h} ({toml}): computed on other data")
    if result.manifest.dataset_sha256 and result.manifest.dataset_sha256 != got_sha:
        ck.add("manifest.dataset_sha256", "differs from identity.dataset_sha256")

    # counts
    exp = spec.expected
    for key, c in result.cells.items():
        if c.query_lang in langs and c.query_lang in exp.questions and c.n_queries != exp.questions[c.query_lang]:
            ck.add(f"cells.{key}.n_queries", f"{_count(c.n_queries)}, expected {exp.questions[c.query_lang]} "
                   f"({c.query_lang} questions, {toml})")
        if len(c.doc_langs) == 1 and c.doc_langs[0] in exp.candidates and \
                c.n_documents != exp.candidates[c.doc_langs[0]]:
            ck.add(f"cells.{key}.n_documents", f"{_count(c.n_documents)}, expected {exp.candidates[c.doc_langs[0]]} "
                   f"({c.doc_langs[0]} candidates, {toml})")
    pool = exp.pool if (exp.pool is not None and sorted(langs) == sorted(full)) else None
    if pool is None and langs and all(x in exp.candidates for x in langs):
        pool = sum(exp.candidates[x] for x in langs)
    if pool is not None:
        for key, c in result.cells.items():
            if len(langs) > 1 and sorted(c.doc_langs) == sorted(langs) and c.n_documents != pool:
                ck.add(f"cells.{key}.n_documents", f"{_count(c.n_documents)}, expected the pool of {pool} ({toml})")
        if result.task.n_documents is not None and result.task.n_documents != pool:
            ck.add("task.n_documents", f"{result.task.n_documents}, expected the pool of {pool} ({toml})")
    if langs and all(x in exp.questions for x in langs):
        n_q = sum(exp.questions[x] for x in langs)
        if result.task.n_queries is not None and result.task.n_queries != n_q:
            ck.add("task.n_queries", f"{result.task.n_queries}, expected {n_q} ({toml})")


# ----------------------------------------------------------------------------------------------------------
# 4, 5. Internal consistency and plausibility
# ----------------------------------------------------------------------------------------------------------


def _check_identity(ck: _Checker, p: Path, result: Result) -> None:
    ident = result.identity
    pairs = (("task", ident.task, result.task.name), ("text_mode", ident.text_mode, result.task.text_mode),
             ("k", ident.k, result.k))
    for field, a, b in pairs:
        if a != b:
            ck.add(f"identity.{field}", f"{a!r}, but the result says {b!r}")
    if sorted(ident.metrics) != sorted(result.metrics):
        ck.add("identity.metrics", f"{ident.metrics}, but the result's metrics are {result.metrics}")
    if ident.bias != (result.bias is not None):
        ck.add("identity.bias", f"{ident.bias}, but the result {'has' if result.bias else 'has no'} bias section")
    transform = getattr(result, "transform", None)
    t_name = getattr(transform, "name", None)
    if t_name != ident.transform:
        ck.add("identity.transform", f"{ident.transform!r}, but the transform section says {t_name!r}")
    # a transformed model is named <base>+<transform> in the model section; the identity names the base model
    names = {ident.model.name} | ({f"{ident.model.name}+{ident.transform}"} if ident.transform else set())
    if result.model.name not in names:
        ck.add("identity.model.name", f"{ident.model.name!r}, but the model section says {result.model.name!r}")
    base = getattr(transform, "base_model", None)
    if transform is not None and base != ident.model.name:
        ck.add("transform.base_model", f"{base!r}, but the identity's model is {ident.model.name!r}")
    mine = model_identity(result.model.model_dump()).model_dump()
    for key, want in ident.model.model_dump().items():
        if key != "name" and mine.get(key) != want:
            ck.add(f"identity.model.{key}", f"{want!r}, but the model section says {mine.get(key)!r}")
    want = f"{identity_stem(ident)}.json"
    if p.name != want:
        ck.add("(file name)", f"{p.name}, expected {want} (the name a run of this identity writes)")


def _check_metric_value(ck: _Checker, where: str, v: Any, file: str | None = None) -> bool:
    if v is None:
        return True
    if not _num(v) or not math.isfinite(v):
        ck.add(where, f"{v!r} is not a finite number", file)
        return False
    if not 0.0 <= v <= 1.0:
        ck.add(where, f"{_n(v)} is out of range: a retrieval metric is in [0, 1]", file)
        return False
    return True


def _check_cells(ck: _Checker, result: Result) -> None:
    langs = set(result.task.languages)
    for key, c in result.cells.items():
        w = f"cells.{key}"
        if key != f"{c.setting}/{c.name}":
            ck.add(w, f"key differs from its setting/name ({c.setting}/{c.name})")
        if c.query_lang not in langs and c.query_lang != "all":
            ck.add(f"{w}.query_lang", f"{c.query_lang!r} is not a language of the result ({', '.join(sorted(langs))})")
        stray = [x for x in c.doc_langs if x not in langs]
        if stray:
            ck.add(f"{w}.doc_langs", f"{stray} are not languages of the result")
        if c.n_queries is not None and c.n_evaluated is not None and c.n_skipped is not None and \
                c.n_evaluated + c.n_skipped != c.n_queries:
            ck.add(w, f"n_evaluated {c.n_evaluated} + n_skipped {c.n_skipped} != n_queries {c.n_queries}")
        if c.n_documents is not None and c.n_documents < 1:
            ck.add(f"{w}.n_documents", f"{c.n_documents}; expected at least one document")
        missing = [m for m in result.metrics if m not in c.scores]
        if missing:
            ck.add(f"{w}.scores", f"no value for {', '.join(missing)}")
        for m, v in c.scores.items():
            if m not in result.metrics:
                ck.add(f"{w}.scores.{m}", "not one of the result's metrics")
            _check_metric_value(ck, f"{w}.scores.{m}", v)
            if v is None and c.n_evaluated:
                ck.add(f"{w}.scores.{m}", f"null although {c.n_evaluated} queries were evaluated")
            if v is not None and c.n_evaluated == 0:
                ck.add(f"{w}.scores.{m}", f"{_n(v)} although no query was evaluated")
        _check_monotone(ck, w, c.scores)


def _check_monotone(ck: _Checker, where: str, scores: Mapping[str, float | None]) -> None:
    """recall@k, map@k, mrr@k, hit@k cannot fall as k grows; the bare name (no cutoff) is the largest k."""
    for family in MONOTONE_METRICS:
        pts = []
        for m, v in scores.items():
            name, k = _base(m)
            if name == family and _num(v) and (k is not None or "@" not in m):
                pts.append((math.inf if k is None else k, m, float(v)))  # type: ignore[arg-type]
        pts.sort()
        for (_, m1, v1), (_, m2, v2) in zip(pts, pts[1:], strict=False):
            if v2 < v1 - MACRO_TOLERANCE:
                ck.add(f"{where}.scores.{m2}", f"{_n(v2)} < {m1} {_n(v1)}: implausible, {family} cannot fall as "
                       "the cutoff grows")


def _check_settings(ck: _Checker, result: Result) -> None:
    by_setting: dict[str, list[Any]] = {}
    for c in result.cells.values():
        by_setting.setdefault(c.setting, []).append(c)
    for name in sorted(set(result.settings) - set(by_setting)):
        ck.add(f"settings.{name}", "no cell of this setting")
    for name, cells in by_setting.items():
        s = result.settings.get(name)
        w = f"settings.{name}"
        if s is None:
            ck.add(w, f"missing (the result has {len(cells)} {name} cells)")
            continue
        if s.n_cells != len(cells):
            ck.add(f"{w}.n_cells", f"{s.n_cells}, but the result has {len(cells)} {name} cells")
        for field in ("n_queries", "n_skipped"):
            got = getattr(s, field)
            vals = [getattr(c, field) for c in cells]
            if got is not None and None not in vals and got != sum(vals):
                ck.add(f"{w}.{field}", f"{got}, but its cells sum to {sum(vals)}")
        for m in result.metrics:
            got = s.scores.get(m)
            vals = [c.scores[m] for c in cells if c.scores.get(m) is not None]
            if m not in s.scores:
                ck.add(f"{w}.scores", f"no value for {m}")
                continue
            _check_metric_value(ck, f"{w}.scores.{m}", got)
            if not vals:
                if got is not None:
                    ck.add(f"{w}.scores.{m}", f"{_n(got)}, but no cell has a value")
            elif got is None or not _num(got) or not _close(got, _mean(vals), MACRO_TOLERANCE):
                ck.add(f"{w}.scores.{m}", f"{_n(got)} is not the mean of its {len(vals)} cells' scores "
                       f"({_n(_mean(vals))})")
    ms = result.main_score
    s = result.settings.get(ms.setting)
    want = s.scores.get(ms.metric) if s else None
    if ms.metric not in result.metrics:
        ck.add("main_score.metric", f"{ms.metric} is not one of the result's metrics")
    if ms.value is None:
        ck.add("main_score.value", "null: the main score was not computed")
    elif want is None or not _close(ms.value, want, MACRO_TOLERANCE):
        ck.add("main_score.value", f"{_n(ms.value)}, but settings.{ms.setting}.scores.{ms.metric} is {_n(want)}")


def _bounds_problem(key: str, v: Any, pool: int | None) -> str | None:
    if v is None:
        return None
    if not _num(v) or not math.isfinite(v):
        return f"{v!r} is not a finite number"
    lo, hi = BIAS_BOUNDS.get(_base(key)[0], (None, None))
    if _base(key)[0] == "rank_distance" and pool:
        hi = float(pool - 1)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        rng = f"[{'-inf' if lo is None else _n(lo)}, {'inf' if hi is None else _n(hi)}]"
        return f"{_n(v)} is out of range: {_base(key)[0]} is in {rng}"
    return None


def _pool_size(result: Result) -> int | None:
    sizes = [c.n_documents for c in result.cells.values() if c.setting == "multi" and c.n_documents]
    return max(sizes) if sizes else result.task.n_documents


def _check_bias_section(ck: _Checker, result: Result, kinds: Mapping[str, str]) -> None:
    b = result.bias
    if b is None:
        return
    pool = _pool_size(result)
    for key, v in b.summary.items():
        msg = _bounds_problem(key, v, pool)
        if msg:
            ck.add(f"bias.summary.{key}", msg)
    for key, v in (b.geometry or {}).items():
        if key in b.summary and _num(v) and _num(b.summary[key]) and not _close(v, b.summary[key], SUMMARY_TOLERANCE):
            ck.add(f"bias.summary.{key}", f"{_n(b.summary[key])}, but bias.geometry.{key} is {_n(v)}")
    per = getattr(b, "per_language", None)
    if per is None:
        return
    if not isinstance(per, dict):
        ck.add("bias.per_language", f"expected an object, found {type(per).__name__}")
        return
    for key in kinds:
        if key in b.summary and key not in per:
            ck.add(f"bias.per_language.{key}", "missing: the summary has this statistic but no per-language values")
    for key, entry in per.items():
        w = f"bias.per_language.{key}"
        if not isinstance(entry, dict) or not isinstance(entry.get("per_language"), dict):
            ck.add(w, "expected {per_language: {lang: value}, macro, micro, ...}")
            continue
        values = entry["per_language"]
        for lang, v in values.items():
            msg = _bounds_problem(key, v, pool)
            if msg:
                ck.add(f"{w}.per_language.{lang}", msg)
        defined = [float(v) for v in values.values() if _num(v)]
        macro = entry.get("macro")
        n_multi = [c.n_queries for c in result.cells.values() if c.setting == b.setting]
        n_sum = sum(n for n in n_multi if n is not None)
        if _num(entry.get("n_queries")) and n_multi and None not in n_multi and entry["n_queries"] != n_sum:
            ck.add(f"{w}.n_queries", f"{entry['n_queries']}, but the {b.setting} cells have {n_sum} queries")
        if defined and (not _num(macro) or not _close(macro, _mean(defined), MACRO_TOLERANCE)):
            ck.add(f"{w}.macro", f"{_n(macro)} is not the mean of its {len(defined)} languages ({_n(_mean(defined))})")
        und = entry.get("n_undefined_per_language")
        if isinstance(und, dict) and _num(entry.get("n_undefined")) and sum(und.values()) != entry["n_undefined"]:
            ck.add(f"{w}.n_undefined", f"{entry['n_undefined']}, but its languages sum to {sum(und.values())}")
        if key not in b.summary:
            continue
        s = b.summary[key]
        kind = kinds.get(key)
        options = [kind] if kind in ("macro", "micro") else ["macro", "micro"]
        if not any(_num(s) and _num(entry.get(o)) and _close(s, entry[o], SUMMARY_TOLERANCE) for o in options) \
                and not (s is None and all(entry.get(o) is None for o in options)):
            said = f"its {kind} value" if len(options) == 1 else "its macro or micro value"
            ck.add(f"bias.summary.{key}", f"{_n(s)} is not {said} over languages "
                   f"({' / '.join(_n(entry.get(o)) for o in options)})")


def _check_per_query(ck: _Checker, p: Path, result: Result, kinds: Mapping[str, str],
                     settings: tuple[str, ...]) -> None:
    side = per_query_path(p)
    sf = str(side)
    try:
        pq = read_per_query(side)
    except DataError as exc:
        ck.add("(per-query file)", str(exc).removeprefix(f"{side}: "), sf)
        return
    # metrics, per cell
    for key, c in result.cells.items():
        if c.setting not in settings:
            continue
        w = f"[{key}]"
        entry = pq.get(key)
        if not isinstance(entry, dict):
            ck.add(w, f"missing: the per-query values of cells.{key}", sf)
            continue
        qids = entry.get("qids")
        if not isinstance(qids, list):
            ck.add(f"{w}.qids", "missing", sf)
            continue
        if c.n_evaluated is not None and len(qids) != c.n_evaluated:
            ck.add(f"{w}.qids", f"{len(qids)} queries, but cells.{key} evaluated {c.n_evaluated}", sf)
        if len(set(map(str, qids))) != len(qids):
            ck.add(f"{w}.qids", "a query id occurs twice", sf)
        groups = entry.get("groups")
        if groups is not None and (not isinstance(groups, list) or len(groups) != len(qids)
                                   or not all(isinstance(g, str) and g for g in groups)):
            ck.add(f"{w}.groups", f"expected one non-empty group label (a string) per query ({len(qids)})", sf)
        for m in result.metrics:
            vals = entry.get(m)
            if not isinstance(vals, list):
                ck.add(f"{w}.{m}", f"missing (cells.{key} has {m})", sf)
                continue
            if len(vals) != len(qids):
                ck.add(f"{w}.{m}", f"{len(vals)} values for {len(qids)} queries", sf)
                continue
            bad = next((i for i, v in enumerate(vals) if v is None or not _num(v) or not math.isfinite(v)
                        or not 0.0 <= v <= 1.0), None)
            if bad is not None:
                ck.add(f"{w}.{m}", f"value {bad} ({qids[bad]}) is {vals[bad]!r}; expected a number in [0, 1]", sf)
                continue
            cell = c.scores.get(m)
            if vals and _num(cell) and not _close(_mean([float(v) for v in vals]), cell, PER_QUERY_TOLERANCE):
                ck.add(f"{w}.{m}", f"the {len(vals)} per-query values average {_n(_mean([float(v) for v in vals]))}, "
                       f"but cells.{key}.scores.{m} is {_n(cell)}", sf)
    for key in pq:
        if not key.startswith("bias/") and key not in result.cells:
            ck.add(f"[{key}]", "not a cell of the result", sf)
    _check_per_query_bias(ck, result, pq, kinds, sf)


def _check_submitted(ck: _Checker, p: Path, result: Result) -> None:
    """An accepted file's ``submitted`` section names who and when, and its sidecar is the one validated."""
    sub = getattr(result, "submitted", None)
    if sub is None:
        return
    if not isinstance(sub, dict):
        ck.add("submitted", f"expected an object, found {type(sub).__name__}")
        return
    for field in ("by", "validated", "source_sha256"):
        if not isinstance(sub.get(field), str) or not sub[field].strip():
            ck.add(f"submitted.{field}", "missing (written by mlir-bench validate --accept)")
    want = sub.get("per_query_sha256")
    side = per_query_path(p)
    if isinstance(want, str) and side.is_file() and hashlib.sha256(side.read_bytes()).hexdigest() != want:
        ck.add("submitted.per_query_sha256", f"{want}, but {side.name} has another sha256: not the per-query file "
               "that was validated")


def _check_per_query_bias(ck: _Checker, result: Result, pq: dict[str, Any], kinds: Mapping[str, str],
                          sf: str) -> None:
    b = result.bias
    entries = {k: v for k, v in pq.items() if k.startswith("bias/")}
    if b is None:
        for key in entries:
            ck.add(f"[{key}]", "per-query bias values, but the result has no bias section", sf)
        return
    setting = b.setting
    cells = [c for c in result.cells.values() if c.setting == setting]
    if not entries:
        if getattr(b, "version", None) is not None and cells:  # written together since the bias section's version
            ck.add(f"[bias/{setting}/*]", "missing: the per-query bias values of the bias section", sf)
        return
    per = getattr(b, "per_language", None) or {}
    by_lang: dict[str, dict[str, list[float | None]]] = {}
    for c in cells:
        key = f"bias/{setting}/{c.name}"
        w = f"[{key}]"
        entry = entries.get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("qids"), list):
            ck.add(w, f"missing: the per-query bias values of cells.{setting}/{c.name}", sf)
            continue
        n = len(entry["qids"])
        if c.n_queries is not None and n != c.n_queries:
            ck.add(f"{w}.qids", f"{n} queries, but cells.{setting}/{c.name} has {c.n_queries}", sf)
        for stat, vals in entry.items():
            if stat in ("qids", "groups"):
                continue
            if not isinstance(vals, list) or len(vals) != n:
                ck.add(f"{w}.{stat}", f"expected {n} values (one per query)", sf)
                continue
            bad = next((i for i, v in enumerate(vals) if v is not None and _bounds_problem(stat, v, None)), None)
            if bad is not None:
                ck.add(f"{w}.{stat}", f"value {bad} ({entry['qids'][bad]}): {_bounds_problem(stat, vals[bad], None)}",
                       sf)
                continue
            by_lang.setdefault(stat, {}).setdefault(c.query_lang, []).extend(vals)
    for key in entries:
        if key.removeprefix(f"bias/{setting}/") not in {c.name for c in cells}:
            ck.add(f"[{key}]", f"not a {setting} cell of the result", sf)
    for stat, langs in by_lang.items():
        entry = per.get(stat)
        if not isinstance(entry, dict) or not isinstance(entry.get("per_language"), dict):
            ck.add(f"[bias/{setting}/*].{stat}", f"per-query values, but bias.per_language has no {stat}", sf)
            continue
        all_defined: list[float] = []
        for lang, vals in langs.items():
            defined = [float(v) for v in vals if v is not None]
            all_defined += defined
            want = entry["per_language"].get(lang)
            got = _mean(defined) if defined else None
            if (got is None) != (want is None) or (got is not None and not _num(want)) or \
                    (got is not None and not _close(got, want, PER_QUERY_TOLERANCE)):
                ck.add(f"[bias/{setting}/*].{stat}", f"the {lang} per-query values average {_n(got)}, but "
                       f"bias.per_language.{stat}.per_language.{lang} is {_n(want)}", sf)
            und = (entry.get("n_undefined_per_language") or {}).get(lang)
            if _num(und) and und != len(vals) - len(defined):
                ck.add(f"[bias/{setting}/*].{stat}", f"{len(vals) - len(defined)} undefined {lang} values, but "
                       f"bias.per_language.{stat}.n_undefined_per_language.{lang} is {und}", sf)
        micro = entry.get("micro")
        if all_defined and _num(micro) and not _close(_mean(all_defined), micro, PER_QUERY_TOLERANCE):
            ck.add(f"[bias/{setting}/*].{stat}", f"the per-query values average {_n(_mean(all_defined))}, but "
                   f"bias.per_language.{stat}.micro is {_n(micro)}", sf)


__all__ = ["BIAS_BOUNDS", "PER_QUERY_SETTINGS", "Problem", "accept", "accepted_path", "expand", "validate_file"]
