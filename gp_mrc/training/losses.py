"""Span losses on (B, n, n) logits with a boolean mask of valid spans.

* multilabel categorical cross-entropy (the GlobalPointer warm start):
      log(1 + Σ_pos e^{−s}) + log(1 + Σ_neg e^{s})
* expected F1 with entropy, p = softmax of s over the valid spans of a window:
      −Σ p·f1 + λ Σ p log p

Each returns one value per window; callers average (the schedule between them: objective.py). Masked spans take no
part: the multilabel loss drops them, the softmax gives them exactly zero probability and zero gradient.

The losses read either layout of the spans: dense (B, n, n), or the band (B, n, w), [b, i, l] = span (i, i + l),
that training uses (gp_mrc/band.py: the one way the project takes the band). The span softmax itself is
gp_mrc/models/span_probs.py's, shared with decoding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..models.span_probs import FILL, at_least_fp32, span_log_probs


def multilabel_categorical_crossentropy(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, log_n_offset: bool = False
) -> torch.Tensor:
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


def expected_f1_loss(
    logits: torch.Tensor, f1: torch.Tensor, mask: torch.Tensor, entropy_lambda: float = 0.0
) -> ExpectedF1:
    """−Σ p·f1 + λ Σ p log p per window. `f1` is the dense per-span reward (zero where pruned)."""
    logp = span_log_probs(logits, mask)
    p = logp.exp()
    maskf = mask.to(p.dtype)
    exp_f1 = (p * f1.to(p.dtype) * maskf).flatten(1).sum(1)
    entropy = -(p * logp * maskf).flatten(1).sum(1)
    return ExpectedF1(loss=-exp_f1 - entropy_lambda * entropy, expected_f1=exp_f1, entropy=entropy)
