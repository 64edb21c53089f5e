"""The training loop: sentence-transformers' Trainer, plus what it lacks for these recipes.

What is added:

- rows are consumed in the planned batch order (:class:`.samplers.PlannedOrderBatchSampler`);
- the projection lives in the loss, which the Trainer does not checkpoint: :class:`ProjectionCheckpoint` saves it
  beside every checkpoint, and :func:`run_trainer` reloads it when resuming;
- an optional higher learning rate for the freshly initialised projection (``projection_learning_rate``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from transformers import TrainerCallback

from .losses import MIMOJointLoss, distill_loss, infonce_loss
from .recipes import Method, TrainSettings
from .samplers import PlannedOrderBatchSampler

PROJECTION_FILE = "projection.safetensors"


@dataclass
class TrainResult:
    steps: int
    train_seconds: float
    log_history: list[dict]
    resumed_from: str | None


def build_loss(method: Method, model, settings: TrainSettings, teacher_dim: int | None, *, projection: bool = True):
    """The loss module for ``method`` (see :mod:`.losses`); ``projection=False`` for a self teacher."""
    if method.objective == "distill":
        assert teacher_dim is not None
        return distill_loss(model, teacher_dim, projection=projection)
    if method.objective == "joint":
        assert teacher_dim is not None
        return MIMOJointLoss(
            model, teacher_dim, xlco_weight=settings.xlco_weight, distill_weight=settings.distill_weight,
            scale=settings.scale, mini_batch_size=settings.mini_batch_size, projection=projection,
        )
    return infonce_loss(model, scale=settings.scale, mini_batch_size=settings.mini_batch_size)


def projection_of(loss):
    """The loss's projection holder (an ``EmbedDistillLoss``), or None for losses without one."""
    if isinstance(loss, MIMOJointLoss):
        return loss.distill if loss.distill.projection is not None else None
    return loss if getattr(loss, "projection", None) is not None else None


class ProjectionCheckpoint(TrainerCallback):
    """Save the loss's projection into every Trainer checkpoint folder."""

    def __init__(self, holder) -> None:
        self.holder = holder

    def on_save(self, args, state, control, **kwargs):
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.is_dir():
            self.holder.save_projection(folder / PROJECTION_FILE)
        return control


def last_checkpoint(folder: Path) -> Path | None:
    from transformers.trainer_utils import get_last_checkpoint

    if not folder.is_dir():
        return None
    found = get_last_checkpoint(str(folder))
    return Path(found) if found else None


def run_trainer(
    model,
    loss,
    dataset,
    settings: TrainSettings,
    n_batches: int,
    checkpoint_dir: Path,
    *,
    seed: int,
    resume: bool,
    progress: bool,
) -> TrainResult:
    """Train ``model`` on ``dataset`` (rows in batch order) for ``n_batches`` steps; resumable."""
    import torch
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    mapping = {}
    holder = projection_of(loss)
    if holder is not None and settings.projection_learning_rate:
        prefix = "distill.projection" if isinstance(loss, MIMOJointLoss) else "projection"
        mapping = {rf"^{prefix}\.": settings.projection_learning_rate}
    use_cpu = not torch.cuda.is_available()
    args = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoint_dir),
        per_device_train_batch_size=settings.batch_size,
        max_steps=n_batches,
        learning_rate=settings.learning_rate,
        warmup_steps=float(settings.warmup_ratio),
        weight_decay=settings.weight_decay,
        max_grad_norm=settings.max_grad_norm,
        lr_scheduler_type="linear",
        bf16=settings.bf16,
        use_cpu=use_cpu,
        seed=seed,
        data_seed=seed,
        logging_steps=settings.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=settings.save_steps,
        save_total_limit=1,
        report_to="none",
        disable_tqdm=not progress,
        dataloader_drop_last=False,
        batch_sampler=PlannedOrderBatchSampler,
        learning_rate_mapping=mapping,
    )
    callbacks = [ProjectionCheckpoint(holder)] if holder is not None else []
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=dataset, loss=loss, callbacks=callbacks
    )
    resume_from = last_checkpoint(checkpoint_dir) if resume else None
    if resume_from is not None and holder is not None and (resume_from / PROJECTION_FILE).exists():
        holder.load_projection(resume_from / PROJECTION_FILE)
    start = time.perf_counter()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    output = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    seconds = time.perf_counter() - start
    return TrainResult(output.global_step, seconds, list(trainer.state.log_history),
                       str(resume_from) if resume_from else None)
