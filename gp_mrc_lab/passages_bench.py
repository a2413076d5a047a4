"""Which reader ranks passages better: one question over 5 passages (BENCHMARKS.md, "Passage ranking").

    python scripts/benchmark_passages.py --model globalpointer=runs/gp --model start_end=runs/se \\
        --dev_file ../shared/data/squad_v1.1/dev-v1.1.shared.json --name squad_v1 \\
        --modes other_articles same_article --max_questions 1000 --seed 0
    python scripts/benchmark_passages.py --table        # the markdown table of every result file

For each reader and each set mode (gp_mrc_lab/passage_sets.py: the gold passage + 4 passages of other articles, or
+ 4 other paragraphs of the same article), every set is answered exactly as `Reader.answer_passages` does (each
passage's n-best, merged by score, gp_mrc/inference/passages.py) and measured by:
* passage accuracy: the share of answerable sets whose top answer comes from the gold passage;
* top-1 F1: the top answer's F1 against the golds (the dev set's metric); single-passage F1: the reader's answer
  over the gold passage alone (what ranking costs, and the baseline a training change must not lose);
* AUROC: the top score separating answerable sets from unanswerable ones (the same question over the same layout
  with a 5th distractor in the gold's place; a set with no answer scores 0);
* the share of unanswerable sets answered with score ≥ 0.5 (and of answerable ones, for scale).
One JSON file per reader and dev set: `<output_dir>/<name>_<reader>.json`.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import sys
from typing import Any, Sequence

from .argtypes import named_model
from .passage_sets import MODES, PassageSet, build_sets

DEFAULT_OUTPUT_DIR = os.path.join("benchmarks", "passages")  # results/ holds the study's files only
THRESHOLD = 0.5
N_BEST = 20  # answer_passages' default n_best_size


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """P(a random positive scores above a random negative), ties counting ½ (Mann–Whitney U / (n₊·n₋))."""
    if not positives or not negatives:
        return float("nan")
    scored = sorted([(s, 1) for s in positives] + [(s, 0) for s in negatives])
    rank_sum, i = 0.0, 0
    while i < len(scored):  # average ranks over runs of equal scores
        j = i
        while j < len(scored) and scored[j][0] == scored[i][0]:
            j += 1
        rank_sum += sum(label for _, label in scored[i:j]) * (i + 1 + j) / 2
        i = j
    n_pos = len(positives)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * len(negatives))


def top_answer(per_passage: list[list[dict]]) -> dict | None:
    """answer_passages' first answer over passages whose n-bests are given (None: no answer at all)."""
    from gp_mrc.inference.passages import merge_ranked, with_passage

    pooled = [a for i, answers in enumerate(per_passage) for a in with_passage(answers, i)]
    ranked = merge_ranked(pooled, top_k=1)
    return ranked[0] if ranked else None


def set_outcome(s: PassageSet, nbest: dict[str, list[dict]], lang: str) -> dict:
    """One set's figures from the n-best of each of its passages (keyed by passage text)."""
    from gp_mrc.metrics.scoring import f1_score

    top = top_answer([nbest[p] for p in s.answerable()])
    empty = top_answer([nbest[p] for p in s.unanswerable()])
    alone = nbest[s.gold][0]["answer"] if nbest[s.gold] else ""
    return {
        "gold_passage": top is not None and top["passage"] == s.position,
        "f1": f1_score(top["answer"] if top else "", list(s.golds), lang),
        "single_f1": f1_score(alone, list(s.golds), lang),
        "score": top["score"] if top else 0.0,
        "unanswerable_score": empty["score"] if empty else 0.0,
    }


def summarize(outcomes: list[dict]) -> dict:
    n = len(outcomes)
    if not n:
        return {"sets": 0}
    pos, neg = [o["score"] for o in outcomes], [o["unanswerable_score"] for o in outcomes]
    return {
        "sets": n,
        "passage_accuracy": 100 * sum(o["gold_passage"] for o in outcomes) / n,
        "top1_f1": 100 * sum(o["f1"] for o in outcomes) / n,
        "single_passage_f1": 100 * sum(o["single_f1"] for o in outcomes) / n,
        "auroc": auroc(pos, neg),
        "unanswerable_answered": 100 * sum(s >= THRESHOLD for s in neg) / n,
        "answerable_answered": 100 * sum(s >= THRESHOLD for s in pos) / n,
    }


def measure(reader: Any, sets: list[PassageSet], lang: str, batch_size: int | None = None) -> dict:
    """The summary figures of `reader` (gp_mrc.inference.reader.Reader) over the sets: each distinct (question,
    passage) is read once, as answer_passages reads it."""
    keys = list(dict.fromkeys((s.question, p) for s in sets for p in (s.gold, *s.distractors)))
    answers = reader.answer(
        [{"id": str(i), "question": q, "context": p} for i, (q, p) in enumerate(keys)],
        top_k=N_BEST,
        n_best_size=N_BEST,
        progress=True,
        batch_size=batch_size,
    )
    by_key = dict(zip(keys, answers))
    outcomes = [set_outcome(s, {p: by_key[(s.question, p)] for p in (s.gold, *s.distractors)}, lang) for s in sets]
    return summarize(outcomes)


