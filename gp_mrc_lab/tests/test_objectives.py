"""The rejected variants' objective pieces (gp_mrc_lab/objectives.py): the soft-F1 reward and the auxiliary start/end
cross-entropy against hand-computed values, brute force and numerical gradients, in either span layout, and plugged
into the product's objective (its helpers: tests/test_losses.py, test_objective.py, test_band_layout.py)."""

import math

import pytest
import torch

from gp_mrc.band import band_span_mask
from gp_mrc.method import expected_f1_loss, multilabel_categorical_crossentropy, span_log_probs, valid_span_mask
from gp_mrc_lab.objectives import (
    START_END_TERMS,
    LabObjectiveConfig,
    keep_start_end_terms,
    lab_batch_loss,
    soft_f1_loss,
    start_end_cross_entropy,
)
from test_band_layout import dense_and_band_steps, models
from test_losses import random_case
from test_objective import fake_batch


def brute_soft_f1(s, f1, mask, tau):
    out = []
    for b in range(s.shape[0]):
        valid = [(i, j) for i in range(s.shape[1]) for j in range(s.shape[2]) if mask[b, i, j]]
        z = sum(math.exp(s[b][ij].item()) for ij in valid)
        support = [ij for ij in valid if f1[b][ij].item() > 0]
        zq = sum(math.exp(f1[b][ij].item() / tau) for ij in support)
        out.append(-sum(math.exp(f1[b][ij].item() / tau) / zq * (s[b][ij].item() - math.log(z)) for ij in support))
    return torch.tensor(out, dtype=torch.float64)


def test_soft_f1_hand_computed():
    # three valid spans with scores 0, 1, 2; rewards 1, 0.5, 0 (the last is outside q's support)
    s = torch.tensor([[[0.0, 1.0], [9.0, 2.0]]], dtype=torch.float64)
    mask = torch.tensor([[[True, True], [False, True]]])
    f1 = torch.tensor([[[1.0, 0.5], [1.0, 0.0]]], dtype=torch.float64)  # (1, 0) masked: ignored
    tau = 0.5
    log_z = math.log(1 + math.e + math.e**2)
    q1, q2 = math.exp(2) / (math.exp(2) + math.exp(1)), math.exp(1) / (math.exp(2) + math.exp(1))
    expected = -(q1 * (0.0 - log_z) + q2 * (1.0 - log_z))
    assert soft_f1_loss(s, f1, mask, tau).item() == pytest.approx(expected, rel=1e-9)


def test_soft_f1_matches_brute_force_and_numerical_gradient():
    s, _, mask, f1 = random_case(seed=3)
    f1 = torch.where(f1 > 0.5, f1, torch.zeros_like(f1))  # sparse rewards, as the pruned table
    assert torch.allclose(soft_f1_loss(s, f1, mask, 0.3), brute_soft_f1(s, f1, mask, 0.3), atol=1e-9)
    s = s.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: soft_f1_loss(x, f1, mask, 0.3).sum(), (s,))


def test_soft_f1_gradient_is_p_minus_q():
    s, _, mask, f1 = random_case(seed=4, B=1)
    s = s.clone().requires_grad_(True)
    soft_f1_loss(s, f1, mask, 0.3).sum().backward()
    p = span_log_probs(s.detach(), mask).exp() * mask
    q = torch.softmax(torch.where((f1 > 0) & mask, f1 / 0.3, torch.full_like(f1, -1e9)).flatten(1), 1).view_as(f1)
    assert torch.allclose(s.grad, (p - q * ((f1 > 0) & mask)), atol=1e-9)


def test_soft_f1_window_without_rewards_is_zero_and_bad_tau_rejected():
    s, _, mask, _ = random_case(seed=5, B=2)
    assert torch.equal(soft_f1_loss(s, torch.zeros_like(s), mask), torch.zeros(2, dtype=s.dtype))
    with pytest.raises(ValueError, match="tau"):
        soft_f1_loss(s, torch.zeros_like(s), mask, 0.0)


