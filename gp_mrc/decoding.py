"""Span logits → answers. The same functions serve evaluation during training and prediction.

Per window (vectorised): log p(i, j) = log-softmax of the span scores over the window's valid spans
(the null span included), then the top-k non-null spans and the null log-probability.
Per example (across its windows): candidates are ranked by log p — comparable across windows because
each window's softmax also holds the null span, which takes the mass where the answer is not in that
window. For SQuAD v2 the answer is "" when min_window log p(null) − best log p(span) > threshold.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import torch

from .losses import span_log_probs


@dataclass
class WindowTopK:
    """Top-k spans of each window in a batch (all tensors on CPU)."""

    log_probs: torch.Tensor  # (B, k), −inf where the window has fewer than k valid spans
    starts: torch.Tensor  # (B, k) token index
    ends: torch.Tensor  # (B, k) token index (inclusive)
    null_log_prob: torch.Tensor  # (B,)


def topk_spans(logits: torch.Tensor, span_mask: torch.Tensor, k: int, raw_scores: bool = False) -> WindowTopK:
    """Top-k valid non-null spans per window by span probability (or raw score); no loop over spans."""
    logp = logits.float() if raw_scores else span_log_probs(logits, span_mask)
    n = logp.shape[-1]
    null = logp[:, 0, 0]
    cand = logp.masked_fill(~span_mask, float("-inf"))
    cand[:, 0, 0] = float("-inf")
    vals, idx = cand.flatten(1).topk(min(k, n * n), dim=1)
    return WindowTopK(vals.detach().cpu(), (idx // n).cpu(), (idx % n).cpu(), null.detach().cpu())


@dataclass
class Candidate:
    log_prob: float
    start: int  # character offsets into the context, end exclusive
    end: int


def best_answers(
    examples: Any,
    features: Any,
    results: dict[int, tuple[Sequence[float], Sequence[int], Sequence[int], float]],
    *,
    n_best_size: int = 20,
    version_2_with_negative: bool = False,
    null_score_diff_threshold: float = 0.0,
    raw_scores: bool = False,
) -> tuple[dict[str, str], dict[str, list[dict]], dict[str, float]]:
    """Per example: the best answer text over all its windows, an n-best list, and the null score diff.

    `results[feature_index] = (log_probs, starts, ends, null_log_prob)` for every feature. Text is cut
    from the original context by offsets, so it is exactly the passage's characters.
    Returns (predictions {id: text}, nbest {id: [{text, start, end, score, probability}]},
    null_diff {id: min null log p − best span log p}). With `raw_scores` (start/end baseline) scores are
    raw logits and probabilities a softmax over the example's n-best, as in the transformers examples.
    """
    by_example: dict[int, list[int]] = defaultdict(list)
    ex_index = features["example_index"]
    for f in range(len(ex_index)):
        by_example[ex_index[f]].append(f)
    predictions, nbest, null_diff = {}, {}, {}
    offsets_col = features["offset_mapping"]
    for e in range(len(examples)):
        ex = examples[e]
        found: dict[tuple[int, int], float] = {}
        null = math.inf
        for f in by_example.get(e, []):
            if f not in results:
                raise KeyError(f"no model output for feature {f} of example {ex['id']!r}")
            log_probs, starts, ends, null_lp = results[f]
            offsets = offsets_col[f]
            null = min(null, float(null_lp))
            for lp, s, t in zip(log_probs, starts, ends):
                lp = float(lp)
                if not math.isfinite(lp):
                    continue
                span = (offsets[int(s)][0], offsets[int(t)][1])
                if span[0] < 0 or span[1] <= span[0]:
                    continue  # cannot happen for masked logits; guards hand-made inputs
                if lp > found.get(span, -math.inf):
                    found[span] = lp
        cands = sorted((Candidate(lp, s, t) for (s, t), lp in found.items()), key=lambda c: -c.log_prob)[:n_best_size]
        context = ex["context"]
        entries = [{"text": context[c.start:c.end], "start": c.start, "end": c.end,
                    "score": c.log_prob, "probability": math.exp(c.log_prob)} for c in cands]
        best_lp = cands[0].log_prob if cands else -math.inf
        diff = null - best_lp if math.isfinite(null) else -math.inf
        answer = entries[0]["text"] if entries else ""
        if version_2_with_negative:
            if math.isfinite(null):
                entries.append({"text": "", "start": -1, "end": -1, "score": null, "probability": math.exp(null)})
                entries.sort(key=lambda x: -x["score"])
        if raw_scores and entries:
            top = max(x["score"] for x in entries)
            z = sum(math.exp(x["score"] - top) for x in entries)
            for x in entries:
                x["probability"] = math.exp(x["score"] - top) / z
        if version_2_with_negative:
            if not cands or diff > null_score_diff_threshold:
                answer = ""
        predictions[ex["id"]] = answer
        nbest[ex["id"]] = entries
        null_diff[ex["id"]] = diff
    return predictions, nbest, null_diff


def collect_results(batches: Iterable[tuple[torch.Tensor, WindowTopK]]) -> dict[int, tuple[list, list, list, float]]:
    """{feature_index: (log_probs, starts, ends, null)} from (feature_index, WindowTopK) batches; duplicates
    (from a distributed sampler padding its last batch) collapse to one entry."""
    results = {}
    for index, top in batches:
        for b, f in enumerate(index.tolist()):
            results[f] = (top.log_probs[b].tolist(), top.starts[b].tolist(), top.ends[b].tolist(),
                          float(top.null_log_prob[b]))
    return results
