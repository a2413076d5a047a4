"""The band layout as the tests' reference: dense (B, n, n) span tensors cut to (B, n, w) by gp_mrc.band.band_of."""

from __future__ import annotations

import torch

from gp_mrc.band import band_of, is_banded


def to_band(max_answer_length: int | None, mask: torch.Tensor, *spans: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(band mask, *banded tensors); positions past the window's end hold False / 0. No band (None, or w ≥ n): as is."""
    if not is_banded(mask.shape[-1], max_answer_length):
        return (mask, *spans)
    return tuple(band_of(t, max_answer_length) for t in (mask, *spans))
