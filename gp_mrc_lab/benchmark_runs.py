"""scripts/benchmark.py's configurations (`CONFIGS`: each reader and objective it trains) and their training runs:
gp_mrc_lab/train_variant.py in a subprocess per configuration and seed, a finished run reused when its arguments
match."""

from __future__ import annotations

import argparse
import json
import os
import sys

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
