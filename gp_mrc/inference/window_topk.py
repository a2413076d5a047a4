"""Per window, vectorised: the top-k non-null spans of each window in a batch by span probability (log-softmax of
the span scores over the window's valid spans, the null span included) and the null log-probability; then the
windows' results gathered by feature index for decoding.best_answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch

from ..method import span_log_probs


@dataclass
class WindowTopK:
    """Top-k spans of each window in a batch (all tensors on CPU)."""

    log_probs: torch.Tensor  # (B, k), −inf where the window has fewer than k valid spans
    starts: torch.Tensor  # (B, k) token index
    ends: torch.Tensor  # (B, k) token index (inclusive)
    null_log_prob: torch.Tensor  # (B,)
    # start/end reader: log p_start(i) + log p_end(j) of the same spans and of the null, the probability they
    # are reported with (ranking stays by raw score); None for a GlobalPointer, whose log_probs are that already
    report_log_probs: torch.Tensor | None = None  # (B, k)
    report_null: torch.Tensor | None = None  # (B,)


def topk_spans(
    logits: torch.Tensor,
    span_mask: torch.Tensor,
    k: int,
    raw_scores: bool = False,
    start_log_probs: torch.Tensor | None = None,
    end_log_probs: torch.Tensor | None = None,
) -> WindowTopK:
    """Top-k valid non-null spans per window by span probability (or raw score); no loop over spans. `logits` and
    `span_mask` dense (B, n, n) or in the band layout (B, n, w) of gp_mrc/band.py, whose [b, i, l] is span (i, i + l)
    and [b, 0, 0] the null span: the band holds every valid span, so both give the same spans and probabilities.
    `start_log_probs`/`end_log_probs` (B, n): also give each span's log p_start + log p_end (start/end reader)."""
    logp = logits.float() if raw_scores else span_log_probs(logits, span_mask)
    n, w = logp.shape[-2:]
    null = logp[:, 0, 0]
    cand = logp.masked_fill(~span_mask, float("-inf"))
    cand[:, 0, 0] = float("-inf")
    vals, idx = cand.flatten(1).topk(min(k, n * w), dim=1)
    starts, ends = idx // w, idx % w
    if w < n:  # the band: column l is the span's length - 1 (past the window only where -inf: no span there)
        ends = (starts + ends).clamp(max=n - 1)
    report = report_null = None
    if start_log_probs is not None and end_log_probs is not None:
        sl, el = start_log_probs.float(), end_log_probs.float()
        report = (sl.gather(1, starts) + el.gather(1, ends)).detach().cpu()
        report_null = (sl[:, 0] + el[:, 0]).detach().cpu()
    return WindowTopK(vals.detach().cpu(), starts.cpu(), ends.cpu(), null.detach().cpu(), report, report_null)


def collect_results(batches: Iterable[tuple[torch.Tensor, WindowTopK]]) -> dict[int, tuple[list, list, list, float]]:
    """{feature_index: (log_probs, starts, ends, null)} from (feature_index, WindowTopK) batches; duplicates
    (from a distributed sampler padding its last batch) collapse to one entry."""
    results = {}
    for index, top in batches:
        for b, f in enumerate(index.tolist()):
            results[f] = (
                top.log_probs[b].tolist(),
                top.starts[b].tolist(),
                top.ends[b].tolist(),
                float(top.null_log_prob[b]),
            )
            if top.report_log_probs is not None:
                results[f] += (top.report_log_probs[b].tolist(), float(top.report_null[b]))
    return results
