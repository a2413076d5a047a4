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

from gp_mrc.argtypes import NoUnderscoreSwitch, Parser, check_output_dir, positive_int, probability
from gp_mrc.inference.answers import ALIGN_TO_WORDS
from gp_mrc.flags import add_flags, flag_fields, part_from, setting
from gp_mrc.models.folders import check_name
from gp_mrc.settings import N_BEST_SIZE, InferenceSettings, Runtime


@dataclass(frozen=True)
class PredictOptions:
    """predict.py's own flags: what to answer, how many answers, where they go."""

    model: str | None = setting(None, "a model folder or hub name (see above)", required=True)
    question: str | None = setting(None)
    context: str | None = setting(None)
    input: str | None = setting(None, "SQuAD-layout JSON, or JSON/JSONL of {id, question, context}")
    output_dir: str | None = setting(
        None,
        "where predictions.json and nbest_predictions.json go",
        depends="the input file's folder",
    )
    top_k: int = setting(1, type=positive_int)
    n_best_size: int = setting(N_BEST_SIZE, type=positive_int)
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


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    p = Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_flags(p, PredictOptions)
    add_flags(p.add_argument_group("running the model"), Runtime)
    s = p.add_argument_group("inference settings (default: the model folder's)")
    add_flags(s, InferenceSettings, research=None, folder_default=True)  # the fields' types, choices and help
    s.add_argument(
        "--handle_impossible_answer",
        default=None,
        choices=["yes", "no"],
        help='whether "" (no answer) may be the answer (the folder\'s version_2_with_negative)',
    )
    return p


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
    if out is not None:
        clash = input_clash(args.input, out)
        if clash:
            return fail(
                f"{args.input}: writing {clash} there would replace the input file; give --output_dir another folder"
            )
        check_output_dir(out)  # before the model loads: a file in the way is one line, not a traceback at the end
    try:  # a mistyped folder or an unknown hub name: one line before torch loads
        check_name(args.model)
    except FileNotFoundError as e:
        return fail(str(e))
    # torch, transformers and datasets load only now: --help and argument errors come back at once
    from gp_mrc.data.examples import DataError, LoadReport, load_examples
    from gp_mrc.inference.passages import load_passage_records
    from gp_mrc.inference.reader import Reader

    try:
        runtime = dataclasses.asdict(part_from(Runtime, args))
        reader = Reader.from_pretrained(args.model, quantize=args.quantize, **runtime, **settings_overrides(args))
    except (FileNotFoundError, OSError, ValueError) as e:  # ValueError: a setting out of range
        return fail(str(e))
    print("inference settings: " + " ".join(f"{k}={v}" for k, v in reader.settings.to_dict().items()), file=sys.stderr)
    kw = dict(top_k=args.top_k, n_best_size=args.n_best_size, align_to_words=args.align_to_words)
    try:
        if args.question is not None:
            return answer_one(reader, args, kw)
        multi = load_passage_records(args.input)  # records with "contexts": one question over several passages
        if multi is not None:
            return answer_passages_file(reader, multi, out, args.min_score, kw)
        report = LoadReport()
        examples = load_examples(args.input, version_2=True, require_answers=False, report=report)
        records = [{"id": e["id"], "question": e["question"], "context": e["context"]} for e in examples]
        answers = reader.answer(records, progress=True, **kw)
    except (DataError, ValueError) as e:  # ValueError: settings such as --doc_stride that do not fit
        return fail(str(e))
    if not any(answers):
        return fail(
            f"{args.input}: no passage has any token left after the tokenizer's normalization; nothing to answer from"
        )
    return write_file_answers(out, records, answers, report.skipped_ids, args.min_score)


def write_file_answers(
    out: str, records: list[dict], answers: list[list[dict]], skipped_ids: list[str], min_score: float
) -> int:
    """predict.py --input: predictions.json and nbest_predictions.json, "" for the unusable questions."""
    from gp_mrc.inference.predict import write_predictions

    answers = [above(a, min_score) for a in answers]
    predictions = {r["id"]: (a[0]["answer"] if a else "") for r, a in zip(records, answers)}
    nbest = {r["id"]: a for r, a in zip(records, answers)}
    for skipped in skipped_ids:  # every input id gets a prediction, "" for the unusable ones
        predictions[skipped], nbest[skipped] = "", []
    write_predictions(out, predictions, nbest)
    print(
        f"wrote {len(predictions)} predictions to {os.path.join(out, 'predictions.json')}"
        + (f' ({len(skipped_ids)} unusable questions answered with "")' if skipped_ids else ""),
        file=sys.stderr,
    )
    return 0


def answer_one(reader, args: argparse.Namespace, kw: dict) -> int:
    """predict.py --question --context: one JSON line per answer ("" when none is above --min_score)."""
    answers = reader.answer([{"id": "cli", "question": args.question, "context": args.context}], **kw)[0]
    if not answers:
        return fail(
            "the context has no token left after the tokenizer's normalization (only whitespace "
            "or control characters?): nothing to answer from"
        )
    for a in above(answers, args.min_score) or [NO_ANSWER]:
        print(json.dumps(a, ensure_ascii=False))
    return 0


def answer_passages_file(reader, records: list[dict], out: str, min_score: float, kw: dict) -> int:
    """predict.py --input with "contexts" records: answers ranked across each record's passages."""
    from gp_mrc.inference.predict import write_predictions
    from gp_mrc.inference.passages import answer_passage_records

    predictions, nbest = answer_passage_records(reader, records, min_score=min_score, **kw)
    write_predictions(out, predictions, nbest)
    print(f"wrote {len(predictions)} predictions to {os.path.join(out, 'predictions.json')}", file=sys.stderr)
    return 0


NO_ANSWER = {"answer": "", "score": 0.0, "start": -1, "end": -1}  # a question with no answer above --min_score


def above(answers: list[dict], min_score: float) -> list[dict]:
    return [a for a in answers if a["score"] >= min_score]


def input_clash(input_path: str | None, out: str) -> str | None:
    """The name of an output file that would be the input file itself, else None."""
    if input_path is None:
        return None
    for name in ("predictions.json", "nbest_predictions.json"):
        target = os.path.join(out, name)
        if os.path.realpath(target) == os.path.realpath(input_path):
            return name
    return None


def settings_overrides(args: argparse.Namespace) -> dict:
    """The inference settings given on the command line (None: the folder's), by their fields' names."""
    given = {f.name: getattr(args, f.name) for f in flag_fields(InferenceSettings) if hasattr(args, f.name)}
    impossible = None if args.handle_impossible_answer is None else args.handle_impossible_answer == "yes"
    return {**given, "version_2_with_negative": impossible}


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2
