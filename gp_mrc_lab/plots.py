"""The study's learning-curve plot (mean dev F1 over seeds, per variant)."""

from __future__ import annotations

import statistics

from .results import load_results
from .studies import STUDIES


def plot(study: str, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    by_variant: dict[str, list[dict]] = {}
    for r in load_results(study):
        by_variant.setdefault(r["variant"], []).append(r)
    for key, rs in by_variant.items():
        if len(rs) < 2:  # the headline rows only: one-seed variants are in the tables
            continue
        steps = sorted({c["step"] for r in rs for c in r["curve"]})
        ys = [statistics.mean(c["f1"] for r in rs for c in r["curve"] if c["step"] == s) for s in steps]
        ax.plot(steps, ys, marker="o", label=f"{key} ({len(rs)} seeds)")
    ax.set_xlabel("optimizer step")
    flags = STUDIES[study].flags
    n = flags[flags.index("--intermediate_eval_samples") + 1] if "--intermediate_eval_samples" in flags else "all"
    ax.set_ylabel(f"dev F1 (first {n} questions; final point: all)")
    ax.set_title(f"{study}: learning curves (mean over seeds)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
