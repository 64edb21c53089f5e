"""Public entry points of the reference trainer (the CLI's ``train-reference`` calls these).

``train_reference`` trains one method of one recipe into ``output_dir``:

- ``output_dir`` becomes a sentence-transformers checkpoint: ``SentenceTransformer(output_dir)`` loads it and
  returns L2-normalised vectors; its ``prompts`` hold the student's "query" / "document" prompts;
- the training projection is kept aside in ``projection.safetensors`` (not a module of the model);
- ``training_manifest.json`` records the recipe, data sha256s, steps, wall time, examples/s and the loss, and
  ``loss_curve.png`` plots it;
- Trainer checkpoints go to ``output_dir/checkpoints`` while training (resumed from if present) and are removed
  once the run completes.

``mimo`` (stage 2) starts from a stage-1 checkpoint: ``init_from`` if given, else the sibling folder
``output_dir.parent / "kd-only"``, which is trained first if it is not complete.

**Seeds and folders.** One seed's methods share a parent folder, ``models/<recipe>/seed-<n>/<method>``
(:func:`run_folder`; the CLI's default), so that ``mimo`` finds the ``kd-only`` of its own seed beside it. The seed
is recorded in the manifest and in the checkpoints' marker; a folder holding a completed run of another seed is
refused (``resume=False`` overwrites it).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import warnings
from pathlib import Path

from ..errors import UserError
from .manifest import LOSS_CURVE_FILE, MANIFEST_FILE, loss_points, plot_loss_curve, write_manifest
from .recipes import METHODS, REDEFINED_METHODS, Recipe, load_recipe, resolve_method
from .recipes import list_recipes as _list_recipes

STAGE1_METHOD = "kd-only"
MODELS_ROOT = Path("models")


def run_folder(recipe_name: str, method: str, seed: int, root: Path = MODELS_ROOT) -> Path:
    """The conventional output folder of one run: ``<root>/<recipe>/seed-<seed>/<method>``."""
    return Path(root) / recipe_name / f"seed-{seed}" / method


def list_recipes() -> list[str]:
    """Names of the shipped recipes (``cpu-small``, ``paper``, ``smoke``)."""
    return _list_recipes()


def list_methods() -> list[str]:
    """Names of the training methods, in training order (``kd-only`` before ``mimo``)."""
    return list(METHODS)



def _read_manifest(folder: Path) -> dict | None:
    path = folder / MANIFEST_FILE
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _is_complete(folder: Path, recipe: Recipe, method: str, seed: int) -> bool:
    manifest = _read_manifest(folder)
    if manifest is None:
        return False
    definition = manifest.get("method_definition")
    if definition is None:  # written before manifests recorded it: only methods defined as they are now
        same_definition = method not in REDEFINED_METHODS
    else:
        same_definition = definition == METHODS[method].definition()
    return (
        manifest.get("status") == "complete"
        and manifest.get("recipe", {}).get("sha256") == recipe.sha256
        and manifest.get("method") == method
        and manifest.get("seed") == seed
        and same_definition
    )


def _refuse_other_seed(folder: Path, seed: int) -> None:
    """A completed run of another seed is not overwritten by accident (seeds go to their own folders)."""
    manifest = _read_manifest(folder)
    if manifest and manifest.get("status") == "complete" and manifest.get("seed") not in (None, seed):
        raise UserError(f"{folder}: holds a completed run with seed {manifest.get('seed')}, not seed {seed}; "
                        f"train each seed into its own folder (models/<recipe>/seed-{seed}/<method>, the default "
                        "of train-reference), or resume=False (--no-resume) to overwrite it")


def _claim_checkpoints(checkpoint_dir: Path, run: dict) -> None:
    """Mark ``checkpoint_dir`` as this run's; refuse to resume another run's checkpoints."""
    marker = checkpoint_dir / "run.json"
    if marker.exists():
        try:
            previous = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            previous = None
        if previous != run:
            raise UserError(f"{checkpoint_dir}: holds checkpoints of another run (found {previous}, expected {run}); "
                            "resume=False (or --no-resume) starts afresh")
        return
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(run, sort_keys=True), encoding="utf-8")


class TrainingSpeedWarning(UserWarning):
    """The recipe asks for something this machine does slowly (bf16 autocast on a CPU without native bf16)."""


def _preflight(recipe: Recipe) -> None:
    """Fail in one line, before any work, when the recipe needs what this machine lacks."""
    needs_hub = recipe.data.source == "hub" or "hub" in recipe.requires
    if needs_hub and os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise UserError(
            f"recipe {recipe.name!r} downloads its models and data from the Hugging Face hub "
            f"({recipe.student.model}, {recipe.teacher.model}, OPUS parallel-sentences, mMARCO), but "
            "HF_HUB_OFFLINE=1 is set; run it on a machine with network access (unset HF_HUB_OFFLINE)"
        )
    if "gpu" in recipe.requires:
        import torch

        if not torch.cuda.is_available():
            raise UserError(f"recipe {recipe.name!r} needs a CUDA GPU (bf16, {recipe.teacher.model} teacher); "
                            "none is available here; use the 'cpu-small' recipe on CPU")


def train_reference(
    recipe: str | Path,
    method: str,
    output_dir: Path,
    *,
    data_dir: Path,
    seed: int = 0,
    resume: bool = True,
    progress: bool = True,
    init_from: Path | None = None,
    cache_dir: Path | None = None,
    keep_checkpoints: bool = False,
) -> Path:
    """Train ``method`` of ``recipe`` into ``output_dir`` and return ``output_dir`` (see the module docstring).

    ``recipe`` is a shipped recipe name or a path to a recipe .toml. ``seed`` drives every random choice
    (language plans, item order, projection initialisation, dropout). With ``resume``, a completed run with the
    same recipe, method and seed is returned as is, and an interrupted one continues from its last checkpoint.
    ``cache_dir`` holds teacher vectors and rebuilt offline students (default ``$MLIR_BENCH_CACHE`` or
    ``~/.cache/mlir-bench``).
    """
    from transformers import set_seed

    from .loop import PROJECTION_FILE, build_loss, projection_of, run_trainer
    from .pipeline import build_training_data, derive_seed, load_offline_corpus
    from .students import load_student, trainable_parameters
    from .teacher import TeacherCache

    started = time.perf_counter()
    parsed = load_recipe(recipe)
    m = resolve_method(method)
    _preflight(parsed)
    output_dir = Path(output_dir)
    data_dir = Path(data_dir)
    if resume and _is_complete(output_dir, parsed, m.name, seed):
        return output_dir
    if resume:
        _refuse_other_seed(output_dir, seed)
    checkpoint_dir = output_dir / "checkpoints"
    if not resume and checkpoint_dir.exists():
        shutil.rmtree(checkpoint_dir)

    stage1: Path | None = None
    if m.init == "stage1":
        stage1 = Path(init_from) if init_from else output_dir.parent / STAGE1_METHOD
        if not init_from and not _is_complete(stage1, parsed, STAGE1_METHOD, seed):
            train_reference(parsed.path, STAGE1_METHOD, stage1, data_dir=data_dir, seed=seed, resume=resume,
                            progress=progress, cache_dir=cache_dir, keep_checkpoints=keep_checkpoints)
        needed = ["modules.json"] + ([] if parsed.self_teacher else [PROJECTION_FILE])
        if not all((stage1 / name).exists() for name in needed):
            raise UserError(f"{stage1}: not a stage-1 checkpoint (expected {' and '.join(needed)})")
    elif init_from:
        stage1 = Path(init_from)

    if parsed.data.source == "hub":
        from .hub_data import load_hub_corpus

        corpus = load_hub_corpus(parsed, seed)
    else:
        corpus = load_offline_corpus(parsed, data_dir, seed)
    teacher = None
    if m.objective in ("distill", "joint"):
        teacher = TeacherCache(parsed.teacher_for(m.name), cache_dir, student=parsed.student)
    data = build_training_data(parsed, m, corpus, seed, teacher, progress=progress)
    settings = parsed.settings(m.name)
    if settings.bf16:
        import torch

        from ..dtypes import cpu_bf16_warning

        if not torch.cuda.is_available() and (note := cpu_bf16_warning()):
            warnings.warn(TrainingSpeedWarning(f"recipe {parsed.name!r} trains with bf16 = true: {note} "
                                               "(a recipe that extends it with [train] bf16 = false)"), stacklevel=2)

    set_seed(derive_seed(seed, "model"))
    model = load_student(parsed.student_for(m.name), init_from=stage1, cache_root=cache_dir)
    if parsed.self_teacher and data.teacher_dim is not None and data.teacher_dim != model.get_embedding_dimension():
        raise UserError(f"recipe {parsed.name!r}: the self teacher's vectors have {data.teacher_dim} dimensions, the "
                        f"student's {model.get_embedding_dimension()}")
    loss = build_loss(m, model, settings, data.teacher_dim, projection=not parsed.self_teacher)
    holder = projection_of(loss)
    if m.init == "stage1" and holder is not None and stage1 is not None:
        holder.load_projection(stage1 / PROJECTION_FILE)

    _claim_checkpoints(checkpoint_dir, {"recipe_sha256": parsed.sha256, "method": m.name, "seed": seed,
                                        "steps": data.n_batches, "batch_size": data.batch_size,
                                        "method_definition": m.definition()})
    result = run_trainer(model, loss, data.dataset, settings, data.n_batches, checkpoint_dir,
                         seed=derive_seed(seed, "trainer") % (2**31), resume=resume, progress=progress)

    model.max_seq_length = getattr(model, "mlir_bench_saved_max_seq_length", model.max_seq_length)
    model.save(str(output_dir))
    if holder is not None:
        holder.save_projection(output_dir / PROJECTION_FILE)
    points = loss_points(result.log_history)
    curve = plot_loss_curve(points, output_dir / LOSS_CURVE_FILE, f"{parsed.name} / {m.name} (seed {seed})")
    resumed_step = int(result.resumed_from.rsplit("-", 1)[-1]) if result.resumed_from else 0
    trained_examples = (result.steps - resumed_step) * data.batch_size
    teacher_info = None
    if teacher is not None:
        teacher_info = {**teacher.key_fields("query"), "cache_keys": {r: teacher.key(r) for r in ("query", "document")},
                        "dim": data.teacher_dim}
        teacher_info.pop("role")
        teacher_info.pop("prompt")
        teacher_info["prompts"] = {"query": teacher.spec.query_prompt, "document": teacher.spec.document_prompt}
        teacher_info["self"] = parsed.self_teacher  # a frozen copy of the initial student (revision = its identity)
    write_manifest(output_dir, {
        "status": "complete",
        "recipe": {"name": parsed.name, "file": str(parsed.path), "sha256": parsed.sha256, "content": parsed.raw},
        "method": m.name,
        "method_description": m.description,
        "method_definition": m.definition(),
        "seed": seed,
        "student": {"model": parsed.student.model, "init_from": str(stage1) if stage1 else None,
                    "max_seq_length": parsed.student_for(m.name).max_seq_length,
                    "saved_max_seq_length": model.max_seq_length,
                    "prompts": {"query": parsed.student.query_prompt, "document": parsed.student.document_prompt},
                    "freeze_embeddings": parsed.student.freeze_embeddings,
                    "trainable_parameters": trainable_parameters(model)},
        "teacher": teacher_info,
        "projection": PROJECTION_FILE if holder is not None else None,
        "data": {"root": str(data_dir) if parsed.data.source == "offline" else "huggingface-hub",
                 "files_sha256": corpus.files, "counts": corpus.counts, "notes": corpus.notes,
                 "languages": list(parsed.data.languages), "language_mix": data.language_mix,
                 "role_mix": data.role_mix},
        "budget": {"steps": data.n_batches, "batch_size": data.batch_size,
                   "examples": data.n_batches * data.batch_size},
        "training": {
            "steps_done": result.steps, "resumed_from": result.resumed_from,
            "train_seconds": round(result.train_seconds, 1),
            "wall_seconds": round(time.perf_counter() - started, 1),
            "examples_per_second": round(trained_examples / result.train_seconds, 2) if result.train_seconds else None,
            "settings": {k: v for k, v in vars(settings).items()},
            "final_loss": points[-1]["loss"] if points else None,
            "loss_curve": LOSS_CURVE_FILE if curve else None,
            "losses": points,
        },
    })
    if not keep_checkpoints and checkpoint_dir.exists():
        shutil.rmtree(checkpoint_dir)
    return output_dir
