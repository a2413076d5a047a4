#!/usr/bin/env python
"""Side by side: the start/end reader against GlobalPointer (multilabel, + expected F1, without RoPE).

Every configuration trains with the same encoder, data subset, steps, learning rate, batch size, seeds and
max_seq_length (each run is gp_mrc_lab/train_variant.py, train.py with the research flags, in a subprocess, so runs cannot leak state into each other),
then this script measures, in one process and interleaved so machine noise hits all alike:
inference throughput of each trained model and of transformers' pipeline("question-answering") on (a)'s
model, and the training-step time of GlobalPointer head + loss against the start/end head.
Finished runs are reused when their arguments match, so an interrupted benchmark continues.

    python scripts/benchmark.py --name squad_v1 \\
        --train_file ../shared/data/squad_v1.1/train-v1.1.explorer.json \\
        --validation_file ../shared/data/squad_v1.1/dev-v1.1.shared.json --max_train_samples 4000
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from gp_mrc.settings import MAX_ANSWER_LENGTH

from .paths import ROOT
from .report import report
from .commands import ENTRY
from .running import finished, train_in_subprocess

# GlobalPointer rows use the additive start/end terms (--span_bias), which measured better than the plain
# bilinear head in short runs (docs in gp_mrc/models/modeling.py); --extra applies to every row, (a) included.
GP = ["--span_bias"]
CONFIGS = {
    "a": ("start/end reader (AutoModelForQuestionAnswering)", ["--architecture", "start_end"]),
    "b": ("GlobalPointer, multilabel", [*GP, "--objective", "multilabel"]),
    "c": ("GlobalPointer, multilabel warm start → expected F1 + entropy", [*GP, "--objective", "f1"]),
    "d": ("GlobalPointer without RoPE (multilabel)", [*GP, "--objective", "multilabel", "--no_rope"]),
    "e": (
        "GlobalPointer, span-softmax CE warm start → expected F1 + entropy",
        [*GP, "--objective", "f1", "--warm_start_loss", "softmax"],
    ),
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument
    a("--name", required=True, help="benchmark name: outputs go to <output_root>/<name>")
    a(
        "--report",
        action="store_true",
        help="only print the quality study's tables from benchmarks/results/ (scripts/study.py) and exit",
    )
    a("--output_root", default=os.path.join(ROOT, "bench_out"))
    a("--model_name_or_path", default=None, help="default: the packaged all-MiniLM-L6-v2")
    a("--train_file", required=True)
    a("--validation_file", required=True)
    a("--version_2_with_negative", action="store_true")
    a("--lang", default="auto")
    a("--configs", nargs="+", default=list("abcd"), choices=list(CONFIGS))
    a("--seeds", nargs="+", type=int, default=[42, 43])
    a("--max_train_samples", type=int, default=4000)
    a("--max_eval_samples", type=int, default=None)
    a("--max_seq_length", type=int, default=256)
    a("--doc_stride", type=int, default=64)
    a("--per_device_train_batch_size", type=int, default=16)
    a("--learning_rate", type=float, default=1e-4)
    a("--num_train_epochs", type=float, default=1)
    a("--max_train_steps", type=int, default=None)
    a("--warm_start_steps", type=float, default=0.3)
    a("--entropy_lambda", type=float, default=0.01)
    a("--f1_window", type=int, default=None)
    a("--max_answer_length", type=int, default=MAX_ANSWER_LENGTH)
    a("--eval_steps", type=int, default=None, help="learning-curve points every N steps")
    a("--intermediate_eval_samples", type=int, default=300)
    a("--speed_samples", type=int, default=300, help="dev questions timed for inference throughput")
    a("--speed_repeats", type=int, default=3)
    a("--step_repeats", type=int, default=7)
    a(
        "--pipeline_python",
        default=None,
        help="a Python with transformers<5 to time pipeline('question-answering') "
        "(transformers 5 removed that pipeline)",
    )
    a(
        "--extra",
        nargs=argparse.REMAINDER,
        default=[],
        help="more training flags (gp_mrc_lab/train_variant.py) for every run",
    )
    return p.parse_args()


def train_flags(args: argparse.Namespace) -> list[str]:
    flags = [
        "--train_file",
        args.train_file,
        "--validation_file",
        args.validation_file,
        "--max_train_samples",
        str(args.max_train_samples),
        "--max_seq_length",
        str(args.max_seq_length),
        "--doc_stride",
        str(args.doc_stride),
        "--per_device_train_batch_size",
        str(args.per_device_train_batch_size),
        "--learning_rate",
        str(args.learning_rate),
        "--num_train_epochs",
        str(args.num_train_epochs),
        "--warm_start_steps",
        str(args.warm_start_steps),
        "--entropy_lambda",
        str(args.entropy_lambda),
        "--max_answer_length",
        str(args.max_answer_length),
        "--lang",
        args.lang,
        "--intermediate_eval_samples",
        str(args.intermediate_eval_samples),
    ]
    for name in ("model_name_or_path", "max_eval_samples", "max_train_steps", "eval_steps", "f1_window"):
        if getattr(args, name) is not None:
            flags += [f"--{name}", str(getattr(args, name))]
    if args.version_2_with_negative:
        flags.append("--version_2_with_negative")
    return flags + list(args.extra)


def run_training(args: argparse.Namespace, config: str, seed: int) -> dict:
    out = os.path.join(args.output_root, args.name, f"{config}-seed{seed}")
    cmd = [sys.executable, *ENTRY, *train_flags(args), *CONFIGS[config][1], "--seed", str(seed), "--output_dir", out]
    if finished(out, "bench_command.json", cmd[1:]):
        print(f"[{config} seed {seed}] reusing {out}", flush=True)
    else:
        train_in_subprocess(
            cmd[1:],
            out,
            f"[{config} seed {seed}]",
            fresh_logs=True,
            log_mode="w",
            stamp=("bench_command.json", cmd[1:]),
            cwd=os.getcwd(),
        )
    return load_run(out)


def load_run(out: str) -> dict:
    with open(os.path.join(out, "eval_results.json")) as f:
        res = json.load(f)
    curve = []
    if os.path.exists(os.path.join(out, "eval_log.jsonl")):
        with open(os.path.join(out, "eval_log.jsonl")) as f:
            curve = [json.loads(line) for line in f]
    return {"dir": out, "results": res, "curve": curve}


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


def mean_sd(xs: list[float]) -> str:
    if len(xs) == 1:
        return f"{xs[0]:.1f}"
    return f"{statistics.mean(xs):.1f} ± {statistics.stdev(xs):.1f}"


def load_for_speed(model_dir: str):
    """(model, its folder's answer-length limit)."""
    from gp_mrc.models.loading import load_model

    loaded = load_model(model_dir)
    return loaded.model.eval(), loaded.settings.max_answer_length


def measure_inference(args: argparse.Namespace, model_dirs: dict[str, str]) -> dict[str, float]:
    """Questions/s of each trained model (windows → decoding → answer text) and of the transformers pipeline."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer, pipeline

    from gp_mrc.data.examples import load_examples
    from gp_mrc.data.features import prepare_features
    from gp_mrc.inference.predict import answer_features

    examples = load_examples(
        args.validation_file,
        version_2=args.version_2_with_negative,
        require_answers=False,
        max_samples=args.speed_samples,
    )
    tokenizer = AutoTokenizer.from_pretrained(next(iter(model_dirs.values())))
    models = {c: load_for_speed(d) for c, d in model_dirs.items()}
    runners = {}
    for c, (model, max_answer_length) in models.items():

        def run(model=model, max_answer_length=max_answer_length):
            feats = prepare_features(
                examples, tokenizer, max_seq_length=args.max_seq_length, doc_stride=args.doc_stride, desc="speed"
            )
            answer_features(
                model,
                examples,
                feats,
                pad_token_id=tokenizer.pad_token_id or 0,
                batch_size=32,
                n_best_size=20,
                version_2_with_negative=args.version_2_with_negative,
                max_answer_length=max_answer_length,
                disable_progress=True,
            )

        runners[c] = run
    questions, contexts = list(examples["question"]), list(examples["context"])
    pipe_kwargs = dict(
        batch_size=32,
        max_seq_len=args.max_seq_length,
        doc_stride=args.doc_stride,
        handle_impossible_answer=args.version_2_with_negative,
    )
    if "a" in model_dirs and args.pipeline_python:
        # the pipeline in another interpreter (transformers 4.x), timed there the same way
        def run_pipeline():
            code = (
                "import sys, json, time; from transformers import pipeline; a = json.loads(sys.stdin.read()); "
                "qa = pipeline('question-answering', model=a['model'], device=-1); t = time.perf_counter(); "
                "qa(question=a['q'], context=a['c'], **a['kw']); print(time.perf_counter() - t)"
            )
            payload = json.dumps({"model": model_dirs["a"], "q": questions, "c": contexts, "kw": pipe_kwargs})
            r = subprocess.run(
                [args.pipeline_python, "-c", code], input=payload, capture_output=True, text=True, check=True
            )  # stdin: 300 passages exceed the argv limit
            return float(r.stdout.strip().splitlines()[-1])

        runners["pipeline(a)"] = run_pipeline
    elif "a" in model_dirs:
        try:
            qa = pipeline(
                "question-answering",
                model=AutoModelForQuestionAnswering.from_pretrained(model_dirs["a"]),
                tokenizer=tokenizer,
                device=-1,
            )
        except KeyError as e:  # transformers 5 removed the task
            print(f"pipeline('question-answering') unavailable here: {e}", flush=True)
        else:
            runners["pipeline(a)"] = lambda: qa(question=questions, context=contexts, **pipe_kwargs)
    import datasets

    datasets.disable_progress_bars()
    times: dict[str, list[float]] = {k: [] for k in runners}
    with torch.inference_mode():
        for _ in range(args.speed_repeats):
            for k, run in runners.items():  # interleaved: noise hits every system alike
                t = time.perf_counter()
                inner = run()  # a subprocess reports its own timing (interpreter start-up excluded)
                times[k].append(inner if isinstance(inner, float) else time.perf_counter() - t)
    return {k: len(examples) / statistics.median(v) for k, v in times.items()}


def multilabel_and_expected_f1():
    """The heavier of our objectives, both losses at weight 1 (the mixed schedule after its warm start), as the
    training's own ObjectiveConfig computes them."""
    from gp_mrc.training.objective import ObjectiveConfig

    objective = ObjectiveConfig(
        "mixed",
        warm_start_steps=0,
        warm_start_loss="multilabel",
        mixed_weight=1.0,
        reward_weight=1.0,
        entropy_lambda=0.01,
        reward_ramp_steps=0,
    )
    assert objective.weights(0) == (1.0, 1.0)
    return objective


def measure_step_overhead(args: argparse.Namespace) -> dict[str, float]:
    """Median training-step time (collate + fwd + loss + bwd + AdamW, gp_mrc_lab/step.py) of GlobalPointer head +
    losses vs the start/end head, same encoder weights, same real batch, interleaved."""
    import torch

    from gp_mrc.defaults import default_encoder_path
    from gp_mrc.models.baseline import StartEndForQuestionAnswering
    from gp_mrc.models.modeling import GlobalPointerForQuestionAnswering, HeadConfig

    from .step import Timed, median_step_seconds, step_rows

    path = args.model_name_or_path or default_encoder_path()
    rows, collate = step_rows(
        path,
        args.train_file,
        max_seq_length=args.max_seq_length,
        doc_stride=args.doc_stride,
        batch_size=args.per_device_train_batch_size,
        max_answer_length=MAX_ANSWER_LENGTH,
        max_samples=200,
        version_2=args.version_2_with_negative,
        pad_to_multiple_of=args.max_seq_length,
    )
    torch.manual_seed(0)
    gp = GlobalPointerForQuestionAnswering.from_encoder(path, HeadConfig(span_bias=True))
    se = StartEndForQuestionAnswering.from_encoder(path)
    med = median_step_seconds(
        {"a": Timed(se, collate["start_end"]), "gp": Timed(gp, collate["globalpointer"])},
        rows,
        multilabel_and_expected_f1(),
        0,
        args.step_repeats,
    )
    n = collate["start_end"](rows)["input_ids"].shape[1]
    return {
        "start_end_step_s": med["a/fp32"],
        "globalpointer_step_s": med["gp/fp32"],
        "overhead_pct": 100.0 * (med["gp/fp32"] / med["a/fp32"] - 1.0),
        "batch": len(rows),
        "seq_len": n,
    }


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


def main() -> None:
    if "--report" in sys.argv[1:]:  # every table of the quality study, from the committed result files alone
        print(report())
        return
    args = parse_args()
    out_dir = os.path.join(args.output_root, args.name)
    os.makedirs(out_dir, exist_ok=True)
    runs = {c: [run_training(args, c, s) for s in args.seeds] for c in args.configs}
    print("measuring inference throughput ...", flush=True)
    speed = measure_inference(args, {c: runs[c][0]["dir"] for c in args.configs})
    print("measuring the training step ...", flush=True)
    step = measure_step_overhead(args)

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
        res = [r["results"] for r in runs[c]]
        em_k, f1_k = f1_key(res[0])
        ems, f1s = [r[em_k] for r in res], [r[f1_k] for r in res]
        row = f"| ({c}) {CONFIGS[c][0]} | {mean_sd(ems)} | {mean_sd(f1s)} |"
        if v2:
            diag = [v2_diagnostics(r["dir"], golds) for r in runs[c]]
            row += (
                f" {mean_sd([r.get('HasAns_f1', float('nan')) for r in res])} |"
                f" {mean_sd([r.get('NoAns_f1', float('nan')) for r in res])} |"
                f" {mean_sd([d['HasAns_f1_best_span'] for d in diag])} | {mean_sd([d['best_f1'] for d in diag])} |"
            )
        row += (
            f" {statistics.median([r['train_windows_per_second'] for r in res]):.2f} |"
            f" {speed.get(c, float('nan')):.1f} | {max(r['peak_rss_mb'] for r in res):.0f} |"
        )
        lines.append(row)
        summary[c] = {"em": ems, "f1": f1s, "results": res}
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
    table = "\n".join(lines)
    f1m = {c: statistics.mean(summary[c]["f1"]) for c in summary}
    targets = []
    if {"a", "c"} <= set(f1m):
        targets.append(
            f"- (c) ≥ (a) + 1.0 F1: {f1m['c']:.1f} vs {f1m['a']:.1f} → "
            f"{'met' if f1m['c'] >= f1m['a'] + 1.0 else 'missed'} ({f1m['c'] - f1m['a']:+.1f})"
        )
    if {"a", "b"} <= set(f1m):
        targets.append(
            f"- (b) ≥ (a) − 0.5 F1: {f1m['b']:.1f} vs {f1m['a']:.1f} → "
            f"{'met' if f1m['b'] >= f1m['a'] - 0.5 else 'missed'} ({f1m['b'] - f1m['a']:+.1f})"
        )
    if {"b", "d"} <= set(f1m):
        targets.append(f"- (d) clearly below (b): {f1m['d']:.1f} vs {f1m['b']:.1f} ({f1m['d'] - f1m['b']:+.1f})")
    targets.append(
        f"- head + loss add ≤ 5% to the training step of (a): {step['overhead_pct']:+.1f}% "
        f"(median CPU time per step {step['globalpointer_step_s']:.2f}s vs {step['start_end_step_s']:.2f}s, "
        f"batch {step['batch']} × {step['seq_len']}) → {'met' if step['overhead_pct'] <= 5 else 'missed'}"
    )
    if {"a", "c"} <= set(speed):
        targets.append(
            f"- inference throughput (c) ≥ (a): {speed['c']:.1f} vs {speed['a']:.1f} questions/s → "
            f"{'met' if speed['c'] >= speed['a'] else 'missed'}"
        )
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
        *targets,
        "",
        f"Plot: {plot}",
    ]
    with open(os.path.join(out_dir, "table.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"summary": summary, "speed": speed, "step": step, "argv": sys.argv[1:]}, f, indent=2)
    print("\n".join(md))
