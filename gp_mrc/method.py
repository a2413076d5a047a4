"""The method on one page: a GlobalPointer span head (one type) trained on the metric.

Head. An encoder gives states h_i; one linear map gives q_i, k_i (and, with span_bias, the scalars u_sᵀh_i, u_eᵀh_i):

    s(i, j) = (R_i q_i)ᵀ (R_j k_j) / √d   [+ u_sᵀh_i + u_eᵀh_j]

R_i is the rotary position matrix (RoPE), so (R_i q)ᵀ(R_j k) = qᵀ R_{j−i} k carries the relative position j − i.
The candidates of a window are the spans i ≤ j over passage tokens, j − i < max_answer_length, plus the null span
(0, 0) on [CLS], "no answer in this window"; every other entry is masked.

Span softmax. p(i, j) = exp s(i, j) / Σ_valid exp s: one distribution over a window's answers (and null).

Objectives, one value per window (callers average):
  * the multilabel categorical cross-entropy (the seed's warm start), over the gold spans P and the rest N:
        log(1 + Σ_P e^{−s}) + log(1 + Σ_N e^{s})
  * the span-softmax cross-entropy (the default's gold-span loss):  −log Σ_P p
  * the reward (expected F1 with an entropy bonus), f1(i, j) the metric's F1 of span (i, j) against the golds
    (pruned: 0 where an end is far from every gold; gp_mrc/rewards):  −Σ p·f1 + λ·Σ p log p
The seed: the multilabel warm start, then the reward alone. The default: span-softmax CE throughout, the reward
added after half the steps (the schedule: gp_mrc/training/objective.py, `objective_weights`). Decoding by expected F1 (minimum Bayes
risk) reads the same p: gp_mrc/inference/decoding.py.

Everything here is a plain function on plain tensors in the dense layout (B, n, n), [b, i, j] = span (i, j). The
speed-ups wrap these functions and tests hold them equal: the band layout (B, n, max_answer_length) that training
uses (gp_mrc/band.py), the RoPE table cache and the ONNX export's tables (gp_mrc/models/modeling.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

# Finite, representable in fp16 and bf16 (fp16 max is 65504), and exp() of it underflows to 0.
MASK_VALUE = -30000.0
# Finite fill for log-softmax: keeps p·log p at masked spans at 0·(finite) instead of 0·(−inf) = NaN.
FILL = -1e9


# ---------------------------------------------------------------------------------------------------- the head
def rope_tables(
    n: int, dim: int, base: float, device: torch.device | None = None, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables (n, dim) of RoPE over interleaved pairs: pair m of position i rotates by i·base^(−2m/dim)."""
    inv_freq = base ** (-torch.arange(0, dim, 2, device=device, dtype=torch.float32) / dim)
    angles = torch.arange(n, device=device, dtype=torch.float32)[:, None] * inv_freq[None, :]  # (n, dim/2)
    return angles.cos().repeat_interleave(2, dim=-1).to(dtype), angles.sin().repeat_interleave(2, dim=-1).to(dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """R_i x_i: rotate each (2m, 2m+1) pair of x (..., n, dim) by the tables' angle."""
    rotated = torch.stack([-x[..., 1::2], x[..., 0::2]], dim=-1).reshape(x.shape)
    return x * cos + rotated * sin


def span_scores(q: torch.Tensor, k: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
    """s(i, j) = (R_i q_i)ᵀ (R_j k_j) / √d for q, k (B, n, d) → (B, n, n); rope: the (cos, sin) tables, or None."""
    if rope is not None:
        q, k = apply_rope(q, *rope), apply_rope(k, *rope)
    return torch.einsum("bmd,bnd->bmn", q, k) / q.shape[-1] ** 0.5


def start_plus_end(start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """start_i + end_j for every span (B, n, n), from (B, n) terms: the span_bias terms, and a start/end reader."""
    return start[:, :, None] + end[:, None, :]


def valid_span_mask(passage_mask: torch.Tensor, max_answer_length: int | None, allow_null: bool = True) -> torch.Tensor:
    """(B, n, n) bool: i ≤ j, both passage tokens, j − i < max_answer_length; plus the null span (0, 0)."""
    idx = torch.arange(passage_mask.shape[-1], device=passage_mask.device)
    band = idx[None, :] >= idx[:, None]
    if max_answer_length is not None:
        band = band & (idx[None, :] - idx[:, None] < max_answer_length)
    mask = passage_mask[:, :, None] & passage_mask[:, None, :] & band
    if allow_null:
        mask[:, 0, 0] = True
    return mask


class GlobalPointerHead(nn.Module):
    """q, k (and the span_bias terms) from the encoder states; `forward` gives s(i, j), unmasked, in fp32. The
    settings' defaults are models/configuration.py's HeadConfig."""

    def __init__(
        self,
        hidden_size: int,
        head_size: int,
        use_rope: bool,
        rope_base: float,
        span_bias: bool,
    ):
        super().__init__()
        if use_rope and head_size % 2:
            raise ValueError(f"head_size must be even for RoPE, got {head_size}")
        self.dense = nn.Linear(hidden_size, 2 * head_size)
        self.bias_dense = nn.Linear(hidden_size, 2) if span_bias else None
        self.head_size, self.use_rope, self.rope_base = head_size, use_rope, rope_base
        self.zero_k()

    def zero_k(self) -> None:
        """With span_bias, k starts at zero (as LoRA's B): the head starts as exactly a start/end reader, and q·k
        grows from there (k's gradient is nonzero because q is random). Without, both are random."""
        if self.bias_dense is not None:
            with torch.no_grad():
                self.dense.weight[self.head_size :].zero_()
                self.dense.bias[self.head_size :].zero_()

    def project(
        self, hidden: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(q, k, start terms, end terms) of hidden (B, n, h); the terms are None without span_bias."""
        q, k = self.dense(hidden).split(self.head_size, dim=-1)
        if self.bias_dense is None:
            return q, k, None, None
        start, end = self.bias_dense(hidden).unbind(-1)
        return q, k, start, end

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        q, k, start, end = self.project(hidden)
        rope = rope_tables(q.shape[-2], self.head_size, self.rope_base, q.device, q.dtype) if self.use_rope else None
        scores = span_scores(q, k, rope)
        # the sum in the autocast dtype, then fp32: losses and softmax run in fp32 whatever the model's dtype
        return (scores if start is None else scores + start_plus_end(start, end)).float()


# ------------------------------------------------------------------------------------------ the span softmax
def at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """fp16/bf16 → fp32 for stable logsumexp; fp64 stays fp64 (gradcheck)."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def span_log_probs(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log p(i, j): log-softmax over each window's valid spans (masked ≈ −1e9). Any layout: it flattens a window."""
    s = at_least_fp32(logits).masked_fill(~mask, FILL)
    return torch.log_softmax(s.flatten(1), dim=1).view_as(s)


# --------------------------------------------------------------------------------------------- the objectives
def multilabel_categorical_crossentropy(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, log_n_offset: bool = False
) -> torch.Tensor:
    """log(1 + Σ_P e^{−s}) + log(1 + Σ_N e^{s}) per window (B,); only spans in `mask` count.

    log_n_offset: score spans by s − log N (N valid spans). The loss thresholds scores at 0, so a fresh head must
    first push every score below about −log N, a global shift Adam makes at ~lr per step; starting the threshold at
    the uniform prior removes that phase. A per-window constant: the softmax, expected F1 and decoding are unchanged."""
    s = at_least_fp32(logits)
    if log_n_offset:
        n_valid = mask.flatten(1).sum(1).clamp(min=1).to(s.dtype)
        s = s - n_valid.log().view(-1, *([1] * (s.dim() - 1)))
    s = s.flatten(1)
    pos, neg = (targets & mask).flatten(1), (~targets & mask).flatten(1)
    zeros = s.new_zeros(s.shape[0], 1)  # the "1 +" inside each log
    neg_inf = torch.finfo(s.dtype).min
    pos_term = torch.logsumexp(torch.cat([zeros, torch.where(pos, -s, neg_inf)], dim=1), dim=1)
    neg_term = torch.logsumexp(torch.cat([zeros, torch.where(neg, s, neg_inf)], dim=1), dim=1)
    return pos_term + neg_term


def span_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """−log Σ_P p(i, j) per window: positives compete with every negative directly under the span softmax."""
    logp = span_log_probs(logits, mask).flatten(1)
    pos = (targets & mask).flatten(1)
    loss = -torch.logsumexp(torch.where(pos, logp, torch.full_like(logp, FILL)), dim=1)
    # a gold outside the valid spans (longer than max_answer_length) leaves nothing to rank: 0, no gradient
    return torch.where(pos.any(1), loss, torch.zeros_like(loss))


@dataclass
class ExpectedF1:
    loss: torch.Tensor  # (B,)  −Σ p·f1 + λ Σ p log p
    expected_f1: torch.Tensor  # (B,)  Σ p·f1
    entropy: torch.Tensor  # (B,)  −Σ p log p


def expected_f1_loss(logits: torch.Tensor, f1: torch.Tensor, mask: torch.Tensor, entropy_lambda: float) -> ExpectedF1:
    """−Σ p·f1 + λ Σ p log p per window; f1 the per-span reward (0 where pruned)."""
    logp = span_log_probs(logits, mask)
    p = logp.exp()
    maskf = mask.to(p.dtype)
    exp_f1 = (p * f1.to(p.dtype) * maskf).flatten(1).sum(1)
    entropy = -(p * logp * maskf).flatten(1).sum(1)
    return ExpectedF1(loss=-exp_f1 - entropy_lambda * entropy, expected_f1=exp_f1, entropy=entropy)


def gold_span_loss(name: str, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The gold-span loss by name: "softmax" (span-softmax CE), or "multilabel" (its threshold at −log N)."""
    if name == "softmax":
        return span_cross_entropy(logits, targets, mask)
    return multilabel_categorical_crossentropy(logits, targets, mask, log_n_offset=True)


def objective_loss(
    logits: torch.Tensor,
    mask: torch.Tensor,
    targets: torch.Tensor,
    f1: torch.Tensor | None,
    weights: tuple[float, float],
    gold_loss: str,
    entropy_lambda: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """w_gold · mean(gold-span loss) + w_reward · mean(−Σ p·f1 + λ Σ p log p), and the parts to log."""
    w_gold, w_reward = weights
    loss = torch.zeros((), device=logits.device)
    stats: dict[str, float] = {}
    if w_gold:
        gold = gold_span_loss(gold_loss, logits, targets, mask).mean()
        loss = loss + w_gold * gold
        stats[gold_loss] = gold.item()
    if w_reward:
        ef = expected_f1_loss(logits, f1, mask, entropy_lambda)
        loss = loss + w_reward * ef.loss.mean()
        stats.update(expected_f1=ef.expected_f1.mean().item(), entropy=ef.entropy.mean().item())
    return loss, stats
