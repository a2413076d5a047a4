"""scripts/benchmark.py's report: the markdown table (quality over seeds, SQuAD v2 diagnostics, speed), the targets
met or missed, the learning-curve plot, and the files it writes (table.md, results.json)."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys

from .benchmark_runs import CONFIGS
from .report import mean_sd


def load_golds(validation_file: str, max_eval_samples: int | None) -> dict[str, list[str]]:
    """{question id: gold answer texts} of the evaluated questions ([] = unanswerable)."""
    from gp_mrc.data.examples import load_examples

    return {
        ex["id"]: list(ex["answers"]["text"])
        for ex in load_examples(validation_file, version_2=True, max_samples=max_eval_samples, require_answers=False)
    }


def v2_diagnostics(run_dir: str, golds: dict[str, list[str]]) -> dict[str, float]:
    """SQuAD v2 figures that do not depend on the null threshold: F1 of the best non-null span on answerable
    questions, and the official script's best_f1 (null threshold tuned on the dev set itself, an upper bound).
    Short runs often answer "" everywhere at threshold 0, which hides how well they read."""
    from gp_mrc.inference.nbest_file import read_nbest
    from gp_mrc.metrics.aggregate import best_f1
    from gp_mrc.metrics.scoring import f1_score

    nbest = read_nbest(os.path.join(run_dir, "nbest_predictions.json"))  # either format, as the decoder's entries
    with open(os.path.join(run_dir, "null_odds.json")) as f:
        odds = json.load(f)
    best_span = {}
    for qid in golds:
        spans = [e for e in nbest.get(qid, []) if e["text"]]
        best_span[qid] = max(spans, key=lambda e: e["score"])["text"] if spans else ""
    answerable = [q for q, gold in golds.items() if gold]
    has_ans_f1 = sum(f1_score(best_span[q], golds[q], "en") for q in answerable)
    return {
        "HasAns_f1_best_span": 100.0 * has_ans_f1 / max(len(answerable), 1),
        "best_f1": best_f1(best_span, golds, odds, "en")[0],
    }


def f1_key(res: dict) -> tuple[str, str]:
    return ("exact", "f1") if "exact" in res else ("exact_match", "f1")


def config_row(
    c: str, runs: list[dict], speed: dict[str, float], golds: dict[str, list[str]], v2: bool
) -> tuple[str, dict]:
    """(the table's row of one configuration: quality, mean ± sd over its seeds, training and inference speed;
    its EM and F1 per seed and result files)."""
    res = [r["results"] for r in runs]
    em_k, f1_k = f1_key(res[0])
    ems, f1s = [r[em_k] for r in res], [r[f1_k] for r in res]
    row = f"| ({c}) {CONFIGS[c][0]} | {mean_sd(ems)} | {mean_sd(f1s)} |"
    if v2:
        diag = [v2_diagnostics(r["dir"], golds) for r in runs]
        row += (
            f" {mean_sd([r.get('HasAns_f1', float('nan')) for r in res])} |"
            f" {mean_sd([r.get('NoAns_f1', float('nan')) for r in res])} |"
            f" {mean_sd([d['HasAns_f1_best_span'] for d in diag])} | {mean_sd([d['best_f1'] for d in diag])} |"
        )
    row += (
        f" {statistics.median([r['train_windows_per_second'] for r in res]):.2f} |"
        f" {speed.get(c, float('nan')):.1f} | {max(r['peak_rss_mb'] for r in res):.0f} |"
    )
    return row, {"em": ems, "f1": f1s, "results": res}


def results_table(args: argparse.Namespace, runs: dict, speed: dict[str, float]) -> tuple[str, dict]:
    """(the markdown table, {config: its EM and F1 per seed and result files})."""
    v2 = args.version_2_with_negative
    header = (
        "| config | EM | F1 |"
        + (" HasAns F1 | NoAns F1 | HasAns F1, best non-null span | best F1 (dev-tuned null threshold) |" if v2 else "")
        + " train windows/s | inference questions/s | peak RSS (MB) |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    golds = load_golds(args.validation_file, args.max_eval_samples) if v2 else {}  # read once for all runs
    summary = {}
    for c in args.configs:
        row, summary[c] = config_row(c, runs[c], speed, golds, v2)
        lines.append(row)
    if "a" in args.configs:
        import transformers

        cell = (
            f"{speed['pipeline(a)']:.1f}"
            if "pipeline(a)" in speed
            else f"n/a: removed in transformers {transformers.__version__} (use --pipeline_python)"
        )
        lines.append(
            '| transformers pipeline("question-answering") on (a)\'s model | | |'
            + (" | | | |" if v2 else "")
            + f" | {cell} | |"
        )
    return "\n".join(lines), summary


def targets(summary: dict, speed: dict[str, float], step: dict[str, float]) -> list[str]:
    """The benchmark's targets, each with its figures and whether it was met."""
    f1m = {c: statistics.mean(summary[c]["f1"]) for c in summary}
    lines = []
    if {"a", "c"} <= set(f1m):
        lines.append(
            f"- (c) ≥ (a) + 1.0 F1: {f1m['c']:.1f} vs {f1m['a']:.1f} → "
            f"{'met' if f1m['c'] >= f1m['a'] + 1.0 else 'missed'} ({f1m['c'] - f1m['a']:+.1f})"
        )
    if {"a", "b"} <= set(f1m):
        lines.append(
            f"- (b) ≥ (a) − 0.5 F1: {f1m['b']:.1f} vs {f1m['a']:.1f} → "
            f"{'met' if f1m['b'] >= f1m['a'] - 0.5 else 'missed'} ({f1m['b'] - f1m['a']:+.1f})"
        )
    if {"b", "d"} <= set(f1m):
        lines.append(f"- (d) clearly below (b): {f1m['d']:.1f} vs {f1m['b']:.1f} ({f1m['d'] - f1m['b']:+.1f})")
    lines.append(
        f"- head + loss add ≤ 5% to the training step of (a): {step['overhead_pct']:+.1f}% "
        f"(median CPU time per step {step['globalpointer_step_s']:.2f}s vs {step['start_end_step_s']:.2f}s, "
        f"batch {step['batch']} × {step['seq_len']}) → {'met' if step['overhead_pct'] <= 5 else 'missed'}"
    )
    if {"a", "c"} <= set(speed):
        lines.append(
            f"- inference throughput (c) ≥ (a): {speed['c']:.1f} vs {speed['a']:.1f} questions/s → "
            f"{'met' if speed['c'] >= speed['a'] else 'missed'}"
        )
    return lines


