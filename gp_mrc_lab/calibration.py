#!/usr/bin/env python
"""Calibration of readers' top-1 scores, side by side, for BENCHMARKS.md's "Calibration" section.

    python scripts/calibration.py --model globalpointer=runs/calib_gp --model start_end=runs/calib_se \\
        --dev_file ../shared/data/squad_v1.1/dev-v1.1.shared.json --max_questions 2000 \\
        --output runs/calibration/squad_v1.json --plot docs/calibration_squad_v1.png

For each reader (any model folder Reader takes): its top-1 answer and score on the dev questions (Reader.answer,
the folder's inference settings), then exact match and F1 of each answer; the expected calibration error of the
score against EM and against F1 (10 equal-width bins, calibration_metrics.py), the reliability bins, and EM/F1 at
coverage (answer only when score ≥ t). The score is a GlobalPointer's span probability in its window, and a
start/end reader's p_start · p_end in its window (transformers' pipeline score). The PNG shows, per reader, the
reliability diagram (EM and F1 against the score) and, last, F1 against coverage for all readers.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys

from .argtypes import named_model


def evaluate_reader(name: str, path: str, examples, args: argparse.Namespace) -> dict:
    from .calibration_metrics import accuracy_at_coverage, expected_calibration_error, reliability_bins
    from gp_mrc.inference.reader import Reader
    from gp_mrc.metrics.scoring import exact_match, f1_score

    reader = Reader.from_pretrained(path, batch_size=args.batch_size, mixed_precision=args.mixed_precision)
    lang = reader.settings.lang
    records = [{"id": e["id"], "question": e["question"], "context": e["context"]} for e in examples]
    answers = reader.answer(records, top_k=1, progress=True)
    scores, em, f1 = [], [], []
    for ex, a in zip(examples, answers):
        top = a[0] if a else {"answer": "", "score": 0.0}
        golds = list(ex["answers"]["text"])
        scores.append(float(top["score"]))
        em.append(exact_match(top["answer"], golds, lang))
        f1.append(f1_score(top["answer"], golds, lang))
    n = len(scores)
    return {
        "name": name,
        "model": path,
        "questions": n,
        "lang": lang,
        "mixed_precision": reader.mixed_precision,
        "em": 100 * sum(em) / n,
        "f1": 100 * sum(f1) / n,
        "mean_score": sum(scores) / n,
        "ece_em": expected_calibration_error(scores, em),
        "ece_f1": expected_calibration_error(scores, f1),
        "bins_em": reliability_bins(scores, em),
        "bins_f1": reliability_bins(scores, f1),
        "coverage": accuracy_at_coverage(scores, em, f1),
        "scores": scores,
        "em_per_question": em,
        "f1_per_question": f1,
    }


def plot(results: list[dict], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .calibration_metrics import coverage_curve

    fig, axes = plt.subplots(1, len(results) + 1, figsize=(4.2 * (len(results) + 1), 4.2))
    for ax, r in zip(axes, results):
        width = 0.1
        for key, label, color, shift in (
            ("bins_em", "exact match", "tab:blue", -0.02),
            ("bins_f1", "F1", "tab:orange", 0.02),
        ):
            bins = [b for b in r[key] if b["count"]]
            ax.plot(
                [b["mean_score"] for b in bins],
                [b["accuracy"] for b in bins],
                "o-",
                color=color,
                label=f"{label} (ECE {r['ece_' + key[5:]]:.3f})",
            )
        counts = [b["count"] for b in r["bins_em"]]
        ax.bar(
            [b["lo"] + width / 2 for b in r["bins_em"]],
            [c / max(counts) * 0.25 for c in counts],
            width=width,
            color="lightgray",
            edgecolor="gray",
            label="share of questions (scaled)",
        )
        ax.plot([0, 1], [0, 1], "k--", lw=0.8)
        ax.set(
            xlim=(0, 1),
            ylim=(0, 1),
            xlabel="top-1 score (mean in bin)",
            ylabel="accuracy in bin",
            title=f"{r['name']}: EM {r['em']:.1f}, F1 {r['f1']:.1f}",
        )
        ax.legend(loc="upper left", fontsize=8)
    ax = axes[-1]
    for r in results:
        cov, f1 = coverage_curve(r["scores"], r["f1_per_question"])
        ax.plot(cov, f1, label=r["name"])
    ax.set(
        xlim=(0, 1),
        ylim=(0, 100),
        xlabel="coverage (answered when score ≥ t)",
        ylabel="F1 of answered (%)",
        title="F1 at coverage",
    )
    ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", type=named_model, default=[], help="NAME=MODEL_DIR (repeat)")
    p.add_argument(
        "--add_results",
        action="append",
        default=[],
        help="readers measured by an earlier run (its --output), on the same questions: shown beside",
    )
    p.add_argument("--dev_file", required=True)
    p.add_argument("--max_questions", type=int, default=None, help="the first N questions of the dev file")
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--mixed_precision", default="auto", choices=["auto", "no", "bf16", "fp16"])
    p.add_argument("--output", default=None, help="the figures as JSON")
    p.add_argument("--plot", default=None, help="the reliability diagrams and coverage curve as PNG")
    return p


def print_results(results: list[dict]) -> None:
    """Each reader's EM, F1, mean score and calibration errors, then its coverage curve."""
    for r in results:
        print(
            f"{r['name']}: {r['questions']} questions, EM {r['em']:.2f} F1 {r['f1']:.2f}, mean score "
            f"{r['mean_score']:.3f}, ECE vs EM {r['ece_em']:.4f}, vs F1 {r['ece_f1']:.4f}"
        )
        for row in r["coverage"]:
            print(
                f"   coverage {row['coverage']:.0%}: score >= {row['threshold']:.3f}  EM {row['em']:.1f} "
                f"F1 {row['f1']:.1f}"
            )


def main() -> int:
    p = build_parser()
    args = p.parse_args()
    if not args.model and not args.add_results:
        p.error("give --model NAME=DIR (or --add_results FILE)")
    from gp_mrc.data.examples import DataError, load_examples

    try:
        examples = load_examples(args.dev_file, version_2=False, require_answers=False, max_samples=args.max_questions)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    results = []
    for path in args.add_results:
        with open(path, encoding="utf-8") as f:
            earlier = json.load(f)["readers"]
        if any(r["questions"] != len(examples) for r in earlier):
            print(f"error: {path} was measured on other questions (not the first {len(examples)})", file=sys.stderr)
            return 2
        results += earlier
    results += [evaluate_reader(name, path, examples, args) for name, path in args.model]
    print_results(results)
    meta = {
        "dev_file": os.path.basename(args.dev_file),
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "bins": 10,
        "command": " ".join(sys.argv),
    }
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump({**meta, "readers": results}, f, indent=1)
    if args.plot:
        plot(
            results,
            args.plot,
            f"{meta['dev_file']}, first {len(examples)} questions: top-1 score reliability (10 equal-width bins)",
        )
    return 0
