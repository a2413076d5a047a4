"""`gp-mrc predict` and scripts/predict.py: answer questions with a model folder — a GlobalPointer or start/end
reader trained by scripts/train.py, or any transformers question-answering model (a folder or a hub name), e.g. a
SQuAD-fine-tuned BERT.

    python scripts/predict.py --model runs/gp_mrc --question "Who ...?" --context "..."
    python scripts/predict.py --model runs/gp_mrc --input questions.jsonl --output_dir preds/

A JSON/JSONL record may carry "contexts": [passage, ...] instead of "context": its answers are ranked across
the passages (each with its "passage" index; near-duplicates merged; see gp_mrc/inference/passages.py).
--min_score drops answers of lower probability everywhere ("" when none is left). Answers are whole words
(--no_align_to_words: the model's token spans as they are) in the order of gp_mrc/inference/answers.py: by
probability, or by expected F1 under --decoding expected_f1 (each answer then carries its "expected_f1").
predictions.json goes next to the input file unless --output_dir says otherwise; it never replaces the input.

A file of any size: JSONL is read a chunk at a time, and each answer goes to predictions.jsonl as it is made (one
line per question, its "id": a record without one is numbered from 0); predictions.json and nbest_predictions.json
are written from it at the end. A killed run continues with --resume (the questions already written are not
answered again); an output folder holding an earlier run is refused without it. `torchrun --nproc_per_node N
scripts/predict.py ...` (CPUs) or `accelerate launch --multi_gpu ... scripts/predict.py ...` (GPUs) shares the
questions among N processes, with the answers of one (gp_mrc/inference/corpus.py).

Windows, answer length, decoding and the no-answer rule are the folder's inference settings (those the model
was trained and evaluated with; transformers' pipeline defaults for a folder without them) unless given here.

Problems end with one line `error: ...` on stderr and exit code 2 (a missing or broken model folder, an
unreadable input file, no usable question); questions that cannot be answered (an empty question or passage)
get the answer "" with a warning naming them. docs/bad_inputs.md lists the cases.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gp_mrc.argtypes import NoUnderscoreSwitch, Parser, check_output_dir, positive_int, probability
from gp_mrc.errors import UsageError
from gp_mrc.inference.answers import ALIGN_TO_WORDS
from gp_mrc.flags import add_flags, flag_fields, part_from, setting
from gp_mrc.data.record_stream import stream_records
from gp_mrc.inference.prediction_log import LOG_NAME, check_fresh, check_resumable, write_final_files
from gp_mrc.models.folders import check_name
from gp_mrc.settings import N_BEST_SIZE, InferenceSettings, Runtime

if TYPE_CHECKING:  # annotations only: corpus.py loads torch
    from gp_mrc.inference.corpus import AnswerRequest, RunCounts


@dataclass(frozen=True)
class ModelChoice:
    """The model every command that answers runs (predict, evaluate)."""

    model: str | None = setting(None, "a model folder or hub name (see above)", required=True)


@dataclass(frozen=True)
class PredictOptions:
    """predict.py's own flags: what to answer, how many answers, where they go."""

    question: str | None = setting(None)
    context: str | None = setting(None)
    input: str | None = setting(None, "SQuAD-layout JSON, or JSON/JSONL of {id, question, context}")
    output_dir: str | None = setting(
        None,
        "where predictions.jsonl, predictions.json and nbest_predictions.json go",
        depends="the input file's folder",
    )
    top_k: int = setting(1, type=positive_int)


@dataclass(frozen=True)
class AnswerOptions:
    """How answers are found and kept (predict, evaluate)."""

    n_best_size: int = setting(
        N_BEST_SIZE, "candidate answers kept per question (evaluate: the answers of each line)", type=positive_int
    )
    quantize: str = setting(
        "none",
        "int8: dynamic int8 encoder linears (CPU; measured: 1.2-1.4x fp32, -1.6 F1)",
        choices=("none", "int8"),
    )
    min_score: float = setting(0.0, 'drop answers of lower probability (none left: the answer "")', type=probability)
    align_to_words: bool = setting(
        ALIGN_TO_WORDS,
        "widen answers to whole words (the default); --no_align_to_words: the model's token spans as they are (e.g. "
        '"158" of "1587")',
        action=NoUnderscoreSwitch,
    )


