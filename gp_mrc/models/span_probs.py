"""The span distribution a window's scores define: p(i, j) = softmax of the scores over the window's valid spans.

Training's losses (gp_mrc/training/losses.py) and inference's n-best (gp_mrc/inference/decoding.py) both read it
from here, so the probability a reader reports is the one it was trained on. Either span layout works: dense
(B, n, n) or the band (B, n, w) of gp_mrc/band.py; the softmax runs in at least fp32 whatever the model's dtype.
"""

from __future__ import annotations

import torch

# Finite fill for log-softmax: keeps p·log p at masked spans at 0·(finite) instead of 0·(−inf) = NaN.
FILL = -1e9


def at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """fp16/bf16 → fp32 for stable logsumexp; fp64 stays fp64 (gradcheck)."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def span_log_probs(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log p(i, j): log-softmax over the valid spans of each window, (B, n, n); masked spans ≈ −1e9."""
    s = at_least_fp32(logits).masked_fill(~mask, FILL)
    return torch.log_softmax(s.flatten(1), dim=1).view_as(s)
