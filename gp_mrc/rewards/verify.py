"""Checking a table against the metric itself, and sampling its entries for a human to read.

``verify_f1_table`` recomputes ``scoring.f1_score`` for randomly sampled spans inside the pruning window and
compares it with the stored reward; it reads features and examples row by row (not through read_inputs),
so it also checks the Arrow flattening. ``sample_entries`` lists random stored answer-span entries with
their text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..metrics.scoring import f1_score

from .table import NULL_INDEX, F1Table
from .window import candidate_spans


@dataclass
class VerifyReport:
    n_checked: int = 0  # (feature, span) pairs compared, zero-valued ones included
    max_abs_diff: float = 0.0
    mismatches: list[str] = field(default_factory=list)  # descriptions of the first few


def _window_spans(feat: dict, window: int, max_answer_length: int) -> list[tuple[int, int]]:
    """Every (start, end) token span of a feature inside the pruning window, the spans the table may store."""
    ends_by_start = candidate_spans(
        feat["offset_mapping"], feat["gold_starts"], feat["gold_ends"], window, max_answer_length
    )
    return [(i, j) for i, ends in ends_by_start.items() for j in ends]


def verify_f1_table(
    table: F1Table,
    features: Any,
    examples: Any,
    *,
    lang: str,
    window: int,
    max_answer_length: int,
    n_samples: int = 1000,
    seed: int = 0,
    tol: float = 1e-3,
    spans_per_feature: int = 8,
) -> VerifyReport:
    """Compare stored rewards with scoring.f1_score on randomly sampled spans inside the window.

    Rows are read back one by one from the datasets (not through read_inputs), so this also checks
    the Arrow flattening. Null-span rows, stored zeros and spans outside the window are mismatches.
    """
    report = VerifyReport()
    rng = np.random.default_rng(seed)
    # small sets: take more spans per feature so that n_samples can still be reached
    spans_per_feature = max(spans_per_feature, -(-2 * n_samples // max(len(features), 1)))

    def mismatch(msg: str) -> None:
        if len(report.mismatches) < 20:
            report.mismatches.append(msg)

    if len(table) != len(features):
        mismatch(f"table has {len(table)} rows for {len(features)} features")
        return report
    for k in rng.permutation(len(features)).tolist():
        if report.n_checked >= n_samples:
            break
        feat = features[k]
        ex = examples[feat["example_index"]]
        stored = {(int(s), int(e)): float(v) for s, e, v in zip(*table.row(k))}
        where = f"feature {k} (example {feat['example_id']!r})"
        if feat["is_impossible"] or not feat["gold_starts"]:
            if stored != {(NULL_INDEX, NULL_INDEX): 1.0}:
                mismatch(f"{where}: expected only the null span with reward 1, got {stored}")
            continue
        offsets = feat["offset_mapping"]
        spans = _window_spans(feat, window, max_answer_length)
        outside = set(stored) - set(spans)
        if outside or any(v <= 0 for v in stored.values()):
            mismatch(f"{where}: stored entries outside the window or zero: {sorted(outside)[:5]}")
        picks = rng.choice(len(spans), size=min(spans_per_feature, len(spans)), replace=False)
        for p in picks.tolist():
            i, j = spans[p]
            text = ex["context"][offsets[i][0] : offsets[j][1]]
            want = f1_score(text, list(ex["answers"]["text"]), lang)
            diff = abs(stored.get((i, j), 0.0) - want)
            report.n_checked += 1
            report.max_abs_diff = max(report.max_abs_diff, diff)
            if diff > tol:
                mismatch(f"{where} span ({i}, {j}) {text!r}: stored {stored.get((i, j), 0.0)} != f1 {want}")
    return report


def sample_entries(table: F1Table, features: Any, examples: Any, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """n random stored answer-span entries (null-span entries left out) as {"id", "start", "end", "text",
    "f1"}, with character offsets into the context (end exclusive, context[start:end] == text)."""
    rng = np.random.default_rng(seed)
    spans = np.flatnonzero((table.starts != NULL_INDEX) | (table.ends != NULL_INDEX))
    picks = np.sort(rng.choice(spans, size=min(n, len(spans)), replace=False))
    rows = np.searchsorted(table.row_ptr, picks, side="right") - 1
    out = []
    for p, k in zip(picks.tolist(), rows.tolist()):
        feat = features[k]
        i, j = int(table.starts[p]), int(table.ends[p])
        start, end = feat["offset_mapping"][i][0], feat["offset_mapping"][j][1]
        context = examples[feat["example_index"]]["context"]
        out.append(
            {
                "id": feat["example_id"],
                "start": start,
                "end": end,
                "text": context[start:end],
                "f1": round(float(table.values[p]), 6),
            }
        )
    return out
