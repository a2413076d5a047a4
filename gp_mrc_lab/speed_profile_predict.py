"""Where predict.py's time goes (`python scripts/benchmark_speed.py predict_profile`): `Reader.answer` over the
first --questions questions of --validation_file under cProfile, eager and compiled, each folder given; seconds by
part: building examples, tokenization and windows, collating batches, the model (the forward passes), each window's
top spans, gathering them, decoding, the answers' text and offsets, and the rest (Python between them)."""

from __future__ import annotations

import argparse
import cProfile
import pstats

from .bench_io import quiet_datasets

# part -> (module file suffix, function name) whose cumulative time it is
PARTS = {
    "examples": ("gp_mrc/data/examples.py", "build_examples"),
    "windows (tokenization)": ("gp_mrc/data/features.py", "prepare_features"),
    "collate": ("gp_mrc/data/collate.py", "__call__"),
    "model forward": ("gp_mrc/inference/predict.py", "score_batch"),
    "top spans": ("gp_mrc/inference/window_topk.py", "topk_spans"),
    "gather results": ("gp_mrc/inference/window_topk.py", "collect_results"),
    "decoding": ("gp_mrc/inference/decoding.py", "best_answers"),
    "answers": ("gp_mrc/inference/answers.py", "ranked_answers"),
    "total": ("gp_mrc/inference/reader.py", "answer"),
}


def parts_of(profile: cProfile.Profile) -> dict[str, float]:
    stats = pstats.Stats(profile).stats  # {(file, line, name): (cc, nc, tottime, cumtime, callers)}
    out = dict.fromkeys(PARTS, 0.0)
    for (path, _, name), (_, _, _, cumtime, _) in stats.items():
        for part, (suffix, fn) in PARTS.items():
            if name == fn and path.replace("\\", "/").endswith(suffix):
                out[part] += cumtime
    out["model forward"] -= out["top spans"]  # score_batch = the forward + its top spans
    out["rest"] = out["total"] - sum(v for k, v in out.items() if k != "total")
    return {k: round(v, 3) for k, v in out.items()}


def bench_predict_profile(args: argparse.Namespace) -> dict:
    from gp_mrc.data.examples import load_examples
    from gp_mrc.inference.reader import Reader

    with quiet_datasets():
        examples = load_examples(args.validation_file, max_samples=args.questions)
    records = [{"id": e["id"], "question": e["question"], "context": e["context"]} for e in examples]
    result: dict = {"questions": len(records), "max_seq_length": args.max_seq_length}
    for arch, folder in (("start/end", args.start_end_model), ("GlobalPointer", args.globalpointer_model)):
        if folder is None:
            continue
        for how in ("no", "yes"):
            reader = Reader.from_pretrained(
                folder, compile=how, mixed_precision=args.mixed_precision, max_seq_length=args.max_seq_length
            )
            with quiet_datasets():
                reader.answer(records)  # every shape's first pass outside the profile
                profile = cProfile.Profile()
                profile.runcall(reader.answer, records)
            parts = parts_of(profile)
            result[f"{arch}, {'compiled' if how == 'yes' else 'eager'}"] = {
                "seconds": parts,
                "share": {k: round(v / parts["total"], 3) for k, v in parts.items() if k != "total"},
            }
    return result
