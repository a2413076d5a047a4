#!/usr/bin/env python
"""Speed, side by side in one process (interleaved, medians), for BENCHMARKS.md's "Speed" section.

    python scripts/benchmark_speed.py step    --train_file ../shared/data/squad_v1.1/train-v1.1.explorer.json
    python scripts/benchmark_speed.py predict --start_end_model DIR --globalpointer_model DIR \\
        --validation_file ../shared/data/squad_v1.1/dev-v1.1.shared.json
    python scripts/benchmark_speed.py train   --train_file ... (scripts/train.py at --mixed_precision auto vs no)
    python scripts/benchmark_speed.py profile --attention_dropout encoder 0 (where a train.py step's time goes)
    python scripts/benchmark_speed.py attention (scaled_dot_product_attention with and without dropout)
    python scripts/benchmark_speed.py matmul (one linear layer, fp32 against bf16: does this CPU's bf16 pay?)
    python scripts/benchmark_speed.py careful --start_end_model DIR --globalpointer_model DIR --max_seq_length 384
    python scripts/benchmark_speed.py compiled_f1 --globalpointer_model DIR (EM/F1 eager against compiled)
    python scripts/benchmark_speed.py predict_profile --globalpointer_model DIR (where predict.py's time goes)

step:    one training step — collate (the training collator, F1 rewards included for GlobalPointer) + forward +
         loss + backward + AdamW — of GlobalPointer (span_bias head, the default recipe's span-softmax CE +
         expected F1, both on) against the start/end reader, same encoder and rows, in fp32 and under bf16
         autocast, at each --attention_dropout (default 0, train.py's default).
         CPU time (time.process_time) per step: other jobs on a shared machine delay a step without changing
         its work.
predict: questions/s of `Reader` (what scripts/predict.py --input runs) on a start/end model and on a GlobalPointer
         model, against transformers' fp32 AutoModelForQuestionAnswering loop with the QA examples' n-best
         post-processing (transformers 5 removed pipeline("question-answering"); that loop is what it ran).
careful: questions/s of `Reader`, eager and compiled (--compile yes), for both folders, against the loop a careful
         user writes: windows sorted by length and padded per batch, fp32 and bf16 autocast (--loops); the compile
         time, the break-even windows, the forward pass's share of the matmul peak (gp_mrc_lab/speed_careful.py).
         A CPU without native bf16: ONEDNN_MAX_CPU_ISA=AVX512_CORE ... --mixed_precision no --loops fp32.
compiled_f1: EM/F1 and identical top answers of each folder's reader eager and compiled, at its own settings.
predict_batch: the compiled GlobalPointer reader's questions/s by batch size and torch threads (the defaults' ground).
predict_profile: `Reader.answer` under cProfile, eager and compiled: seconds by part (gp_mrc_lab/speed_profile_predict.py).
train:   training windows/s of scripts/train.py, --mixed_precision auto against no, the same short run.
profile: scripts/train.py (bf16) under cProfile, the step's seconds split into encoder attention, linear layers,
         dropout, backward (all of it: the autograd engine runs outside Python), AdamW, the collator, the
         GlobalPointer head and the objective's losses.
attention: scaled_dot_product_attention alone at MiniLM's shape, fp32 / bf16, dropout_p 0 / 0.1.
matmul:  one linear layer at MiniLM's feed-forward shape, fp32 against bf16 (autocast and bf16 tensors): GFLOP/s.
zh_decoding: where predict.py's time goes on a Chinese dev set with a GlobalPointer folder (--globalpointer_model,
         --validation_file, e.g. ../shared/data/cmrc2018/cmrc2018_dev.shared.json): CPU seconds of the model over
         the windows, and of decoding by argmax and by expected F1 with the CMRC longest-common-run F1 computed pair
         by pair (scoring.longest_common_substring) and by the match-only programme decoding uses; answers checked
         equal.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys

from .bench_io import emit
from .paths import ROOT
from .speed_careful import bench_batch_sizes, bench_careful, bench_compiled_f1
from .speed_predict import bench_predict, bench_zh_decoding
from .speed_profile_predict import bench_predict_profile
from .speed_step import bench_attention, bench_matmul, bench_step
from .speed_train import bench_profile, bench_train


def machine() -> str:
    from gp_mrc.precision import cpu_bf16_kind

    return f"{platform.machine()}, {os.cpu_count()} cores, {cpu_bf16_kind()}, {datetime.date.today().isoformat()}"


COMMANDS = {
    "step": bench_step,
    "predict": bench_predict,
    "careful": bench_careful,
    "compiled_f1": bench_compiled_f1,
    "predict_profile": bench_predict_profile,
    "predict_batch": bench_batch_sizes,
    "train": bench_train,
    "profile": bench_profile,
    "attention": bench_attention,
    "matmul": bench_matmul,
    "zh_decoding": bench_zh_decoding,
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=list(COMMANDS))
    p.add_argument("--model_name_or_path", default=None)
    p.add_argument(
        "--train_file",
        default=os.path.join(os.path.dirname(ROOT), "shared", "data", "squad_v1.1", "train-v1.1.explorer.json"),
    )
    p.add_argument(
        "--validation_file",
        default=os.path.join(os.path.dirname(ROOT), "shared", "data", "squad_v1.1", "dev-v1.1.shared.json"),
    )
    p.add_argument("--start_end_model")
    p.add_argument("--globalpointer_model")
    p.add_argument("--questions", type=int, default=300)
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--max_seq_length", type=int, default=256)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--train_steps", type=int, default=20)
    p.add_argument(
        "--attention_dropout",
        nargs="+",
        default=["0"],
        help="step/train/profile: the --attention_dropout values to time, e.g. encoder 0",
    )
    p.add_argument("--mixed_precision", default="auto", help="careful: the readers' (no: fp32, as a CPU without bf16)")
    p.add_argument("--reader_batch_sizes", type=int, nargs="+", default=[8, 16, 32, 64], help="predict_batch")
    p.add_argument("--loops", nargs="+", default=["fp32", "bf16"], help="careful: the careful loop's precisions")
    p.add_argument("--output", default=None, help="also write the result JSON here")
    args = p.parse_args()
    result = {
        "what": args.what,
        "command": "python " + " ".join(sys.argv),
        "machine": machine(),
        # what the command line does not show: threads and oneDNN's ISA cap (a CPU without native bf16)
        "environment": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "ONEDNN_MAX_CPU_ISA") if k in os.environ},
        **COMMANDS[args.what](args),
    }
    emit(result, args.output)
