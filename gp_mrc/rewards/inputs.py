"""Reading the reward inputs out of features and examples, and validating them once.

``read_inputs`` gathers what the rewards of a feature set are computed from (offsets, gold token spans,
example indices and ids, is_impossible, contexts, gold texts) from a datasets.Dataset or a dict of lists,
as flat arrays and plain lists. An Arrow offset column is flattened without going through Python lists.

``check_offsets`` is the one offset validator: every path that scores spans (a feature set, or one
feature through ``feature_span_f1``) runs it before anything is decoded, because a bad offset would
otherwise silently slice the wrong text and produce wrong rewards.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .table import row_pointers


@dataclass
class RewardInputs:
    """Everything the rewards of a feature set are computed from, as plain arrays and lists."""

    offsets: np.ndarray  # (total tokens, 2) int64, all features' offset_mapping concatenated
    tok_ptr: np.ndarray  # (n + 1,) int64: feature k's tokens are offsets[tok_ptr[k]:tok_ptr[k + 1]]
    gold_starts: list[list[int]]
    gold_ends: list[list[int]]
    example_ids: list[str]
    example_index: list[int]
    is_impossible: list[bool]
    contexts: list[str]  # per feature (shared string objects per example)
    gold_texts: list[list[str]]  # per feature

    def __len__(self) -> int:
        return len(self.tok_ptr) - 1

    def digest(self) -> str:
        """sha256 over the content of every input (see gp_mrc.rewards.cache on why)."""
        h = hashlib.sha256()
        for arr in (np.ascontiguousarray(self.offsets, dtype=np.int64), self.tok_ptr):
            h.update(arr.tobytes())
        small = [
            self.gold_starts,
            self.gold_ends,
            self.example_ids,
            self.example_index,
            self.is_impossible,
            self.gold_texts,
        ]
        h.update(json.dumps(small, ensure_ascii=False).encode())
        last = None
        for k, c in enumerate(self.contexts):  # a context once per run of features sharing it
            if c is not last:
                h.update(f"\x00{k}\x00".encode())
                h.update(c.encode())
                last = c
        return h.hexdigest()


def check_offsets(
    offsets: np.ndarray, tok_ptr: np.ndarray, context_lengths: Sequence[int], example_ids: Sequence[str] | None = None
) -> None:
    """Passage offsets must be 0 <= start <= end <= len(context); the others exactly (-1, -1).

    offsets: (total tokens, 2) int; feature k owns offsets[tok_ptr[k]:tok_ptr[k + 1]] and context_lengths[k].
    The ValueError names the feature and its example when `example_ids` is given (a feature set), else only
    the token (a single feature)."""
    ctx_len = np.asarray(context_lengths, dtype=np.int64)
    tok_len = np.repeat(ctx_len, np.diff(tok_ptr))
    passage = offsets[:, 0] >= 0
    bad = np.where(
        passage,
        (offsets[:, 1] < offsets[:, 0]) | (offsets[:, 1] > tok_len),
        (offsets[:, 0] != -1) | (offsets[:, 1] != -1),
    )
    if bad.any():
        t = int(np.argmax(bad))
        k = int(np.searchsorted(tok_ptr, t, side="right") - 1)
        where = "" if example_ids is None else f"feature {k} (example {example_ids[k]!r}): "
        raise ValueError(
            f"{where}token {t - int(tok_ptr[k])} has offsets {offsets[t].tolist()}, not a "
            f"[start, end] inside the context ({int(tok_len[t])} chars) nor [-1, -1]"
        )


def _flat_offsets_arrow(column: Any) -> tuple[np.ndarray, np.ndarray]:
    """A list<list<int>> Arrow column -> ((total, 2) int64 values, (n + 1,) int64 row pointers)."""
    import pyarrow.compute as pc

    values, lengths = [], []
    for chunk in column.chunks:
        pairs = chunk.flatten()  # respects slicing, unlike .values
        pair_len = pc.list_value_length(pairs).to_numpy(zero_copy_only=False)
        if len(pair_len) and (pair_len != 2).any():
            raise ValueError("offset_mapping must hold [char_start, char_end] pairs")
        values.append(pairs.flatten().to_numpy(zero_copy_only=False).astype(np.int64, copy=False).reshape(-1, 2))
        lengths.append(pc.list_value_length(chunk).to_numpy(zero_copy_only=False))
    lens = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
    flat = np.concatenate(values) if values else np.zeros((0, 2), np.int64)
    return flat, row_pointers(lens)


def _flat_offsets_lists(rows: Sequence[Sequence[Sequence[int]]]) -> tuple[np.ndarray, np.ndarray]:
    flat = np.array([p for r in rows for p in r], dtype=np.int64).reshape(-1, 2)
    return flat, row_pointers([len(r) for r in rows])


def _columns(data: Any, names: Sequence[str]) -> dict[str, list]:
    """Python columns of a datasets.Dataset or a dict of lists."""
    if isinstance(data, Mapping):
        return {n: list(data[n]) for n in names}
    return data.select_columns(list(names))[:]


def read_inputs(features: Any, examples: Any) -> RewardInputs:
    """Gather and validate the columns the rewards need (features/examples: Dataset or dict of lists)."""
    cols = _columns(features, ["example_id", "example_index", "gold_starts", "gold_ends", "is_impossible"])
    if isinstance(features, Mapping):
        offsets, tok_ptr = _flat_offsets_lists(features["offset_mapping"])
    else:
        table = features.select_columns(["offset_mapping"]).with_format("arrow")[:]
        offsets, tok_ptr = _flat_offsets_arrow(table.column("offset_mapping"))
    ex = _columns(examples, ["id", "context", "answers"])
    contexts, gold_texts = [], []
    for k, (ex_idx, ex_id) in enumerate(zip(cols["example_index"], cols["example_id"])):
        if not 0 <= ex_idx < len(ex["id"]):
            raise ValueError(
                f"feature {k} (example {ex_id!r}): example_index {ex_idx} is out of range for {len(ex['id'])} examples"
            )
        if ex["id"][ex_idx] != ex_id:
            raise ValueError(
                f"feature {k}: example_id {ex_id!r} but examples row {ex_idx} has id "
                f"{ex['id'][ex_idx]!r} (features built from other examples?)"
            )
        contexts.append(ex["context"][ex_idx])
        gold_texts.append(list(ex["answers"][ex_idx]["text"]))
    inputs = RewardInputs(
        offsets,
        tok_ptr,
        [list(g) for g in cols["gold_starts"]],
        [list(g) for g in cols["gold_ends"]],
        [str(i) for i in cols["example_id"]],
        [int(i) for i in cols["example_index"]],
        [bool(b) for b in cols["is_impossible"]],
        contexts,
        gold_texts,
    )
    check_offsets(inputs.offsets, inputs.tok_ptr, [len(c) for c in inputs.contexts], inputs.example_ids)
    return inputs
