"""The reward's own share, pooled over every study: each branch that adds expected F1 to the gold-span loss
("<trunk>__f1_added") against its trunk, same study and seed — the only difference between the two runs is the
reward term, so the difference is the reward's share of the default recipe."""

from __future__ import annotations

import statistics

from .report import f1_of
from .results import load_results

BRANCH = "__f1_added"  # the default recipe's branch suffix: span-softmax (or multilabel) CE + expected F1 added
DECODINGS = ("expected_f1@1", "argmax")  # both runs decoded the same way, as the studies' paired tables do


def reward_pairs(results: list[dict]) -> list[tuple[dict, dict]]:
    """(branch, trunk) result pairs of the same study and seed, ordered by study, variant and seed."""
    by_key = {(r["study"], r["variant"], r["seed"]): r for r in results}
    pairs = [
        (r, by_key[(r["study"], r["parent"], r["seed"])])
        for r in results
        if r["variant"].endswith(BRANCH) and r.get("parent") and (r["study"], r["parent"], r["seed"]) in by_key
    ]
    return sorted(pairs, key=lambda p: (p[0]["study"], p[0]["variant"], p[0]["seed"]))


def pooled(diffs: list[float]) -> tuple[float, float | None, int]:
    """Mean, standard error of the mean (None for one pair) and how many differences are positive."""
    se = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else None
    return statistics.mean(diffs), se, sum(d > 0 for d in diffs)


def reward_share_table(results: list[dict] | None = None) -> str:
    """Markdown: one row per pair (F1 differences under each decoding), then the pooled rows."""
    pairs = reward_pairs(load_results() if results is None else results)
    if not pairs:
        return "no (branch, trunk) pairs in the result files"
    lines = [
        "| study | branch − trunk | seed | " + " | ".join(f"ΔF1 {d}" for d in DECODINGS) + " |",
        "|---|---|---|" + "---|" * len(DECODINGS),
    ]
    diffs: dict[str, list[float]] = {d: [] for d in DECODINGS}
    for branch, trunk in pairs:
        row = []
        for d in DECODINGS:
            diffs[d].append(f1_of(branch, d) - f1_of(trunk, d))
            row.append(f"{diffs[d][-1]:+.2f}")
        lines.append(
            f"| {branch['study']} | `{branch['variant']}` − `{trunk['variant']}` | {branch['seed']} | "
            + " | ".join(row)
            + " |"
        )
    studies = len({b["study"] for b, _ in pairs})
    for d in DECODINGS:
        mean, se, positive = pooled(diffs[d])
        se_text = f", standard error {se:.2f}" if se is not None else ""
        lines.append(
            f"\nPooled, {d}: **{mean:+.2f} F1**{se_text}; positive in {positive} of {len(pairs)} pairs "
            f"({studies} studies)."
        )
    return "\n".join(lines)
