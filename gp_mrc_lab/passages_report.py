"""The passage-ranking table over seeds: readers named `<reader>_s<seed>` pooled into mean ± sd rows, and the
paired (same seed, same sets) difference of two readers."""

from __future__ import annotations

import re
import statistics

POOLED = (
    ("passage_accuracy", "gold passage top-1 %", 1),
    ("top1_f1", "top-1 F1", 1),
    ("single_passage_f1", "F1, gold passage alone", 1),
    ("auroc", "AUROC answerable vs not", 3),
    ("unanswerable_answered", "unanswerable answered %", 1),
)
_SEED = re.compile(r"^(?P<reader>.+)_s(?P<seed>\d+)$")


def mean_sd(xs: list[float], digits: int) -> str:
    if len(xs) == 1:
        return f"{xs[0]:.{digits}f}"
    return f"{statistics.mean(xs):.{digits}f} ± {statistics.stdev(xs):.{digits}f}"


def by_seed(results: list[dict]) -> dict[tuple[str, str, str], dict[int, dict]]:
    """{(dev set, mode, reader): {seed: metrics}} for result files whose reader name ends in _s<seed>."""
    out: dict[tuple[str, str, str], dict[int, dict]] = {}
    for r in results:
        m = _SEED.match(r["reader"])
        if not m:
            continue
        for mode, metrics in r["modes"].items():
            if metrics.get("sets"):
                out.setdefault((r["name"], mode, m["reader"]), {})[int(m["seed"])] = metrics
    return out


def pooled_table(results: list[dict], versus: tuple[str, str] | None = None) -> str:
    """Mean ± sd over seeds per (dev set, mode, reader); with versus=(a, b) also the rows "a − b", paired by seed."""
    groups = by_seed(results)
    head = ["dev set", "distractors", "reader", "seeds", *(title for _, title, _ in POOLED)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (name, mode, reader), seeds in sorted(groups.items()):
        cells = [mean_sd([seeds[s][key] for s in sorted(seeds)], d) for key, _, d in POOLED]
        lines.append(f"| {name} | {mode.replace('_', ' ')} | {reader} | {len(seeds)} | " + " | ".join(cells) + " |")
    if versus:
        a, b = versus
        for (name, mode, reader), seeds in sorted(groups.items()):
            other = groups.get((name, mode, b))
            common = sorted(set(seeds) & set(other or {}))
            if reader != a or not common:
                continue
            cells = [mean_sd([seeds[s][key] - other[s][key] for s in common], d) for key, _, d in POOLED]
            lines.append(
                f"| {name} | {mode.replace('_', ' ')} | {a} − {b} (paired) | {len(common)} | "
                + " | ".join(cells)
                + " |"
            )
    return "\n".join(lines)


def paired_mean(results: list[dict], name: str, mode: str, a: str, b: str, key: str) -> float:
    """Mean over common seeds of a − b on one metric (for tests and prose)."""
    groups = by_seed(results)
    sa, sb = groups[(name, mode, a)], groups[(name, mode, b)]
    return statistics.mean(sa[s][key] - sb[s][key] for s in sorted(set(sa) & set(sb)))
