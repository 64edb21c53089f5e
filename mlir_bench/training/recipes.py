"""Recipes (data files in ``recipes/*.toml``) and methods (code), and the settings one run gets from both.

A recipe names the student, the teacher, the data and the budget, with a ``[train]`` table of defaults and a
``[methods.<name>]`` table of per-method overrides. ``extends = "<recipe>"`` starts from another recipe (a
shipped name, or a .toml path relative to this file) and overrides it table by table, key by key. A method says which objective, which language plan and
which initialisation a run uses. Unknown keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import UserError
from .students import StudentSpec
from .teacher import TeacherSpec

RECIPE_DIR = Path(__file__).parent / "recipes"


@dataclass(frozen=True)
class Method:
    """A training method: objective × language plan × initialisation."""

    name: str
    objective: Literal["distill", "joint", "infonce"]
    plan: Literal["distill", "xlco", "xx", "mono", "hybrid"]
    init: Literal["base", "stage1"]
    description: str
    hybrid_cross: Literal["per-example", "single-pair"] = "per-example"  # the hybrid plan's cross-lingual batches

    def definition(self) -> dict[str, str]:
        """What decides the training run (not the description): recorded in the manifest, checked on resume."""
        out = {"objective": self.objective, "plan": self.plan, "init": self.init}
        if self.plan == "hybrid":
            out["hybrid_cross"] = self.hybrid_cross
        return out


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("kd-only", "distill", "distill", "base",
               "MIMO stage 1 alone: cosine distillation of every language to the teacher's English, through a "
               "Linear projection; English-English pairs included"),
        Method("mimo", "joint", "xlco", "stage1",
               "MIMO stage 2 from the stage-1 (kd-only) checkpoint: 0.2 x cross-lingual InfoNCE + 0.8 x "
               "distillation of query and passage"),
        Method("x-x", "infonce", "xx", "base",
               "InfoNCE on same-language pairs, each row's language drawn over all languages so that batches mix "
               "languages (LAReQA X-X; MIMO's InfoNCE baseline)"),
        Method("x-x-mono", "infonce", "mono", "base", "InfoNCE with each batch in one language (LAReQA X-X-mono)"),
        Method("x-y", "infonce", "xlco", "base",
               "cross-lingual InfoNCE (XLCO): query and passage languages differ, over all ordered pairs"),
        Method("hybrid", "infonce", "hybrid", "base",
               "Elmahdy's hybrid batches: monolingual with p = 0.5, else cross-lingual with one language pair per "
               "row (as X-Y)", "per-example"),
        Method("hybrid-single-pair", "infonce", "hybrid", "base",
               "Elmahdy's hybrid batches: monolingual with p = 0.5, else cross-lingual with one language pair for "
               "the whole batch", "single-pair"),
    )
}
ALIASES = {"stage1": "kd-only", "mimo-stage1": "kd-only", "mimo-stage2": "mimo", "xlco": "x-y", "infonce": "x-x"}
# Methods whose definition changed after manifests began recording it (``method_definition``): a manifest
# without that field is not a completed run of these ("hybrid" used one language pair per cross-lingual batch).
REDEFINED_METHODS = frozenset({"hybrid"})
SELF_TEACHER = "self"  # [teacher] model = "self": a frozen copy of the initial student (see teacher.py)


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation and budget for one method. ``steps`` = 0 means ``epochs`` passes over the data."""

    steps: int = 0
    epochs: float = 1.0
    batch_size: int = 32
    learning_rate: float = 2e-5
    projection_learning_rate: float | None = None
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    scale: float = 20.0
    xlco_weight: float = 0.2
    distill_weight: float = 0.8
    p_mono: float = 0.5
    # InfoNCE methods and stage 2: one more passage per row, unrelated and in the query's language (samplers.py)
    same_language_negatives: bool = False
    mini_batch_size: int = 0
    bf16: bool = False
    logging_steps: int = 1
    save_steps: int = 50
    student_max_seq_length: int | None = None
    teacher_max_seq_length: int | None = None


