"""The pruning window: which spans of a feature the scorer rewards (both ends on passage tokens, within the answer
length, each end near a gold's), and the checks on the window and the golds that would otherwise give wrong rewards.
"""

from __future__ import annotations

from collections.abc import Sequence

# Spans whose boundaries are within 8 tokens of a gold's boundaries: covers the near-misses the
# model actually confuses with the answer (a SQuAD answer is ~3 tokens; a few words of extra or
# missing context) while bounding the work and storage to at most 17 x 17 spans per gold.
# Farther spans get reward 0 (their F1 is small: they mostly cover other text).
DEFAULT_F1_WINDOW = 8


def check_params(window: int, max_answer_length: int) -> None:
    if window < 0:
        raise ValueError(f"window must be >= 0, got {window}")
    if max_answer_length < 1:
        raise ValueError(f"max_answer_length must be >= 1, got {max_answer_length}")


def candidate_spans(
    offsets: Sequence[Sequence[int]],
    gold_starts: Sequence[int],
    gold_ends: Sequence[int],
    window: int,
    max_answer_length: int,
) -> dict[int, list[int]]:
    """start -> sorted ends of the passage-token spans inside the pruning window of some gold."""
    n = len(offsets)
    ends_by_start: dict[int, set[int]] = {}
    for gs, ge in zip(gold_starts, gold_ends):
        for i in range(max(0, gs - window), min(n, gs + window + 1)):
            if offsets[i][0] < 0:
                continue
            hi = min(n - 1, ge + window, i + max_answer_length - 1)
            ends = [j for j in range(max(i, ge - window), hi + 1) if offsets[j][0] >= 0]
            if ends:
                ends_by_start.setdefault(i, set()).update(ends)
    return {i: sorted(ends_by_start[i]) for i in sorted(ends_by_start)}


def check_golds(offsets: Sequence[Sequence[int]], gold_starts: Sequence[int], gold_ends: Sequence[int]) -> None:
    """Gold spans that would otherwise silently produce wrong rewards (the offsets are already checked, so a
    gold on passage tokens also ends inside the context)."""
    if len(gold_starts) != len(gold_ends):
        raise ValueError(f"{len(gold_starts)} gold starts but {len(gold_ends)} gold ends")
    for gs, ge in zip(gold_starts, gold_ends):
        if not (0 <= gs <= ge < len(offsets)):
            raise ValueError(f"gold span ({gs}, {ge}) is not a valid span of {len(offsets)} tokens")
        if offsets[gs][0] < 0 or offsets[ge][0] < 0:
            raise ValueError(f"gold span ({gs}, {ge}) does not start and end on passage tokens")
