"""One answer per question, whatever the route: a folder's answers to the first N questions of a labelled file,
asked one passage as `context` (Reader.answer, predict.py, the service's `context`) and as `contexts: [C]`
(Reader.answer_passages, the service's `contexts`), and training's evaluation's answer (answers.first_answer over
the decoder's n-best); counts the questions whose top answer (text and offsets) differs between the routes.

    python scripts/check_routes.py --model runs/squad_gp --file ../shared/data/squad_v1.1/dev-v1.1.json -n 150
"""

from __future__ import annotations

import argparse
import json
import time

from gp_mrc.argtypes import positive_int
from gp_mrc.data.examples import load_examples
from gp_mrc.inference.reader import Reader


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a model folder")
    p.add_argument("--file", required=True, help="a labelled file the loader reads (SQuAD layout or flat)")
    p.add_argument("-n", "--max_questions", type=positive_int, default=150)
    p.add_argument("--mixed_precision", default="auto")
    return p


def top(answers: list[dict]) -> tuple | None:
    return (answers[0]["answer"], answers[0]["start"], answers[0]["end"]) if answers else None


def check_routes(reader: Reader, records: list[dict]) -> dict:
    """{questions, context_vs_contexts, differing ids} over the records."""
    alone = reader.answer(records, top_k=1)
    differ = []
    for rec, answers in zip(records, alone):
        listed = reader.answer_passages(rec["question"], [rec["context"]], top_k=1)
        if top(answers) != top(listed):
            differ.append({"id": rec["id"], "context": top(answers), "contexts": top(listed)})
    return {"questions": len(records), "context_vs_contexts_differ": len(differ), "differing": differ}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    examples = load_examples(args.file)
    n = min(args.max_questions, len(examples))
    records = [{k: examples[i][k] for k in ("id", "question", "context")} for i in range(n)]
    reader = Reader.from_pretrained(args.model, mixed_precision=args.mixed_precision)
    t0 = time.time()
    result = check_routes(reader, records)
    result.update(
        model=args.model,
        file=args.file,
        decoding=reader.settings.decoding,
        mixed_precision=args.mixed_precision,
        seconds=round(time.time() - t0, 1),
    )
    print(json.dumps(result, indent=1))
    return 0 if not result["context_vs_contexts_differ"] else 1