@dataclass(frozen=True)
class RunOptions:
    """A run over a file (predict --input, evaluate)."""

    resume: bool = setting(
        False,
        "continue the run whose predictions.jsonl the output folder holds (a killed one): its questions are not "
        "answered again; without it, an output folder holding an earlier run's files is refused",
    )


def add_reader_flags(p: argparse.ArgumentParser) -> None:
    """The flags of a command that answers with a Reader: answers, runtime, and the inference settings."""
    add_flags(p, AnswerOptions)
    add_flags(p.add_argument_group("running the model"), Runtime)
    s = p.add_argument_group("inference settings (default: the model folder's)")
    add_flags(s, InferenceSettings, research=None, folder_default=True)  # the fields' types, choices and help
    s.add_argument(
        "--handle_impossible_answer",
        default=None,
        choices=["yes", "no"],
        help='whether "" (no answer) may be the answer (the folder\'s version_2_with_negative)',
    )


def answering_parser(prog: str | None, description: str, own: type) -> argparse.ArgumentParser:
    """The parser of a command that answers with a reader (predict, evaluate): the model, its own part `own`, the
    run's options, then the reader's flags."""
    p = Parser(prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_flags(p, ModelChoice)
    add_flags(p, own)
    add_flags(p, RunOptions)
    add_reader_flags(p)
    return p


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    return answering_parser(prog, __doc__, PredictOptions)


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    p = build_parser(prog)
    args = p.parse_args(argv)
    if (args.question is None) != (args.context is None):
        p.error("--question and --context go together")
    if (args.input is None) == (args.question is None):
        p.error("give either --question and --context, or --input FILE")
    if args.input is not None and os.path.isdir(args.input):
        return fail(f"{args.input}: is a directory; give a JSON or JSONL file")
    if args.input is not None and not os.path.isfile(args.input):
        return fail(f"{args.input}: no such input file")
    out = None if args.input is None else args.output_dir or os.path.dirname(os.path.abspath(args.input))
    try:
        if out is not None:  # before the model loads: a file in the way is one line, not a traceback at the end
            check_output(args.input, out, args.resume, PREDICT_FILES)
        check_name(args.model)  # a mistyped folder or an unknown hub name: one line before torch loads
        if args.question is not None:
            return answer_one(open_reader(args), args)
        from gp_mrc.inference.corpus import AnswerRequest

        answer_input(
            args, args.input, out, AnswerRequest(args.top_k, args.n_best_size, args.align_to_words, args.min_score)
        )
    except (UsageError, ValueError, OSError) as e:  # ValueError: settings such as --doc_stride that do not fit
        return fail(str(e))
    return 0


PREDICT_FILES = ("predictions.json", "nbest_predictions.json")


def check_output(input_path: str, out: str, resume: bool, names: tuple[str, ...]) -> None:
    """The output folder can be written, would not replace the input, and holds no earlier run unless resumed."""
    for name in (LOG_NAME, *names):
        if os.path.realpath(os.path.join(out, name)) == os.path.realpath(input_path):
            raise UsageError(
                f"{input_path}: writing {name} there would replace the input file; give --output_dir another folder"
            )
    check_output_dir(out)
    check_fresh(out, resume, names)
    if resume:  # the lines written are this input's first questions: checked before the model loads
        check_resumable(out, stream_records(input_path))


def open_reader(args: argparse.Namespace, device: str | None = None, announce: bool = True):
    """The Reader of --model with the runtime flags and the inference settings given (a bad one: UsageError);
    prints the settings it answers with (with `announce`). `device`: the process's own, under several processes."""
    from gp_mrc.inference.reader import Reader

    runtime = dataclasses.asdict(part_from(Runtime, args))
    if device is not None:
        runtime["device"] = device
    try:
        reader = Reader.from_pretrained(args.model, quantize=args.quantize, **runtime, **settings_overrides(args))
    except ValueError as e:  # a setting out of range; FileNotFoundError / OSError are one line already
        raise UsageError(str(e)) from None
    if announce:
        settings = " ".join(f"{k}={v}" for k, v in reader.settings.to_dict().items())
        print(f"inference settings: {settings}", file=sys.stderr)
    return reader


def answer_input(args: argparse.Namespace, path: str, out: str, request: AnswerRequest) -> RunCounts | None:
    """Answer the file `path` into `out` (gp_mrc/inference/corpus.py) as `request` says, in
    this process and any others of the run; the main process writes predictions.json and nbest_predictions.json.
    Returns the run's counts (None in the other processes)."""
    from gp_mrc.inference.corpus import Processes, answer_file

    procs = Processes(args.device)
    reader = open_reader(args, procs.device, announce=procs.is_main)
    if procs.is_main and procs.world > 1:
        print(f"{procs.world} processes share the questions", file=sys.stderr)
    counts = answer_file(reader, path, out, request, procs, args.resume)
    if not counts.resumed and not counts.answered:  # nothing to answer from: no predictions are written
        if procs.is_main:
            os.remove(os.path.join(out, LOG_NAME))
        raise UsageError(nothing_answered(path, counts))
    if not procs.is_main:
        return None
    n = write_final_files(out)
    unusable = len(counts.report.skipped_ids)
    print(
        f"wrote {n} predictions to {os.path.join(out, 'predictions.json')}"
        + (f' ({unusable} unusable questions answered with "")' if unusable else "")
        + f"; {counts.written} answered in {counts.seconds:.1f} s ({counts.written / max(counts.seconds, 1e-9):.1f}"
        " questions/s)",
        file=sys.stderr,
    )
    return counts


def answer_one(reader, args: argparse.Namespace) -> int:
    """predict.py --question --context: one JSON line per answer ("" when none is above --min_score)."""
    kw = dict(top_k=args.top_k, n_best_size=args.n_best_size, align_to_words=args.align_to_words)
    answers = reader.answer([{"id": "cli", "question": args.question, "context": args.context}], **kw)[0]
    if not answers:
        return fail(
            "the context has no token left after the tokenizer's normalization (only whitespace "
            "or control characters?): nothing to answer from"
        )
    for a in above(answers, args.min_score) or [NO_ANSWER]:
        print(json.dumps(a, ensure_ascii=False))
    return 0


def nothing_answered(path: str, counts) -> str:
    """Why a run found no answer to any question of `path`."""
    report = counts.report
    if report.skipped_empty < counts.written:
        return f"{path}: no passage has any token left after the tokenizer's normalization; nothing to answer from"
    skipped = f" ({report.skipped_empty} skipped: {'; '.join(report.skipped_examples)})" if report.skipped_empty else ""
    return f"{path}: no usable questions{skipped}"


NO_ANSWER = {"answer": "", "score": 0.0, "start": -1, "end": -1}  # a question with no answer above --min_score


def above(answers: list[dict], min_score: float) -> list[dict]:
    return [a for a in answers if a["score"] >= min_score]


def settings_overrides(args: argparse.Namespace) -> dict:
    """The inference settings given on the command line (None: the folder's), by their fields' names."""
    given = {f.name: getattr(args, f.name) for f in flag_fields(InferenceSettings) if hasattr(args, f.name)}
    impossible = None if args.handle_impossible_answer is None else args.handle_impossible_answer == "yes"
    return {**given, "version_2_with_negative": impossible}


def fail(message: str) -> int:
    """The error line, exit code 2; under torchrun / accelerate launch only the main process prints it (every
    process meets the same error: each checks every record)."""
    if os.environ.get("RANK", "0") == "0":
        print(f"error: {message}", file=sys.stderr)
    return 2
