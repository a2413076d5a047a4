"""`gp-mrc evaluate` and scripts/evaluate.py: how good is a model folder on a labelled file? Any folder predict.py
takes (GlobalPointer or start/end, a transformers question-answering model, a folder written by `gp-mrc export`),
any file it reads (SQuAD v1.1 / v2.0 and CMRC2018 / DRCD / DuReader as published, flat JSON or JSONL with answers).

    python scripts/evaluate.py --model runs/gp_mrc --file dev-v1.1.json
    accelerate launch --multi_gpu scripts/evaluate.py --model runs/gp_mrc --file dev-v1.1.json --output_dir eval/
    ACCELERATE_USE_CPU=true torchrun --nproc_per_node 2 scripts/evaluate.py --model runs/gp_mrc --file dev.jsonl

The answers are predict.py's, by construction (the same Reader, flags and settings: the folder's unless given
here): each question's --n_best_size ranked answers, the first being its prediction. They are scored by the
official scripts' numbers (gp_mrc/inference/file_scores.py): EM/F1 (SQuAD v1.1's, or CMRC2018's character metric
for a Chinese file); for a file with unanswerable questions SQuAD v2.0's, with HasAns / NoAns, the folder's null
threshold, and best_exact / best_f1 with the threshold tuned on the file. The numbers are printed (JSON) and
written to --output_dir's eval_results.json, beside predictions.json, nbest_predictions.json, null_odds.json and
predictions.jsonl (written as the questions are answered, a JSONL file read a chunk at a time: --resume continues a
killed run). Several processes (`accelerate launch` on GPUs, `torchrun` on CPUs too) share the questions and give
the numbers of one (gp_mrc/inference/corpus.py).

Problems end with one line `error: ...` on stderr and exit code 2: a file without answers (use predict.py), a bad
record, a missing model, an output folder holding an earlier run (without --resume).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass

from gp_mrc.argtypes import Parser
from gp_mrc.atomic import write_json_atomic
from gp_mrc.errors import UsageError
from gp_mrc.flags import add_flags, setting
from gp_mrc.inference.command import ModelChoice, RunOptions, add_reader_flags, answer_input, check_output, fail
from gp_mrc.inference.prediction_log import LOG_NAME, write_final_files
from gp_mrc.models.folders import check_name

EVAL_FILES = ("predictions.json", "nbest_predictions.json", "null_odds.json", "eval_results.json")


@dataclass(frozen=True)
class EvaluateOptions:
    """evaluate's own flags: the labelled file and where the results go."""

    file: str | None = setting(None, "a labelled file: SQuAD layout, or flat JSON / JSONL with answers", required=True)
    output_dir: str | None = setting(
        None,
        "where eval_results.json and the predictions go",
        depends="eval_<file name> in the model folder (in the current folder for a hub name)",
    )


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    p = Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_flags(p, ModelChoice)
    add_flags(p, EvaluateOptions)
    add_flags(p, RunOptions)
    add_reader_flags(p)
    return p


def default_output_dir(model: str, path: str) -> str:
    stem = os.path.splitext(os.path.basename(path))[0]
    return os.path.join(model if os.path.isdir(model) else ".", f"eval_{stem}")


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    args = build_parser(prog).parse_args(argv)
    out = args.output_dir or default_output_dir(args.model, args.file)
    try:
        if os.path.isdir(args.file):
            raise UsageError(f"{args.file}: is a directory; give a JSON or JSONL file")
        if not os.path.isfile(args.file):
            raise UsageError(f"{args.file}: no such file")
        check_output(args.file, out, args.resume, EVAL_FILES)
        check_name(args.model)
        return evaluate(args, out)
    except (UsageError, ValueError, OSError) as e:  # ValueError: settings such as --doc_stride that do not fit
        return fail(str(e))


def evaluate(args: argparse.Namespace, out: str) -> int:
    """Answer the file (any processes), then, in the main process, score it and write the files."""
    from gp_mrc.inference.corpus import AnswerRequest
    from gp_mrc.inference.file_scores import check_labelled, file_scores

    check_labelled(args.file)  # before the model loads
    request = AnswerRequest(args.n_best_size, args.n_best_size, args.align_to_words, args.min_score, null_odds=True)
    if answer_input(args, args.file, out, request) is None:
        return 0  # not the main process
    results = file_scores(args.file, os.path.join(out, LOG_NAME))
    if results["metric"] == "squad_v2":
        write_final_files(out, ("null_odds",))
    write_json_atomic(os.path.join(out, "eval_results.json"), results)
    print(json.dumps(results, indent=2))
    print(f"wrote {os.path.join(out, 'eval_results.json')}", file=sys.stderr)
    return 0
