"""Training objectives. Each is a sentence-transformers loss; only MIMO's joint stage-2 loss is new here.

Notation: s(x) is the student's sentence embedding, t(x) the frozen teacher's (cached, passed as labels),
P(v) = W·v + b the Linear projection from the student to the teacher dimension (used only in training), and
cos the cosine similarity.

- **Distill** (MIMO stage 1, KD-only): sentence-transformers' ``EmbedDistillLoss`` with ``distance_metric=
  "cosine"`` and ``projection_dim`` = teacher dim:
  L_KD = mean_i [1 − cos(P(s(x_i^X)), t(x_i^en))].
- **InfoNCE** (X-X, X-X-mono, X-Y, hybrid): sentence-transformers' ``MultipleNegativesRankingLoss`` (or, with gradient
  caching, ``CachedMultipleNegativesRankingLoss``), query → passage with in-batch negatives:
  L_NCE = −mean_i log softmax_j(scale · cos(s(q_i), s(p_j)))_i, scale 20 (temperature 0.05).
- **MIMO stage 2** (:class:`MIMOJointLoss`): L = w_xlco · L_NCE(q^X, p^Y) + w_distill · L_Distill with
  L_Distill = ½[mean_i(1 − cos(P(s(q_i)), t(q_i^en))) + mean_i(1 − cos(P(s(p_i)), t(p_i^en)))], weights 0.2/0.8.
  The batch's language pairs make L_NCE cross-lingual (the sampler guarantees X ≠ Y).
- **Self teacher** (``[teacher] model = "self"``): t is a frozen copy of the initial student, so the dimensions
  match and there is no projection (P is the identity): L_KD = mean_i [1 − cos(s(x_i^X), s_0(x_i^en))].
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.losses.gradcache import CachedLossMixin
from sentence_transformers.base.losses.merged_forward import embed_columns
from sentence_transformers.sentence_transformer.losses import (
    CachedMultipleNegativesRankingLoss,
    EmbedDistillLoss,
    MultipleNegativesRankingLoss,
)
from torch import Tensor, nn

SCALE = 20.0


def distill_loss(model: SentenceTransformer, teacher_dim: int, *, projection: bool = True) -> EmbedDistillLoss:
    """MIMO stage 1: cosine distance between the (projected) student and the teacher's English vector."""
    return EmbedDistillLoss(model, distance_metric="cosine", projection_dim=teacher_dim if projection else None)


def infonce_loss(model: SentenceTransformer, *, scale: float = SCALE, mini_batch_size: int = 0) -> nn.Module:
    """In-batch InfoNCE, query → passage; GradCache'd when ``mini_batch_size`` > 0."""
    if mini_batch_size > 0:
        return CachedMultipleNegativesRankingLoss(model, scale=scale, mini_batch_size=mini_batch_size)
    return MultipleNegativesRankingLoss(model, scale=scale)


class MIMOJointLoss(CachedLossMixin, nn.Module):
    """MIMO stage 2: ``xlco_weight`` · InfoNCE(query, passage) + ``distill_weight`` · L_Distill (see module doc).

    Inputs: a query column and a passage column; labels of shape (batch, 2, teacher_dim) holding the teacher's
    vectors of the English query and the English passage. The InfoNCE and distillation terms reuse
    sentence-transformers' ``MultipleNegativesRankingLoss`` and ``EmbedDistillLoss`` (whose ``projection`` is
    the trained projection, saved and loaded with ``save_projection`` / ``load_projection``; none with
    ``projection=False``, for a self teacher).

    With ``mini_batch_size`` > 0 the loss is GradCache'd (sentence-transformers' ``CachedLossMixin``): the
    embeddings of the whole batch are computed without gradients, the loss is back-propagated to them, and the
    cached gradients are replayed mini-batch by mini-batch. Without it, the two terms are returned as a dict,
    which the Trainer sums and logs separately.
    """

    def __init__(
        self,
        model: SentenceTransformer,
        teacher_dim: int,
        *,
        xlco_weight: float = 0.2,
        distill_weight: float = 0.8,
        scale: float = SCALE,
        mini_batch_size: int = 0,
        projection: bool = True,
    ) -> None:
        super().__init__()
        self.model = model
        self.xlco = MultipleNegativesRankingLoss(model, scale=scale)
        self.distill = EmbedDistillLoss(model, distance_metric="cosine",
                                        projection_dim=teacher_dim if projection else None)
        self.xlco_weight = xlco_weight
        self.distill_weight = distill_weight
        self.mini_batch_size = mini_batch_size
        self.uses_gradient_cache = mini_batch_size > 0

    @property
    def projection(self) -> nn.Linear | None:
        return self.distill.projection

    def terms(
        self, query: Tensor, passage: Tensor, labels: Tensor, negative: Tensor | None = None
    ) -> dict[str, Tensor]:
        """The weighted loss terms from already computed embeddings.

        ``negative`` (a third column: one more passage per row, e.g. in the query's language) joins the InfoNCE
        candidates only; the distillation term covers the query and the positive passage.
        """
        if labels is None or labels.dim() != 3 or labels.size(1) != 2:
            shape = None if labels is None else tuple(labels.shape)
            raise ValueError(f"MIMOJointLoss needs labels of shape (batch, 2, teacher_dim), got {shape}")
        labels = labels.detach()
        columns = [query, passage] if negative is None else [query, passage, negative]
        xlco = self.xlco.compute_loss_from_embeddings(columns, labels)
        distill = self.distill.compute_loss_from_embeddings([query, passage], [labels[:, 0], labels[:, 1]])
        return {"xlco": self.xlco_weight * xlco, "distill": self.distill_weight * distill}

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> dict[str, Tensor] | Tensor:
        sentence_features = list(sentence_features)
        if len(sentence_features) not in (2, 3):
            raise ValueError("MIMOJointLoss expects (query, passage) or (query, passage, negative) columns, got "
                             f"{len(sentence_features)}")
        if self.mini_batch_size > 0:
            return self.forward_cached(sentence_features, labels)
        query, passage, negative = _columns(embed_columns(self.model, sentence_features))
        return self.terms(query, passage, labels, negative)

    def calculate_loss(self, reps: list[list[Tensor]], labels: Tensor | None = None, *, with_backward: bool = False):
        """GradCache step 2: the full-batch loss from the mini-batch embeddings (see ``CachedLossMixin``)."""
        query, passage, negative = _columns([torch.cat(r) for r in reps])
        assert labels is not None
        loss = torch.stack(list(self.terms(query, passage, labels, negative).values())).sum()
        if with_backward:
            loss.backward()
            loss = loss.detach()
        return loss

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "xlco_weight": self.xlco_weight,
            "distill_weight": self.distill_weight,
            "scale": self.xlco.scale,
            "projection_dim": self.distill.projection_dim,
            "mini_batch_size": self.mini_batch_size,
        }


def _columns(embeddings) -> tuple[Tensor, Tensor, Tensor | None]:
    """(query, passage, negative or None) from the embedded columns."""
    embeddings = list(embeddings)
    return embeddings[0], embeddings[1], embeddings[2] if len(embeddings) > 2 else None
