"""Feature rows → padded batch tensors. Dense (B, n, n) targets and rewards exist only here, per batch."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "passage_mask")


class SparseRows(Protocol):
    def row(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


def pad_2d(rows: list[list[int]], width: int, value: int) -> torch.Tensor:
    out = np.full((len(rows), width), value, dtype=np.int64)
    for b, r in enumerate(rows):
        out[b, : len(r)] = r
    return torch.from_numpy(out)


class SpanCollator:
    """Pads a list of feature rows to the longest in the batch (a multiple of `pad_to_multiple_of`).

    Produces model inputs plus `passage_mask`, `feature_index`, multilabel `targets` (gold spans, or
    the null span where the window holds no gold) and, when an F1 table is given, dense `f1` rewards.
    """

    def __init__(self, pad_token_id: int = 0, f1_table: SparseRows | None = None, pad_to_multiple_of: int = 8,
                 with_targets: bool = True):
        self.pad_token_id, self.f1_table = pad_token_id, f1_table
        self.multiple, self.with_targets = pad_to_multiple_of, with_targets

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
            targets = torch.zeros(len(rows), n, n, dtype=torch.bool)
            for b, r in enumerate(rows):
                if r["gold_starts"]:
                    targets[b, r["gold_starts"], r["gold_ends"]] = True
                else:
                    targets[b, 0, 0] = True  # no gold in this window (or unanswerable): the null span
            batch["targets"] = targets
            # for the start/end baseline: the first gold, else [CLS] (as the transformers examples)
            batch["start_positions"] = torch.tensor([r["gold_starts"][0] if r["gold_starts"] else 0 for r in rows])
            batch["end_positions"] = torch.tensor([r["gold_ends"][0] if r["gold_ends"] else 0 for r in rows])
        if self.f1_table is not None:
            f1 = torch.zeros(len(rows), n, n, dtype=torch.float32)
            for b, r in enumerate(rows):
                s, e, v = self.f1_table.row(r["feature_index"])
                f1[b, torch.as_tensor(s, dtype=torch.long), torch.as_tensor(e, dtype=torch.long)] = torch.as_tensor(v, dtype=torch.float32)
            batch["f1"] = f1
        return batch