def test_start_end_cross_entropy_hand_computed_and_gradient():
    # 4 tokens; token 3 is not in the passage (cannot start or end a span); spans (0,0), (1,1), (1,2), (2,2)
    mask = torch.zeros(1, 4, 4, dtype=torch.bool)
    mask[0, 0, 0] = mask[0, 1, 1] = mask[0, 1, 2] = mask[0, 2, 2] = True
    start = torch.tensor([[0.0, 1.0, 2.0, 50.0]], dtype=torch.float64)
    end = torch.tensor([[1.0, 0.0, 3.0, 50.0]], dtype=torch.float64)
    got = start_end_cross_entropy(start, end, torch.tensor([1]), torch.tensor([2]), mask)
    ce_start = -(1.0 - math.log(1 + math.e + math.e**2))
    ce_end = -(3.0 - math.log(math.e + 1 + math.e**3))
    assert got.item() == pytest.approx((ce_start + ce_end) / 2, rel=1e-9)
    s = start.clone().requires_grad_(True)
    e = end.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda a, b: start_end_cross_entropy(a, b, torch.tensor([1]), torch.tensor([2]), mask).sum(), (s, e)
    )


def test_the_labs_pieces_plug_into_the_objectives_sum():
    """The lab's pieces (soft-F1 reward, auxiliary start/end CE) plug into the product's sum."""
    out, batch, logits, mask, terms = fake_batch()
    START_END_TERMS["terms"] = terms  # as the lab's hook keeps them (keep_start_end_terms)
    obj = LabObjectiveConfig(
        "mixed",
        warm_start_steps=10,
        warm_start_loss="multilabel",
        mixed_weight=0.5,
        reward="soft_f1",
        soft_f1_tau=0.3,
        reward_weight=2.0,
        reward_ramp_steps=4,
        aux_start_end_weight=0.25,
    )
    ml = multilabel_categorical_crossentropy(logits, batch["targets"], mask, log_n_offset=True).mean()
    soft = soft_f1_loss(logits, batch["f1"], mask, 0.3).mean()
    aux = start_end_cross_entropy(*terms, batch["start_positions"], batch["end_positions"], out.span_mask).mean()
    loss, stats = lab_batch_loss(obj, out, batch, step=5)  # warm start: the gold-span loss alone (+ aux)
    assert loss.item() == pytest.approx((ml + 0.25 * aux).item(), rel=1e-12)
    loss, stats = lab_batch_loss(obj, out, batch, step=11)  # second step of the ramp: reward weight 2 · 2/4
    assert loss.item() == pytest.approx((0.5 * ml + 1.0 * soft + 0.25 * aux).item(), rel=1e-12)
    ef = expected_f1_loss(logits, batch["f1"], mask, 0.01)
    assert stats["expected_f1"] == pytest.approx(ef.expected_f1.mean().item())
    assert set(stats) == {"multilabel", "expected_f1", "entropy", "aux_start_end"}


def test_banded_training_step_with_the_auxiliary_term_has_the_dense_losses_and_gradients():
    """The default recipe's losses (span-softmax CE + expected F1) and the lab's auxiliary start/end CE through the
    objective: the same values and parameter gradients from the band as from the dense matrix."""
    model = models()["gp_span_bias"].eval()  # eval: no dropout, so both passes see the same network
    keep_start_end_terms(model)  # the lab's hook: the auxiliary loss reads the span_bias terms
    objective = LabObjectiveConfig(
        "mixed",
        warm_start_steps=0,
        warm_start_loss="softmax",
        mixed_weight=1.0,
        reward_weight=1.0,
        reward_ramp_steps=0,
        aux_start_end_weight=0.5,
    )
    losses, grads = dense_and_band_steps(objective, lab_batch_loss, model)
    # fp32 (the scores are fp32 whatever the encoder's dtype): equal up to summation order
    assert losses[0][0] == pytest.approx(losses[1][0], rel=1e-6)
    assert losses[0][1] == pytest.approx(losses[1][1], rel=1e-6)
    assert grads[0].abs().max() > 1e-3  # a real gradient, not two zeros
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def test_start_end_cross_entropy_reads_either_layout():
    g = torch.Generator().manual_seed(0)
    passage = torch.rand(2, 12, generator=g) > 0.3
    passage[:, 4] = True
    dense = valid_span_mask(passage, 3)
    start, end = torch.randn(2, 12, generator=g), torch.randn(2, 12, generator=g)
    pos = torch.tensor([4, 4])
    expected = start_end_cross_entropy(start, end, pos, pos, dense)
    got = start_end_cross_entropy(start, end, pos, pos, band_span_mask(passage, 3))
    torch.testing.assert_close(got, expected)


def test_keep_optimizer_state_never_resets():
    """The lab's switch: AdamW's moments are kept at the switch where the product resets them."""
    assert [s for s in range(10) if LabObjectiveConfig("f1", 4).resets_optimizer(s)] == [4]
    kept = LabObjectiveConfig("f1", 4, keep_optimizer_state=True)
    assert not any(kept.resets_optimizer(s) for s in range(10))