@dataclass(frozen=True)
class DataSettings:
    """Where the training text comes from. ``offline`` reads the data root; ``hub`` downloads (paper)."""

    source: Literal["offline", "hub"] = "offline"
    languages: tuple[str, ...] = ()
    tatoeba: bool = True
    ntrex: bool = True
    mkqa: bool = True
    ict_radius: int = 2
    ntrex_passages_in_distill: bool = True
    max_pairs: int = 0  # cap on query-passage pairs (0 = all)
    max_distill_per_language: int = 0  # cap on distillation examples per language (0 = all)
    opus_corpora: tuple[str, ...] = ()
    opus_max_pairs_per_language: int = 500_000
    opus_min_chars: int = 10
    opus_max_chars: int = 512
    opus_max_length_ratio: float = 3.0
    mmarco_languages: dict[str, str] = field(default_factory=dict)
    # A dev task (e.g. "ntrex-dev") whose held-out NTREX-128 documents are removed from the training data, so that
    # the task can select recipes, checkpoints and hyper-parameters (docs/PROTOCOLS.md §2.5).
    holdout_task: str = ""


@dataclass(frozen=True)
class Recipe:
    """A parsed recipe file."""

    name: str
    description: str
    path: Path
    sha256: str
    requires: tuple[str, ...]
    data: DataSettings
    student: StudentSpec
    teacher: TeacherSpec
    train: TrainSettings
    methods: dict[str, dict[str, Any]]
    raw: dict[str, Any]
    holdout: tuple[str, ...] = ()  # the NTREX-128 document ids of [data] holdout_task (part of the sha256)

    def settings(self, method: str) -> TrainSettings:
        """The ``[train]`` defaults with ``[methods.<method>]`` overrides applied."""
        return dataclasses.replace(self.train, **self.methods.get(method, {}))

    def teacher_for(self, method: str) -> TeacherSpec:
        """The teacher setting of ``method``; a ``self`` teacher embeds with the student's prompts."""
        teacher = self.teacher
        if teacher.model == SELF_TEACHER:
            teacher = dataclasses.replace(teacher, query_prompt=self.student.query_prompt,
                                          document_prompt=self.student.document_prompt)
        length = self.settings(method).teacher_max_seq_length
        return dataclasses.replace(teacher, max_seq_length=length) if length else teacher

    @property
    def self_teacher(self) -> bool:
        """Whether the teacher is a frozen copy of the initial student (no projection: the dimensions match)."""
        return self.teacher.model == SELF_TEACHER

    def student_for(self, method: str) -> StudentSpec:
        length = self.settings(method).student_max_seq_length
        return dataclasses.replace(self.student, max_seq_length=length) if length else self.student


def holdout_documents(task: str) -> tuple[str, ...]:
    """The NTREX-128 document ids that the dev task ``task`` holds out (:mod:`mlir_bench.tasks.ntrex`)."""
    from ..tasks.ntrex import heldout_documents
    from ..tasks.registry import get_task_spec

    spec = get_task_spec(task)
    if spec.family != "ntrex":
        raise UserError(f"[data] holdout_task = {task!r}: task of family {spec.family!r}; expected a held-out "
                        "NTREX-128 dev task (family 'ntrex', e.g. 'ntrex-dev')")
    return tuple(heldout_documents(spec))


def resolve_method(name: str) -> Method:
    key = ALIASES.get(name, name)
    if key not in METHODS:
        raise UserError(f"unknown method {name!r}; expected one of {', '.join(METHODS)}")
    return METHODS[key]


def list_recipes() -> list[str]:
    """Names of the recipes shipped with mlir-bench."""
    return sorted(p.stem for p in RECIPE_DIR.glob("*.toml"))