def plot_curves(runs: dict, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for config, seeds in runs.items():
        by_step: dict[int, list[float]] = {}
        for run in seeds:
            for point in run["curve"]:
                by_step.setdefault(point["step"], []).append(point["f1"])
        if by_step:
            steps = sorted(by_step)
            ax.plot(
                steps,
                [statistics.mean(by_step[s]) for s in steps],
                marker="o",
                label=f"({config}) {CONFIGS[config][0]}",
            )
    ax.set_xlabel("training steps")
    ax.set_ylabel("dev F1")
    ax.set_title(f"{title}\nintermediate points: first dev questions; last point: full dev set", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_report(args: argparse.Namespace, out_dir: str, runs: dict, speed: dict, step: dict) -> None:
    """table.md (the table, the targets, the plot's path), results.json and f1_curve.png in out_dir; the markdown
    printed."""
    table, summary = results_table(args, runs, speed)
    target_lines = targets(summary, speed, step)
    plot = os.path.join(out_dir, "f1_curve.png")
    plot_curves({c: runs[c] for c in args.configs}, plot, f"{args.name}: dev F1 vs steps (mean over seeds)")
    md = [
        f"### {args.name}",
        "",
        f"Command: `python scripts/benchmark.py {' '.join(sys.argv[1:])}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}, "
        f"Python {platform.python_version()}; date {datetime.date.today().isoformat()}  ",
        f"Seeds: {args.seeds}; inference timed on {args.speed_samples} dev questions, median of "
        f"{args.speed_repeats} interleaved repeats; training windows/s excludes evaluation.",
        "",
        table,
        "",
        "Targets:",
        *target_lines,
        "",
        f"Plot: {plot}",
    ]
    with open(os.path.join(out_dir, "table.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"summary": summary, "speed": speed, "step": step, "argv": sys.argv[1:]}, f, indent=2)
    print("\n".join(md))
