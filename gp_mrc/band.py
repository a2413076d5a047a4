"""The band layout of span tensors: (B, n, n) → (B, n, w), entry [b, i, l] = span (i, i + l), w = max_answer_length.

Spans longer than max_answer_length are masked anyway, so training (losses, targets, rewards) keeps only the band:
n·w instead of n² elements per window, the same values. The models build their scores in it (`banded=True`) and the
collator lays targets and rewards out in it, both given the same max_answer_length; all through these functions.
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


def to_band(max_answer_length: int | None, mask: torch.Tensor, *spans: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Dense (B, n, n) span tensors cut to the band (B, n, w), w = max_answer_length: entry [b, i, l] is span
    (i, i + l). Training never needs it (the models and the collator build the band directly); it is the
    reference the tests compare the band against, and the dense variant of gp_mrc_lab's step timing.
    Returns (band mask, *banded tensors); positions past the window end are masked out (and hold 0). No band for
    this window length (None, or w ≥ n): the tensors as they are."""
    if not is_banded(mask.shape[-1], max_answer_length):
        return (mask, *spans)
    return tuple(band_of(t, max_answer_length) for t in (mask, *spans))  # past the window's end: False / 0