def result_path(output_dir: str, name: str, reader: str) -> str:
    return os.path.join(output_dir, f"{name}_{reader}.json")


def run_reader(
    reader_name: str, path: str, sets: dict[str, list[PassageSet]], args: argparse.Namespace, command: str
) -> dict:
    from gp_mrc.inference.reader import Reader

    reader = Reader.from_pretrained(path, mixed_precision=args.mixed_precision)
    lang = reader.settings.lang
    modes = {mode: measure(reader, mode_sets, lang, args.batch_size) for mode, mode_sets in sets.items()}
    return {
        "reader": reader_name,
        "model": os.path.basename(os.path.normpath(path)),
        "name": args.name,
        "dev_file": os.path.basename(args.dev_file),
        "lang": lang,
        "seed": args.seed,
        "max_questions": args.max_questions,
        "threshold": THRESHOLD,
        "modes": modes,
        "date": datetime.date.today().isoformat(),
        "command": command,
    }


COLUMNS = (
    ("sets", "sets", "{:d}"),
    ("passage_accuracy", "gold passage top-1 %", "{:.1f}"),
    ("top1_f1", "top-1 F1", "{:.1f}"),
    ("single_passage_f1", "F1, gold passage alone", "{:.1f}"),
    ("auroc", "AUROC answerable vs not", "{:.3f}"),
    ("unanswerable_answered", f"unanswerable answered (score ≥ {THRESHOLD})", "{:.1f}%"),
    ("answerable_answered", f"answerable answered (score ≥ {THRESHOLD})", "{:.1f}%"),
)


def table(results: list[dict]) -> str:
    """One markdown row per (dev set, mode, reader)."""
    head = ["dev set", "distractors", "reader"] + [title for _, title, _ in COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in sorted(results, key=lambda r: (r["name"], r["reader"])):
        for mode, m in r["modes"].items():
            if not m.get("sets"):
                continue
            cells = [fmt.format(m[key]) for key, _, fmt in COLUMNS]
            lines.append("| " + " | ".join([r["name"], mode.replace("_", " "), r["reader"], *cells]) + " |")
    return "\n".join(lines)


def read_results(output_dir: str) -> list[dict]:
    out = []
    for path in sorted(glob.glob(os.path.join(output_dir, "*.json"))):
        with open(path, encoding="utf-8") as f:
            out.append(json.load(f))
    return out


def file_named_model(value: str) -> tuple[str, str]:
    """named_model whose name also names files: no path separator in it."""
    name, path = named_model(value)
    if os.sep in name:
        raise argparse.ArgumentTypeError(f"expected NAME=MODEL_DIR, got {value!r}")
    return name, path


def build_parser() -> argparse.ArgumentParser:
    from gp_mrc.argtypes import non_negative_int, positive_int

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", type=file_named_model, default=[], help="NAME=MODEL_DIR (repeat)")
    p.add_argument("--dev_file", help="a SQuAD-layout dev file (titles name the articles)")
    p.add_argument("--name", help="the dev set's name in the result files and the table (e.g. squad_v1)")
    p.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    p.add_argument("--max_questions", type=positive_int, default=None, help="questions drawn (by --seed) per mode")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--batch_size", type=positive_int, default=None)
    p.add_argument("--mixed_precision", default="auto", choices=["auto", "no", "bf16", "fp16"])
    p.add_argument("--output_dir", default=DEFAULT_OUTPUT_DIR, help="where the result files go (and are read from)")
    p.add_argument("--table", action="store_true", help="print the markdown table of the result files and stop")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    if args.table:
        from .passages_report import pooled_table

        results = read_results(args.output_dir)
        print(
            table(results)
            + "\n\nOver seeds (readers named <reader>_s<seed>):\n\n"
            + pooled_table(results, versus=("gp", "se"))
        )
        return 0
    if not args.model or not args.dev_file or not args.name:
        p.error("give --model NAME=DIR, --dev_file and --name (or --table)")
    from gp_mrc.data.examples import load_examples

    examples = load_examples(args.dev_file, version_2=False, require_answers=False)
    sets = {mode: build_sets(examples, mode, max_questions=args.max_questions, seed=args.seed) for mode in args.modes}
    for mode, mode_sets in sets.items():
        print(f"{mode}: {len(mode_sets)} sets", file=sys.stderr)
    os.makedirs(args.output_dir, exist_ok=True)
    command = " ".join(["python scripts/benchmark_passages.py", *(sys.argv[1:] if argv is None else argv)])
    for reader_name, path in args.model:
        result = run_reader(reader_name, path, sets, args, command)
        with open(result_path(args.output_dir, args.name, reader_name), "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
        print(table([result]))
    return 0