def _table(raw: dict[str, Any], name: str, cls: type, path: Path, where: str) -> Any:
    values = raw.get(name, {})
    if not isinstance(values, dict):
        raise UserError(f"{path}: [{where}] must be a table, found {type(values).__name__}")
    allowed = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise UserError(f"{path}: unknown key(s) {unknown} in [{where}]; expected some of {sorted(allowed)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise UserError(f"{path}: [{where}]: {exc}") from None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` applied: tables merge key by key, any other value replaces."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def load_recipe(recipe: str | Path, _chain: tuple[str, ...] = ()) -> Recipe:
    """Load a shipped recipe by name, or a recipe file by path."""
    path = Path(recipe)
    if not path.suffix:
        path = RECIPE_DIR / f"{recipe}.toml"
        if not path.exists():
            raise UserError(f"unknown recipe {str(recipe)!r}; expected one of {', '.join(list_recipes())} or a .toml path")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read recipe ({exc.strerror})") from None
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid TOML ({exc})") from None
    top = {"name", "description", "requires", "extends", "data", "student", "teacher", "train", "methods"}
    if unknown := sorted(set(raw) - top):
        raise UserError(f"{path}: unknown top-level key(s) {unknown}; expected some of {sorted(top)}")
    digest = hashlib.sha256(data)
    if "extends" in raw:
        parent_ref = raw.pop("extends")
        if not isinstance(parent_ref, str) or not parent_ref:
            raise UserError(f"{path}: extends must name a recipe (a shipped name or a .toml path)")
        here = str(path.resolve())
        if here in _chain:
            raise UserError(f"{path}: recipes extend each other in a cycle ({' -> '.join([*_chain, here])})")
        parent_path: str | Path = path.parent / parent_ref if parent_ref.endswith(".toml") else parent_ref
        parent = load_recipe(parent_path, (*_chain, here))
        raw = _merge(parent.raw, raw)
        digest.update(parent.sha256.encode())  # a change in the parent changes this recipe's identity
    for key in ("name", "student", "teacher", "data"):
        if key not in raw:
            raise UserError(f"{path}: missing [{key}]" if key != "name" else f"{path}: missing name = \"...\"")
    methods = raw.get("methods", {})
    allowed = {f.name for f in dataclasses.fields(TrainSettings)}
    for name, overrides in methods.items():
        resolve_method(name)
        if unknown := sorted(set(overrides) - allowed):
            raise UserError(f"{path}: unknown key(s) {unknown} in [methods.{name}]; expected some of {sorted(allowed)}")
    data_settings = _table(raw, "data", DataSettings, path, "data")
    holdout: tuple[str, ...] = ()
    if data_settings.holdout_task:
        if data_settings.source != "offline":
            raise UserError(f"{path}: [data] holdout_task removes NTREX-128 documents from the offline corpora; "
                            f"it has no effect with source = {data_settings.source!r}")
        holdout = holdout_documents(data_settings.holdout_task)
        digest.update(json.dumps(sorted(holdout)).encode())  # a changed hold-out changes the training data
    parsed = Recipe(
        name=raw["name"], description=raw.get("description", ""), path=path,
        sha256=digest.hexdigest(), requires=tuple(raw.get("requires", ())),
        data=data_settings,
        student=_table(raw, "student", StudentSpec, path, "student"),
        teacher=_table(raw, "teacher", TeacherSpec, path, "teacher"),
        train=_table(raw, "train", TrainSettings, path, "train"),
        methods={ALIASES.get(k, k): dict(v) for k, v in methods.items()}, raw=raw, holdout=holdout,
    )
    if parsed.self_teacher:
        for role, prompt in (("query", parsed.teacher.query_prompt), ("document", parsed.teacher.document_prompt)):
            own = parsed.student.prompt(role)
            if prompt and prompt != own:
                raise UserError(f"{path}: [teacher] model = \"self\" embeds with the student's prompts, but "
                                f"{role}_prompt = {prompt!r} differs from the student's {own!r}; leave it empty")
    if not parsed.data.languages or "en" not in parsed.data.languages:
        raise UserError(f"{path}: [data] languages must list the training languages, English included "
                        f"(found {list(parsed.data.languages)})")
    return parsed
