"""The objective combines the tested losses with the schedule's weights: checked against the sum done by hand."""

import pytest
import torch

from gp_mrc.method import expected_f1_loss, multilabel_categorical_crossentropy
from gp_mrc.band import band_span_mask
from gp_mrc.models.modeling import SpanOutput
from gp_mrc.training.losses import batch_loss
from gp_mrc.training.objective import ObjectiveConfig, steps_of


def fake_batch(seed=0, B=2, n=12, width=4):
    g = torch.Generator().manual_seed(seed)
    passage = torch.ones(B, n, dtype=torch.bool)
    passage[:, :3] = False
    band_mask = band_span_mask(passage, width)  # the model's output in training: the band
    out = SpanOutput(logits=torch.randn(B, n, width, generator=g, dtype=torch.float64), span_mask=band_mask)
    # a span_bias head's start and end terms of this forward pass (the lab's auxiliary loss reads them)
    terms = (torch.randn(B, n, generator=g, dtype=torch.float64), torch.randn(B, n, generator=g, dtype=torch.float64))
    band_logits = out.logits
    targets = torch.zeros_like(band_mask)
    targets[:, 5, 1] = True  # span (5, 6)
    f1 = torch.zeros(band_logits.shape, dtype=torch.float64)
    f1[:, 5, 1], f1[:, 5, 0], f1[:, 4, 2] = 1.0, 0.67, 0.5
    batch = {
        "targets": targets,
        "f1": f1,
        "start_positions": torch.tensor([5, 5]),
        "end_positions": torch.tensor([6, 6]),
    }
    return out, batch, band_logits, band_mask, terms


def test_mixed_objective_is_the_weighted_sum_of_its_losses():
    """The default's shape: the gold-span loss alone during the warm start, then its weight and the ramped
    reward's (the lab's pieces plug into the same sum: gp_mrc_lab/tests/test_objectives.py)."""
    out, batch, logits, mask, _ = fake_batch()
    obj = ObjectiveConfig(
        "mixed",
        warm_start_steps=10,
        warm_start_loss="multilabel",
        mixed_weight=0.5,
        reward_weight=2.0,
        reward_ramp_steps=4,
    )
    ml = multilabel_categorical_crossentropy(logits, batch["targets"], mask, log_n_offset=True).mean()
    ef = expected_f1_loss(logits, batch["f1"], mask, 0.01)
    loss, stats = batch_loss(obj, out, batch, step=5)  # warm start: the gold-span loss alone
    assert loss.item() == pytest.approx(ml.item(), rel=1e-12)
    loss, stats = batch_loss(obj, out, batch, step=11)  # second step of the ramp: reward weight 2 · 2/4
    assert loss.item() == pytest.approx((0.5 * ml + 1.0 * ef.loss.mean()).item(), rel=1e-12)
    assert stats["expected_f1"] == pytest.approx(ef.expected_f1.mean().item())
    assert set(stats) == {"multilabel", "expected_f1", "entropy"}


def test_f1_objective_drops_the_gold_loss_and_softmax_warm_start():
    out, batch, logits, mask, _ = fake_batch(seed=1)
    obj = ObjectiveConfig("f1", warm_start_steps=3, warm_start_loss="softmax", entropy_lambda=0.1)
    from gp_mrc.method import span_cross_entropy

    assert batch_loss(obj, out, batch, 2)[0].item() == pytest.approx(
        span_cross_entropy(logits, batch["targets"], mask).mean().item()
    )
    assert batch_loss(obj, out, batch, 3)[0].item() == pytest.approx(
        expected_f1_loss(logits, batch["f1"], mask, 0.1).loss.mean().item()
    )
    assert steps_of(0.5, 285) == 142 and steps_of(142, 285) == 142


def test_adam_moments_reset_only_where_the_gold_loss_drops():
    assert [s for s in range(10) if ObjectiveConfig("f1", 4).resets_optimizer(s)] == [4]
    assert [s for s in range(10) if ObjectiveConfig("mixed", 4, mixed_weight=0.1).resets_optimizer(s)] == [4]
    assert not any(
        ObjectiveConfig("mixed", 4, mixed_weight=1.0, reward_ramp_steps=3).resets_optimizer(s) for s in range(10)
    )


def test_objective_defaults_are_the_command_line_recipe():
    """One set of defaults: ObjectiveConfig() is train.py's default recipe; resolved, its fractions become steps."""
    from gp_mrc.training.arguments import parse_args

    from_cli = parse_args([]).objective
    assert from_cli == ObjectiveConfig()
    resolved = from_cli.resolved(total_steps=100)
    assert (resolved.warm_start_steps, resolved.reward_ramp_steps) == (50, 25)  # the fractions 0.5 and 0.25 of 100
    assert resolved.resolved(total_steps=100) == resolved  # steps stay steps
    assert ObjectiveConfig("multilabel").resolved(100).warm_start_steps == 0  # no reward to bring in
