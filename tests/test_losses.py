import math

import pytest
import torch

from gp_mrc.method import span_log_probs
from gp_mrc.method import expected_f1_loss, multilabel_categorical_crossentropy, span_cross_entropy
from gp_mrc.training.objective import objective_weights
from gp_mrc.method import MASK_VALUE, valid_span_mask


def brute_multilabel(s, targets, mask):
    out = []
    for b in range(s.shape[0]):
        pos = sum(
            math.exp(-s[b, i, j].item())
            for i in range(s.shape[1])
            for j in range(s.shape[2])
            if mask[b, i, j] and targets[b, i, j]
        )
        neg = sum(
            math.exp(s[b, i, j].item())
            for i in range(s.shape[1])
            for j in range(s.shape[2])
            if mask[b, i, j] and not targets[b, i, j]
        )
        out.append(math.log1p(pos) + math.log1p(neg))
    return torch.tensor(out, dtype=torch.float64)


def brute_expected_f1(s, f1, mask, lam):
    out = []
    for b in range(s.shape[0]):
        valid = [(i, j) for i in range(s.shape[1]) for j in range(s.shape[2]) if mask[b, i, j]]
        z = sum(math.exp(s[b, i, j].item()) for i, j in valid)
        p = {ij: math.exp(s[b][ij].item()) / z for ij in valid}
        out.append(-sum(p[ij] * f1[b][ij].item() for ij in valid) + lam * sum(q * math.log(q) for q in p.values()))
    return torch.tensor(out, dtype=torch.float64)


def random_case(seed=0, B=3, n=7):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(B, n, n, generator=g, dtype=torch.float64) * 2
    passage = torch.rand(B, n, generator=g) > 0.3
    passage[:, 0] = False
    mask = valid_span_mask(passage, max_answer_length=4)
    targets = (torch.rand(B, n, n, generator=g) > 0.8) & mask
    f1 = torch.rand(B, n, n, generator=g, dtype=torch.float64) * mask
    return s, targets, mask, f1


def test_multilabel_hand_computed():
    # one window, spans: (0,0) positive with s=1, (1,1) negative with s=2, (1,2) masked with s=100
    s = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 2.0, 100.0], [0.0, 0.0, 0.0]]])
    mask = torch.zeros(1, 3, 3, dtype=torch.bool)
    mask[0, 0, 0] = mask[0, 1, 1] = mask[0, 1, 2] = True
    mask[0, 1, 2] = False
    targets = torch.zeros_like(mask)
    targets[0, 0, 0] = True
    expected = math.log(1 + math.exp(-1.0)) + math.log(1 + math.exp(2.0))
    assert multilabel_categorical_crossentropy(s, targets, mask).item() == pytest.approx(expected, rel=1e-6)


def test_multilabel_log_n_offset_hand_computed():
    # the same window: 2 valid spans, so scores are shifted by log 2 before the loss
    s = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 2.0, 100.0], [0.0, 0.0, 0.0]]])
    mask = torch.zeros(1, 3, 3, dtype=torch.bool)
    mask[0, 0, 0] = mask[0, 1, 1] = True
    targets = torch.zeros_like(mask)
    targets[0, 0, 0] = True
    c = math.log(2)
    expected = math.log(1 + math.exp(-(1.0 - c))) + math.log(1 + math.exp(2.0 - c))
    got = multilabel_categorical_crossentropy(s, targets, mask, log_n_offset=True)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_multilabel_log_n_offset_is_per_window():
    s, targets, mask, _ = random_case(3, B=3, n=6)
    mask[1] = False
    mask[1, 0, 0] = True  # a window with a single valid span: log 1 = 0, no shift
    n_valid = mask.flatten(1).sum(1).double()
    shifted = s.double() - n_valid.log().view(-1, 1, 1)
    got = multilabel_categorical_crossentropy(s, targets, mask, log_n_offset=True)
    assert torch.allclose(got.double(), brute_multilabel(shifted, targets, mask), atol=1e-5)
    assert got[1] == multilabel_categorical_crossentropy(s, targets, mask)[1]


