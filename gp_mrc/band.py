"""The band layout of span tensors: (B, n, n) → (B, n, w), entry [b, i, l] = span (i, i + l), w = max_answer_length.

Spans longer than max_answer_length are masked anyway, so training (losses, targets, rewards) keeps only the band:
n·w instead of n² elements per window, the same values. The models build their scores in it (`banded=True`) and the
collator lays targets and rewards out in it, both given the same max_answer_length; all through these functions,
which tests/test_method.py holds equal to gp_mrc/method.py's dense ones.
"""

from __future__ import annotations

import torch


def is_banded(n: int, max_answer_length: int | None) -> bool:
    """Whether (B, n, n) span tensors are kept as the band j − i < max_answer_length, (B, n, max_answer_length): a
    band as wide as the window is the dense matrix. The one rule for the models, to_band and the training collator."""
    return max_answer_length is not None and max_answer_length < n


def band_windows(x: torch.Tensor, max_answer_length: int) -> torch.Tensor:
    """(B, n) → (B, n, max_answer_length) view-like windows: [b, i, l] = x[b, i + l], zero (False) past the
    window's end."""
    padded = torch.cat([x, x.new_zeros(x.shape[0], max_answer_length)], dim=1)
    return padded.unfold(1, max_answer_length, 1)[:, : x.shape[1]]


def band_of(scores: torch.Tensor, max_answer_length: int) -> torch.Tensor:
    """(B, n, n) → (B, n, w), w = max_answer_length, [b, i, l] = scores[b, i, i + l] (0 past the window's end): a
    strided view of the right-padded matrix, so neither an index tensor nor a gather (and its scatter backward)
    is needed."""
    b, n, _ = scores.shape
    w = max_answer_length
    padded = torch.nn.functional.pad(scores, (0, w))  # (B, n, n + w), contiguous
    return padded.as_strided((b, n, w), (n * (n + w), n + w + 1, 1))


def band_span_mask(passage_mask: torch.Tensor, max_answer_length: int, allow_null: bool = True) -> torch.Tensor:
    """method.valid_span_mask in the band layout (B, n, w): [b, i, l] is span (i, i + l), False past the window."""
    n = passage_mask.shape[-1]
    if not is_banded(n, max_answer_length):
        raise ValueError(f"no band layout for windows of {n} tokens and max_answer_length {max_answer_length}")
    mask = passage_mask[:, :, None] & band_windows(passage_mask, max_answer_length)
    if allow_null:
        mask[:, 0, 0] = True
    return mask


def band_start_plus_end(start: torch.Tensor, end: torch.Tensor, max_answer_length: int) -> torch.Tensor:
    """method.start_plus_end in the band layout: [b, i, l] = start_i + end_{i+l}."""
    return start[:, :, None] + band_windows(end, max_answer_length)
