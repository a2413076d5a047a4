"""Feature rows → padded batch tensors. Dense (B, n, n) targets and rewards exist only here, per batch."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch

from ..band import is_banded


class SparseRows(Protocol):
    def row(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


def pad_2d(rows: list[list[int]], width: int, value: int) -> torch.Tensor:
    out = np.full((len(rows), width), value, dtype=np.int64)
    for b, r in enumerate(rows):
        out[b, : len(r)] = r
    return torch.from_numpy(out)


def span_tensor(
    spans: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n: int, max_answer_length: int | None, dtype: torch.dtype
) -> torch.Tensor:
    """(B, n, n) — or the band (B, n, max_answer_length), entry [b, i, l] = span (i, i + l) — from per-row
    (starts, ends, values); spans outside the band are dropped (they are masked in the losses anyway)."""
    banded = is_banded(n, max_answer_length)
    out = torch.zeros(len(spans), n, max_answer_length if banded else n, dtype=dtype)
    for b, (s, e, v) in enumerate(spans):
        s, e, v = np.asarray(s, dtype=np.int64), np.asarray(e, dtype=np.int64), np.asarray(v)
        col = e - s if banded else e
        keep = (col >= 0) & (col < out.shape[2]) & (s < n)
        out[b, torch.from_numpy(s[keep]), torch.from_numpy(col[keep])] = torch.as_tensor(v[keep], dtype=dtype)
    return out


class SpanCollator:
    """Pads a list of feature rows to the longest in the batch (a multiple of `pad_to_multiple_of`).

    Produces model inputs plus `passage_mask`, `feature_index`, multilabel `targets` (gold spans, or
    the null span where the window holds no gold) and, when an F1 table is given, `f1` rewards. With
    `max_answer_length` (training's, the same the forward masks with) targets and rewards come in the band layout
    the losses use (B, n, max_answer_length) instead of (B, n, n): no dense matrix is built only to be cut back.
    """

    def __init__(
        self,
        pad_token_id: int = 0,
        f1_table: SparseRows | None = None,
        pad_to_multiple_of: int = 8,
        with_targets: bool = True,
        max_answer_length: int | None = None,
    ):
        self.pad_token_id, self.f1_table = pad_token_id, f1_table
        self.multiple, self.with_targets = pad_to_multiple_of, with_targets
        self.max_answer_length = max_answer_length

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        n = max(len(r["input_ids"]) for r in rows)
        n = -(-n // self.multiple) * self.multiple
        batch = {
            "input_ids": pad_2d([r["input_ids"] for r in rows], n, self.pad_token_id),
            "attention_mask": pad_2d([r["attention_mask"] for r in rows], n, 0),
            "passage_mask": pad_2d([[int(o[0] >= 0) for o in r["offset_mapping"]] for r in rows], n, 0).bool(),
            "feature_index": torch.tensor([r["feature_index"] for r in rows], dtype=torch.long),
        }
        if "token_type_ids" in rows[0]:
            batch["token_type_ids"] = pad_2d([r["token_type_ids"] for r in rows], n, 0)
        if self.with_targets:
            # no gold in this window (or unanswerable): the null span (0, 0)
            golds = [
                (r["gold_starts"] or [0], r["gold_ends"] or [0], [True] * max(1, len(r["gold_starts"]))) for r in rows
            ]
            batch["targets"] = span_tensor(golds, n, self.max_answer_length, torch.bool)
            # for the start/end baseline: the first gold, else [CLS] (as the transformers examples)
            batch["start_positions"] = torch.tensor([r["gold_starts"][0] if r["gold_starts"] else 0 for r in rows])
            batch["end_positions"] = torch.tensor([r["gold_ends"][0] if r["gold_ends"] else 0 for r in rows])
        if self.f1_table is not None:
            batch["f1"] = span_tensor(
                [self.f1_table.row(r["feature_index"]) for r in rows], n, self.max_answer_length, torch.float32
            )
        return batch
