"""Model cards: what each model on the page is, where it comes from, its licence and links, with no local paths.

Sources, in order: the packaged :file:`model_cards.toml` (registered models: description, licence, model page,
paper); for the reference trainer's students (``st:models/<recipe>/<method>``) their training manifest in
``<results>/training/<recipe>/<method>/training_manifest.json`` (method, recipe, examples, seed, base, teacher);
for a transformed model (``<base>+<transform>``) its base model's card and the transform; and for anything else the
result's own metadata (``source``, ``reference``; a hub id gets its model page).
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ..results.schema import Result
from .commands import portable_text

CARDS_FILE = Path(__file__).with_name("model_cards.toml")
# models/<recipe>/<method> (one-seed runs) or models/<recipe>/seed-<n>/<method> (train-reference --seed, experiment)
_STUDENT = re.compile(r"^(?:st:)?(?:\./)?models/([A-Za-z0-9._-]+(?:/seed-[0-9]+)?)/([A-Za-z0-9._-]+)/?$")
_URL = re.compile(r"https?://[^\s,;()]+[^\s,;().]")
_ARXIV = re.compile(r"arXiv[: ]?(\d{4}\.\d{4,5})", re.IGNORECASE)
_HUB_ID = re.compile(r"^(?:st:|mteb:)?([A-Za-z0-9][\w.-]*/[\w.-]+)$")


@dataclass
class Card:
    """One model's card, as the page shows it."""

    name: str
    description: str
    licence: str = "not recorded"
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, url)
    details: list[tuple[str, str]] = field(default_factory=list)  # (label, value)
    prerequisite: str = ""  # a command to run before `mlir-bench run` (training a student)
    untrained: bool = False  # nothing trained (BM25): zero-shot on every task

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "licence": self.licence, "links": self.links,
                "details": self.details, "prerequisite": self.prerequisite, "untrained": self.untrained}


@cache
def _cards_file() -> dict[str, Any]:
    return tomllib.loads(CARDS_FILE.read_text(encoding="utf-8"))


def student_of(name: str) -> tuple[str, str] | None:
    """``(folder, method)`` for a reference-trainer student name, else None: ``st:models/cpu-small/mimo`` gives
    ``("cpu-small", "mimo")``, ``st:models/cpu-small/seed-1/x-x`` gives ``("cpu-small/seed-1", "x-x")``; its training
    record is ``<results>/training/<folder>/<method>/``."""
    m = _STUDENT.match(name)
    return (m.group(1), m.group(2)) if m else None


def read_training_manifest(results_dir: Path, recipe: str, method: str) -> dict[str, Any] | None:
    p = results_dir / "training" / recipe / method / "training_manifest.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _any_manifest_of(results_dir: Path, recipe: str) -> dict[str, Any] | None:
    folder = results_dir / "training" / recipe
    for p in sorted(folder.glob("*/training_manifest.json")) if folder.is_dir() else []:
        m = read_training_manifest(results_dir, recipe, p.parent.name)
        if m:
            return m
    return None


def _links_from_metadata(name: str, reference: str) -> list[tuple[str, str]]:
    links: list[tuple[str, str]] = []
    for url in _URL.findall(reference or ""):
        label = "paper" if "arxiv.org" in url else "model page"
        links.append((label, url))
    for aid in _ARXIV.findall(reference or ""):
        url = f"https://arxiv.org/abs/{aid}"
        if all(u != url for _, u in links):
            links.append(("paper", url))
    hub = _HUB_ID.match(name)
    if hub and not student_of(name) and not any(label == "model page" for label, _ in links):
        links.insert(0, ("model page", f"https://huggingface.co/{hub.group(1)}"))
    return links


def _data_summary(data: dict[str, Any]) -> str:
    names = [label for key, label in (("tatoeba", "Tatoeba"), ("ntrex", "NTREX-128"), ("mkqa", "MKQA"))
             if data.get(key)]
    langs = data.get("languages") or []
    where = f" in {len(langs)} languages ({' '.join(langs)})" if langs else ""
    return (", ".join(names) or str(data.get("source", "—"))) + where


