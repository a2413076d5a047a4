"""Span losses on (B, n, n) logits with a boolean mask of valid spans, and the schedule between them.

* multilabel categorical cross-entropy (the GlobalPointer warm start):
      log(1 + Σ_pos e^{−s}) + log(1 + Σ_neg e^{s})
* expected F1 with entropy, p = softmax of s over the valid spans of a window:
      −Σ p·f1 + λ Σ p log p
* F1 soft targets (reward-augmented maximum likelihood): −Σ q log p, q ∝ exp(f1 / τ) over the spans with f1 > 0

Both return one value per window; callers average. Masked spans take no part: the multilabel loss
drops them, the softmax gives them exactly zero probability and zero gradient.

The losses read either layout of the spans: dense (B, n, n), or the band (B, n, w), [b, i, l] = span (i, i + l),
that training uses (gp_mrc/band.py: the one way the project takes the band). The span softmax itself is
gp_mrc/models/span_probs.py's, shared with decoding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..choices import OBJECTIVES
from ..models.span_probs import FILL, at_least_fp32, span_log_probs


def multilabel_categorical_crossentropy(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
                                        log_n_offset: bool = False) -> torch.Tensor:
    """Per-window loss (B,). `targets` marks positive spans; only spans in `mask` count.

    log_n_offset: score spans by s − log N (N = valid spans of the window). The loss thresholds scores at 0, so
    with thousands of negatives a fresh head must first push *every* score below about −log N, a global shift
    that Adam makes at ~lr per step; starting the threshold at the uniform prior removes that phase. A per-window
    constant leaves the span softmax, expected F1 and decoding unchanged."""
    s = at_least_fp32(logits)
    if log_n_offset:
        n_valid = mask.flatten(1).sum(1).clamp(min=1).to(s.dtype)
        s = s - n_valid.log().view(-1, *([1] * (s.dim() - 1)))
    s = s.flatten(1)
    pos = (targets & mask).flatten(1)
    neg = (~targets & mask).flatten(1)
    zeros = s.new_zeros(s.shape[0], 1)  # the "1 +" inside each log
    neg_inf = torch.finfo(s.dtype).min
    pos_term = torch.logsumexp(torch.cat([zeros, torch.where(pos, -s, neg_inf)], dim=1), dim=1)
    neg_term = torch.logsumexp(torch.cat([zeros, torch.where(neg, s, neg_inf)], dim=1), dim=1)
    return pos_term + neg_term


def span_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-window −log Σ_pos p(i, j), p the span softmax over valid spans: the ranking loss of the span softmax
    (positives compete with every negative directly, unlike the multilabel loss's separate "1 +" terms)."""
    logp = span_log_probs(logits, mask).flatten(1)
    pos = (targets & mask).flatten(1)
    loss = -torch.logsumexp(torch.where(pos, logp, torch.full_like(logp, FILL)), dim=1)
    # a window whose gold lies outside the valid band (an answer longer than max_answer_length) has nothing to
    # rank: no gradient either way, and 0 instead of ~1e9 keeps the logged batch mean readable
    return torch.where(pos.any(1), loss, torch.zeros_like(loss))


@dataclass
class ExpectedF1:
    loss: torch.Tensor  # (B,)
    expected_f1: torch.Tensor  # (B,)  Σ p·f1
    entropy: torch.Tensor  # (B,)  −Σ p log p


def expected_f1_loss(logits: torch.Tensor, f1: torch.Tensor, mask: torch.Tensor, entropy_lambda: float = 0.0) -> ExpectedF1:
    """−Σ p·f1 + λ Σ p log p per window. `f1` is the dense per-span reward (zero where pruned)."""
    logp = span_log_probs(logits, mask)
    p = logp.exp()
    maskf = mask.to(p.dtype)
    exp_f1 = (p * f1.to(p.dtype) * maskf).flatten(1).sum(1)
    entropy = -(p * logp * maskf).flatten(1).sum(1)
    return ExpectedF1(loss=-exp_f1 - entropy_lambda * entropy, expected_f1=exp_f1, entropy=entropy)


def start_end_cross_entropy(start_logits: torch.Tensor, end_logits: torch.Tensor, start_positions: torch.Tensor,
                            end_positions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-window (CE(start) + CE(end)) / 2 over the tokens that can start / end a valid span (passage tokens and
    [CLS] for the null span), as the start/end reader is trained: the auxiliary "independent" half of Fajcik et
    al.'s compound objective, applied to the linear start/end terms of a `span_bias` GlobalPointer."""
    def ce(logits: torch.Tensor, valid: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logp = torch.log_softmax(at_least_fp32(logits).masked_fill(~valid, FILL), dim=-1)
        return -logp.gather(1, target.view(-1, 1)).squeeze(1)

    # a token that can end a valid span can also start one (every passage token and [CLS], the null span, is a
    # one-token span), so the rows of the mask name both sets — in the dense layout and in the band alike
    tokens = mask.any(-1)
    return (ce(start_logits, tokens, start_positions) + ce(end_logits, tokens, end_positions)) / 2


def soft_f1_loss(logits: torch.Tensor, f1: torch.Tensor, mask: torch.Tensor, tau: float = 0.3) -> torch.Tensor:
    """Per-window −Σ q log p with q(i, j) ∝ exp(f1(i, j) / τ) over the valid spans whose reward is > 0.

    The optimum of −E_p[F1] − τ·H(p) restricted to those spans, reached by plain cross-entropy: its gradient
    p − q stays large while p is diffuse, where the expected-F1 gradient p·(f1 − E[f1]) vanishes. Windows
    without the answer have f1 = 1 on the null span only, so q is one-hot there. A window with no
    rewarded span contributes 0."""
    if tau <= 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    logp = span_log_probs(logits, mask)
    support = (f1 > 0) & mask
    z = torch.where(support, f1.to(logp.dtype) / tau, torch.full_like(logp, FILL))
    q = torch.softmax(z.flatten(1), dim=1) * support.flatten(1)
    return -(q * logp.flatten(1)).sum(1)


def objective_weights(step: int, objective: str, warm_start_steps: int, mixed_weight: float = 1.0,
                      reward_weight: float = 1.0, ramp_steps: int = 0) -> tuple[float, float]:
    """(weight of the gold-span loss, weight of the reward loss) at an optimizer step.

    multilabel: (1, 0) always.  f1: the gold-span loss for the first `warm_start_steps`, then (0, w).
    mixed: the gold-span loss for the warm start, then both: (mixed_weight, w). The reward weight w rises
    linearly from reward_weight / ramp_steps to reward_weight over the first `ramp_steps` steps after the
    warm start (DCN+ and the Reinforced Mnemonic Reader bring the reward in once cross-entropy has converged).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if objective == "multilabel" or step < warm_start_steps:
        return 1.0, 0.0
    w = reward_weight * min(1.0, (step - warm_start_steps + 1) / ramp_steps) if ramp_steps > 0 else reward_weight
    return (0.0, w) if objective == "f1" else (mixed_weight, w)
