"""How well a reader's top-1 score tracks being right: reliability bins, expected calibration error, and accuracy
at coverage (answer only when score ≥ t). Pure numpy; scripts/calibration.py runs readers and plots.

ECE = Σ_b (n_b / N) · |mean correctness in b − mean score in b| over 10 equal-width score bins on [0, 1]
(the last bin closed), correctness being exact match (0/1) or F1 (in [0, 1]) of the top-1 answer.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

N_BINS = 10


def reliability_bins(scores: Sequence[float], correct: Sequence[float], n_bins: int = N_BINS) -> list[dict]:
    """Per equal-width bin: {lo, hi, count, mean_score, accuracy} (mean_score/accuracy None when empty)."""
    s, c = np.asarray(scores, dtype=np.float64), np.asarray(correct, dtype=np.float64)
    if s.shape != c.shape or s.ndim != 1:
        raise ValueError(f"scores and correctness must be two lists of the same length ({s.shape} vs {c.shape})")
    if s.size and (s.min() < 0 or s.max() > 1):
        raise ValueError("scores must be probabilities in [0, 1]")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(s, edges[1:-1], right=False), 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        m = which == b
        n = int(m.sum())
        bins.append(
            {
                "lo": float(edges[b]),
                "hi": float(edges[b + 1]),
                "count": n,
                "mean_score": float(s[m].mean()) if n else None,
                "accuracy": float(c[m].mean()) if n else None,
            }
        )
    return bins


def expected_calibration_error(scores: Sequence[float], correct: Sequence[float], n_bins: int = N_BINS) -> float:
    bins = reliability_bins(scores, correct, n_bins)
    total = sum(b["count"] for b in bins)
    if total == 0:
        raise ValueError("no scores: the ECE of nothing is undefined")
    return sum(b["count"] / total * abs(b["accuracy"] - b["mean_score"]) for b in bins if b["count"])


def accuracy_at_coverage(
    scores: Sequence[float],
    em: Sequence[float],
    f1: Sequence[float],
    coverages: Sequence[float] = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1),
) -> list[dict]:
    """For each coverage c: answer the ⌈c·N⌉ questions of highest score; the threshold that does it (the lowest
    score answered), and EM/F1 (in %) over the questions answered."""
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="stable")
    e, f = np.asarray(em, dtype=np.float64)[order], np.asarray(f1, dtype=np.float64)[order]
    rows = []
    for cov in coverages:
        k = max(1, int(np.ceil(cov * len(s))))
        rows.append(
            {
                "coverage": float(cov),
                "answered": k,
                "threshold": float(s[order][k - 1]),
                "em": 100 * float(e[:k].mean()),
                "f1": 100 * float(f[:k].mean()),
            }
        )
    return rows


def coverage_curve(scores: Sequence[float], f1: Sequence[float], points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """(coverage, F1 % of the answered) for the top-k answered, k over `points` coverages from 1/N to 1."""
    s = np.asarray(scores, dtype=np.float64)
    f = np.asarray(f1, dtype=np.float64)[np.argsort(-s, kind="stable")]
    running = np.cumsum(f) / np.arange(1, len(f) + 1)
    ks = np.unique(np.clip(np.round(np.linspace(1, len(f), points)).astype(int), 1, len(f)))
    return ks / len(f), 100 * running[ks - 1]