def test_multilabel_matches_brute_force():
    s, targets, mask, _ = random_case()
    got = multilabel_categorical_crossentropy(s, targets, mask)
    assert torch.allclose(got.double(), brute_multilabel(s, targets, mask), atol=1e-5)


def test_expected_f1_matches_brute_force():
    s, _, mask, f1 = random_case(1)
    for lam in (0.0, 0.3):
        got = expected_f1_loss(s, f1, mask, lam).loss
        assert torch.allclose(got.double(), brute_expected_f1(s, f1, mask, lam), atol=1e-5)


def test_gradcheck_float64():
    s, targets, mask, f1 = random_case(2, B=2, n=5)
    s = s.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: multilabel_categorical_crossentropy(x, targets, mask), (s,))
    # the log-softmax runs in float64 when given float64
    s64 = s.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: expected_f1_loss(x, f1, mask, 0.2).loss, (s64,))


def test_gradient_step_raises_best_span_probability():
    # d(−Σp·f1)/ds_k = −p_k (f1_k − E[f1]): descent always raises the best span's logit; its probability
    # rises for sure when it is the only rewarded span (with rewarded neighbours holding much more mass,
    # they can gain faster in one finite step, so that case checks the logit only).
    for seed in range(5):
        s, _, mask, _ = random_case(seed, B=1, n=8)
        valid = [v for v in mask[0].nonzero().tolist() if v != [0, 0]]
        gold = valid[len(valid) // 2]
        only_gold = torch.zeros(1, 8, 8)
        only_gold[0, gold[0], gold[1]] = 1.0
        with_neighbours = only_gold.clone()
        for (i, j), v in zip(valid[:3], (0.5, 0.4, 0.67)):
            if [i, j] != gold:
                with_neighbours[0, i, j] = v
        for f1, check_p in ((only_gold, True), (with_neighbours, False)):
            x = s.float().clone().requires_grad_(True)
            p_before = span_log_probs(x, mask).exp()[0, gold[0], gold[1]].item()
            expected_f1_loss(x, f1, mask, 0.0).loss.sum().backward()
            assert x.grad[0, gold[0], gold[1]].item() < 0
            if check_p:
                with torch.no_grad():
                    x2 = x - 0.5 * x.grad
                assert span_log_probs(x2, mask).exp()[0, gold[0], gold[1]].item() > p_before


def test_masked_spans_get_zero_probability_and_gradient():
    s, targets, mask, f1 = random_case(4)
    s = s.float().masked_fill(~mask, MASK_VALUE).requires_grad_(True)
    p = span_log_probs(s, mask).exp()
    assert p[~mask].abs().max().item() == 0.0
    assert torch.allclose(p.flatten(1).sum(1), torch.ones(3))
    loss = (
        expected_f1_loss(s, f1.float(), mask, 0.1).loss.sum()
        + multilabel_categorical_crossentropy(s, targets, mask).sum()
    )
    loss.backward()
    assert s.grad[~mask].abs().max().item() == 0.0
    assert s.grad[mask].abs().max().item() > 0.0


def test_no_positive_and_all_masked_windows_are_finite():
    s, targets, mask, _ = random_case(5)
    zero_f1 = torch.zeros_like(s)
    s = s.float().requires_grad_(True)
    out = expected_f1_loss(s, zero_f1.float(), mask, 0.1)
    empty = torch.zeros_like(mask)
    ml = multilabel_categorical_crossentropy(s, targets & empty, empty)
    all_masked = expected_f1_loss(s, zero_f1.float(), empty, 0.1)
    total = out.loss.sum() + ml.sum() + all_masked.loss.sum()
    total.backward()
    assert torch.isfinite(total) and torch.isfinite(s.grad).all()
    assert ml.abs().max().item() == 0.0  # log(1+0) + log(1+0)


def test_span_cross_entropy_hand_computed_and_a_window_without_positive():
    # window 0: three valid spans with scores 0, 1, 2, the gold the one scoring 1: −log(e / (1 + e + e²));
    # window 1: its gold is not a valid span (an answer longer than the band): loss 0 and no gradient
    s = torch.tensor([[0.0, 1.0, 2.0, 5.0], [0.0, 1.0, 2.0, 5.0]], requires_grad=True)
    mask = torch.tensor([[True, True, True, False]] * 2)
    targets = torch.tensor([[False, True, False, False], [False, False, False, True]])
    loss = span_cross_entropy(s, targets, mask)
    assert loss[0].item() == pytest.approx(-math.log(math.e / (1 + math.e + math.e**2)), rel=1e-6)
    assert loss[1].item() == 0.0
    loss.sum().backward()
    assert s.grad[1].abs().max().item() == 0.0
    p = torch.softmax(torch.tensor([0.0, 1.0, 2.0]), 0)
    assert torch.allclose(s.grad[0, :3], p - torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)  # p − onehot(gold)


def test_extreme_logits_are_finite():
    s, targets, mask, f1 = random_case(6)
    s = (s.float() * 1e4).requires_grad_(True)
    total = (
        multilabel_categorical_crossentropy(s, targets, mask).sum()
        + expected_f1_loss(s, f1.float(), mask, 0.1).loss.sum()
    )
    total.backward()
    assert torch.isfinite(total) and torch.isfinite(s.grad).all()


def test_objective_schedule():
    assert objective_weights(0, "multilabel", 0, 1.0, 1.0, 0) == (1.0, 0.0)
    assert objective_weights(9, "f1", 10, 1.0, 1.0, 0) == (1.0, 0.0)
    assert objective_weights(10, "f1", 10, 1.0, 1.0, 0) == (0.0, 1.0)
    assert objective_weights(10, "mixed", 10, 0.25, 1.0, 0) == (0.25, 1.0)
    with pytest.raises(ValueError, match="objective"):
        objective_weights(0, "ce", 0, 1.0, 1.0, 0)


def test_band_losses_equal_dense_losses_and_gradients():
    """Training computes the losses on the band j − i < max_answer_length; with the mask already
    excluding longer spans, values and gradients must equal the dense computation exactly."""
    from band_reference import to_band
    from gp_mrc.method import valid_span_mask

    torch.manual_seed(0)
    B, n, L = 3, 20, 5
    mask = valid_span_mask(torch.rand(B, n) > 0.3, L)
    logits = torch.randn(B, n, n, dtype=torch.float64, requires_grad=True)
    targets = torch.zeros(B, n, n, dtype=torch.bool)
    targets[0, 3, 5] = targets[1, 0, 0] = targets[2, 7, 7] = targets[2, 8, 9] = True
    f1 = torch.rand(B, n, n, dtype=torch.float64) * mask

    def total(lg, tg, f, m):
        return (multilabel_categorical_crossentropy(lg, tg, m) + expected_f1_loss(lg, f, m, 0.1).loss).sum()

    dense = total(logits, targets, f1, mask)
    (g_dense,) = torch.autograd.grad(dense, logits)
    band_mask, band_logits, band_targets, band_f1 = to_band(L, mask, logits, targets, f1)
    assert band_logits.shape == (B, n, L)
    assert band_mask.sum() == mask.sum()  # no valid span lost, none duplicated at the window's end
    banded = total(band_logits, band_targets, band_f1, band_mask)
    (g_band,) = torch.autograd.grad(banded, logits)
    torch.testing.assert_close(banded, dense, rtol=0, atol=1e-12)
    torch.testing.assert_close(g_band, g_dense, rtol=0, atol=1e-12)
    assert to_band(None, mask, logits)[1] is logits  # no length limit: dense as is


def test_reward_ramp_schedule():
    # warm start of 10 steps, then the reward weight 2 ramps in over 4 steps, the gold-span loss kept at 1
    ws = [objective_weights(t, "mixed", 10, 1.0, reward_weight=2.0, ramp_steps=4) for t in range(8, 16)]
    assert ws == [(1.0, 0.0), (1.0, 0.0), (1.0, 0.5), (1.0, 1.0), (1.0, 1.5), (1.0, 2.0), (1.0, 2.0), (1.0, 2.0)]
    assert objective_weights(12, "f1", 10, 1.0, reward_weight=1.0, ramp_steps=4) == (0.0, 0.75)
