"""Training reads spans in the band layout (B, n, w), [b, i, l] = span (i, i + l), built directly by the models
(`banded=True`), and so does decoding (its top spans); evaluation by hand reads the dense (B, n, n) matrix. The two must hold the same spans, the same scores,
and give the same losses and gradients."""

import pytest
import torch
from transformers import BertForQuestionAnswering

from conftest import make_tiny_config
from gp_mrc.models.baseline import StartEndForQuestionAnswering
from band_reference import to_band
from gp_mrc.band import band_of, band_span_mask, band_windows
from gp_mrc.inference.window_topk import WindowTopK, topk_spans
from gp_mrc.method import MASK_VALUE, valid_span_mask
from gp_mrc.models.modeling import GlobalPointerForQuestionAnswering, HeadConfig
from gp_mrc.training.losses import batch_loss
from gp_mrc.training.objective import ObjectiveConfig


def test_band_of_and_band_windows_by_hand():
    s = torch.arange(16.0).view(1, 4, 4)  # s[0, i, j] = 4i + j
    assert band_of(s, 2).tolist() == [[[0, 1], [5, 6], [10, 11], [15, 0]]]  # (i, i), (i, i+1); 0 past the end
    assert band_windows(torch.tensor([[1, 2, 3]]), 2).tolist() == [[[1, 2], [2, 3], [3, 0]]]
    assert band_windows(torch.tensor([[True, False, True]]), 2).tolist() == [
        [[True, False], [False, True], [True, False]]
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_banded_mask_is_the_band_of_the_dense_mask(seed):
    g = torch.Generator().manual_seed(seed)
    passage = torch.rand(3, 11, generator=g) > 0.3
    dense = valid_span_mask(passage, 4)
    (band_mask,) = to_band(4, dense)
    assert torch.equal(band_span_mask(passage, 4), band_mask)
    with pytest.raises(ValueError, match="no band layout"):
        band_span_mask(passage, 11)  # as wide as the window: only the dense layout


def batch_of(B=3, n=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    passage = torch.zeros(B, n, dtype=torch.bool)
    passage[:, 6:] = True
    attention = torch.ones(B, n, dtype=torch.long)
    attention[1, 15:] = 0  # a padded window: its last tokens are neither passage nor attended
    return {
        "input_ids": torch.randint(5, 60, (B, n), generator=g),
        "attention_mask": attention,
        "passage_mask": passage,
        "token_type_ids": (passage | (attention == 0)).long(),
    }


def models():
    torch.manual_seed(0)
    config = make_tiny_config(64)
    gp = GlobalPointerForQuestionAnswering.from_encoder_config(config, HeadConfig(head_size=8, span_bias=True))
    with torch.no_grad():  # k starts at zero with span_bias: give the bilinear term a value to check
        gp.head.dense.weight.normal_(0, 0.3)
    plain = GlobalPointerForQuestionAnswering.from_encoder_config(config, HeadConfig(head_size=8))
    se = StartEndForQuestionAnswering(BertForQuestionAnswering(config))
    return {"gp_span_bias": gp, "gp": plain, "start_end": se}


@pytest.mark.parametrize("name", ["gp_span_bias", "gp", "start_end"])
def test_banded_output_equals_the_band_of_the_dense_output(name):
    model = models()[name].eval()
    batch = batch_of()
    for bf16 in (False, True):  # the same values, bit for bit, under bf16 autocast too
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            dense = model(**batch, max_answer_length=5)
            band = model(**batch, max_answer_length=5, banded=True)
        mask, logits = to_band(5, dense.span_mask, dense.logits)
        assert band.logits.shape == (3, 20, 5) and band.logits.dtype == torch.float32
        assert torch.equal(band.span_mask, mask)
        assert torch.equal(band.logits[mask], logits[mask])
    assert (band.logits[~mask] == MASK_VALUE).all()  # masked spans (and those past the window's end)
    # a window no wider than the band: dense either way
    short = {k: v[:, :4] for k, v in batch.items()}
    with torch.no_grad():
        assert model(**short, max_answer_length=5, banded=True).logits.shape == (3, 4, 4)


@pytest.mark.parametrize("name", ["gp_span_bias", "gp", "start_end"])
def test_top_spans_of_the_band_are_those_of_the_dense_matrix(name):
    """Decoding reads the band too (predict.score_batch): every valid span is in it, so the same top spans with the
    same log-probabilities (the softmax's sum over the same spans, in another order), k beyond the valid spans
    included (-inf there)."""
    model = models()[name].eval()
    with torch.no_grad():
        dense, band = (model(**batch_of(), max_answer_length=5, banded=b) for b in (False, True))
    for k in (5, 200):
        d, b = (
            topk_spans(o.logits, o.span_mask, k, o.raw_scores, o.start_log_probs, o.end_log_probs)
            for o in (dense, band)
        )
        assert b.log_probs.shape[1] == min(k, 20 * 5)  # no more entries than the band holds: the rest are -inf
        assert (d.log_probs[:, b.log_probs.shape[1] :] == float("-inf")).all()
        d = WindowTopK(*(t if t is None or t.dim() == 1 else t[:, : b.log_probs.shape[1]] for t in vars(d).values()))
        finite = d.log_probs > float("-inf")
        assert torch.equal(finite, b.log_probs > float("-inf")) and (~finite).any() == (k == 200)
        assert torch.allclose(b.log_probs[finite], d.log_probs[finite], atol=1e-5)
        assert torch.equal(b.starts[finite], d.starts[finite]) and torch.equal(b.ends[finite], d.ends[finite])
        assert torch.allclose(b.null_log_prob, d.null_log_prob, atol=1e-5)
        if d.report_log_probs is not None:
            assert torch.allclose(b.report_log_probs[finite], d.report_log_probs[finite], atol=1e-5)
        assert int(b.ends.max()) < 20  # past the window only where no span is: cut back inside it


def dense_and_band_steps(objective, loss_fn, model=None) -> tuple[list, list]:
    """([(loss, stats)], [flattened gradient]) of one training step of the span_bias GlobalPointer on a fixed batch
    (gold span (8, 10), graded rewards), first from the dense matrix cut to the band, then from the band itself."""
    model = model if model is not None else models()["gp_span_bias"].eval()  # eval: no dropout in either pass
    batch = batch_of()
    B, n, w = 3, 20, 5
    targets = torch.zeros(B, n, w, dtype=torch.bool)
    targets[:, 8, 2] = True  # span (8, 10)
    f1 = torch.zeros(B, n, w)
    f1[:, 8, 2], f1[:, 8, 1], f1[:, 9, 0] = 1.0, 0.8, 0.5
    batch.update(targets=targets, f1=f1, start_positions=torch.tensor([8, 8, 8]), end_positions=torch.tensor([10] * 3))
    losses, grads = [], []
    for banded in (False, True):
        model.zero_grad()
        out = model(**batch, max_answer_length=w, banded=banded)
        if not banded:  # the dense matrix cut to the band the targets are in (the objective takes the band)
            out.span_mask, out.logits = to_band(w, out.span_mask, out.logits)
        loss, stats = loss_fn(objective, out, batch, step=3)
        loss.backward()
        losses.append((loss.item(), stats))
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    return losses, grads


def test_banded_training_step_has_the_dense_losses_and_gradients():
    """The default recipe's losses (span-softmax CE + expected F1) through the objective: the same values and
    parameter gradients from the band as from the dense matrix (with the lab's auxiliary start/end CE:
    gp_mrc_lab/tests/test_objectives.py)."""
    objective = ObjectiveConfig(
        "mixed", warm_start_steps=0, warm_start_loss="softmax", mixed_weight=1.0, reward_weight=1.0, reward_ramp_steps=0
    )
    losses, grads = dense_and_band_steps(objective, batch_loss)
    # fp32 (the scores are fp32 whatever the encoder's dtype): equal up to summation order
    assert losses[0][0] == pytest.approx(losses[1][0], rel=1e-6)
    assert losses[0][1] == pytest.approx(losses[1][1], rel=1e-6)
    assert grads[0].abs().max() > 1e-3  # a real gradient, not two zeros
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)
