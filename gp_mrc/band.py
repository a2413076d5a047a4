"""The band layout of span tensors: (B, n, n) → (B, n, w), entry [b, i, l] = span (i, i + l), w = max_answer_length.

Spans longer than max_answer_length are masked anyway, so training (losses, targets, rewards) keeps only the band:
n·w instead of n² elements per window, the same values. The models build their scores in it (`banded=True`), the
collator lays targets and rewards out in it, the objective cuts dense tensors to it; all through these functions.
"""

from __future__ import annotations

import torch


def is_banded(n: int, width: int | None) -> bool:
    """Whether (B, n, n) span tensors are kept as the band j − i < width, (B, n, width): a band as wide as the
    window is the dense matrix. The one rule for to_band and the training collator."""
    return width is not None and width < n


def band_windows(x: torch.Tensor, width: int) -> torch.Tensor:
    """(B, n) → (B, n, width) view-like windows: [b, i, l] = x[b, i + l], zero (False) past the window's end."""
    padded = torch.cat([x, x.new_zeros(x.shape[0], width)], dim=1)
    return padded.unfold(1, width, 1)[:, :x.shape[1]]


def band_of(scores: torch.Tensor, width: int) -> torch.Tensor:
    """(B, n, n) → (B, n, width), [b, i, l] = scores[b, i, i + l] (0 past the window's end): a strided view of
    the right-padded matrix, so neither an index tensor nor a gather (and its scatter backward) is needed."""
    b, n, _ = scores.shape
    padded = torch.nn.functional.pad(scores, (0, width))  # (B, n, n + width), contiguous
    return padded.as_strided((b, n, width), (n * (n + width), n + width + 1, 1))


def to_band(width: int | None, mask: torch.Tensor, *spans: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(B, n, n) span tensors → (B, n, width) holding only spans with j − i < width: entry [b, i, l] is span
    (i, i + l). When the mask already excludes longer spans (max_answer_length) the losses are unchanged,
    and the elementwise work drops from n² to n·width per window (the dense matrix was ~90% masked).
    Returns (band mask, *banded tensors); positions past the window end are masked out (and hold 0). Tensors already in
    the band layout (a model called with banded=True: last dimension = width < n) pass through as they are."""
    if not is_banded(mask.shape[-1], width):
        return (mask, *spans)
    return tuple(band_of(t, width) for t in (mask, *spans))  # past the window's end: False / 0