def _student_card(name: str, recipe: str, method: str, results_dir: Path, result: Result) -> Card:
    cfg = _cards_file()
    students = cfg.get("students", {})
    man = read_training_manifest(results_dir, recipe, method)
    meth = cfg.get("methods", {}).get(method, {})
    links = []
    if meth.get("paper"):
        links.append((f"method: {meth.get('paper_label', 'paper')}", meth["paper"]))
    if students.get("paper"):
        links.append(("base model paper", students["paper"]))
    if man is None:
        any_man = _any_manifest_of(results_dir, recipe)
        rc = ((any_man or {}).get("recipe") or {}).get("content") or {}
        student = (rc.get("student") or {}).get("model") or "the recipe's student"
        max_len = (rc.get("student") or {}).get("max_seq_length") or "as saved"
        if method == "base":
            desc = students.get("base_description", "{student}").format(recipe=recipe, student=student,
                                                                        max_len=max_len)
            details = [("recipe", f"{recipe}: {rc.get('description', '')}".rstrip(": ")), ("training", "none"),
                       ("student", str(student))]
            return Card(name, desc, students.get("base_licence", "not recorded"), links, details,
                        prerequisite="bash scripts/trainer_experiment.sh " + recipe + "  # links models/"
                                     f"{recipe}/base to the initialisation")
        desc = f"A reference-trainer student (recipe {recipe}, method {method}); its training manifest is not in " \
               f"{results_dir.name}/training/."
        return Card(name, desc, students.get("licence", "not recorded"), links,
                    [("source", portable_text(result.model.source))])
    rec = man.get("recipe") or {}
    rc = rec.get("content") or {}
    folder, recipe = recipe, str(rec.get("name") or recipe)  # models/<folder>/<method> was trained with <recipe>
    budget = man.get("budget") or {}
    student = man.get("student") or {}
    teacher = man.get("teacher") or {}
    training = man.get("training") or {}
    examples = budget.get("examples")
    ex = f"{examples:,}" if isinstance(examples, int) else "?"
    steps = f" ({budget.get('steps')} steps × {budget.get('batch_size')})" if budget.get("steps") else ""
    base = str(student.get("model") or "?")
    init = student.get("init_from")
    desc = (f"Reference-trainer student: {man.get('method_description') or method}. Recipe {recipe}, {ex} training "
            f"examples{steps}, seed {man.get('seed', '?')}, from {base}"
            + (f" via {portable_text(str(init))}" if init else "") + ".")
    details = [
        ("method", f"{method}: {man.get('method_description', '')}".rstrip(": ")),
        ("recipe", f"{recipe}: {rc.get('description', '')}".rstrip(": ")),
        ("examples", ex + steps),
        ("seed", str(man.get("seed", "?"))),
        ("base", base + (f", initialised from {portable_text(str(init))}" if init else "")),
        ("teacher", str(teacher.get("model", "none")) + (f" ({teacher['revision']})" if teacher.get("revision")
                                                         else "")),
        ("training data", _data_summary(rc.get("data") or {})),
    ]
    if isinstance(training.get("train_seconds"), int | float):
        details.append(("training time", f"{training['train_seconds']:.0f} s on the CPU"))
    if trainable := student.get("trainable_parameters"):
        details.append(("trainable parameters", f"{trainable:,}"))
    seed_opt = f" --seed {man['seed']}" if isinstance(man.get("seed"), int) else ""
    if method == "hybrid" and "method_definition" not in man:
        method = "hybrid-single-pair"  # trained before "hybrid" took one language pair per row (recipes.py)
    prereq = (f"mlir-bench train-reference --recipe {recipe} --method {method}{seed_opt}"
              f" --output-dir models/{folder}")
    if init and method != "kd-only":
        first = student_of(portable_text(str(init)))
        if first and first[1] != method:
            prereq = (f"mlir-bench train-reference --recipe {recipe} --method {first[1]}{seed_opt}"
                      f" --output-dir models/{folder} && {prereq}")
    return Card(name, desc, students.get("licence", "not recorded"), links, details, prerequisite=prereq)


def model_card(result: Result, results_dir: Path) -> Card:
    """The card of ``result``'s model (see the module docstring)."""
    name = result.model.name
    transform = result.transform
    if transform is not None:
        base = result.model_copy(update={"model": result.model.model_copy(update={"name": transform.base_model}),
                                         "transform": None})
        card = model_card(base, results_dir)
        how = "estimated on the evaluation pool itself (transductive)" if transform.transductive else \
            f"estimated on {transform.source}"
        desc = (f"{transform.base_model} with the post-hoc vector transform {transform.name} ({transform.method}"
                + (f", {transform.param}" if transform.param else "") + f"), {how}. Base model: {card.description}")
        return Card(name, desc, card.licence, card.links,
                    [("transform", transform.name), ("base model", transform.base_model),
                     ("transductive", "yes" if transform.transductive else "no")] + card.details,
                    card.prerequisite, card.untrained)
    student = student_of(name)
    if student:
        return _student_card(name, *student, results_dir, result)
    entry = _cards_file().get("models", {}).get(name)
    meta = result.model
    if entry:
        links = [(label, entry[key]) for key, label in (("model_page", "model page"), ("paper", "paper"))
                 if entry.get(key)]
        details = [("source", portable_text(meta.source))] if meta.source else []
        return Card(name, entry.get("description", ""), entry.get("licence", "not recorded"), links, details,
                    untrained=entry.get("training") == "none")
    imported = " (imported from mteb results)" if result.imported else ""
    source = portable_text(meta.source) if meta.source else ""
    desc = "; ".join(x for x in (source, portable_text(meta.reference)) if x) or "no description recorded"
    return Card(name, desc + imported, "not recorded", _links_from_metadata(name, meta.reference))
