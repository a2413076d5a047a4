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
import os
import sys

from gp_mrc.settings import MAX_ANSWER_LENGTH

from .benchmark_report import write_report
from .benchmark_runs import CONFIGS, run_training
from .benchmark_timing import measure_inference, measure_step_overhead
from .paths import ROOT
from .report import report


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
    write_report(args, out_dir, runs, speed, step)
