#!/usr/bin/env python
"""Check cached per-span F1 rewards against the metric itself on >= N sampled (feature, span) pairs.

Takes the data flags of scripts/precompute_f1.py, loads (or computes) the cached table, then compares
the stored reward of random spans inside the pruning window (zero-valued ones included) with
scoring.f1_score of the decoded text. Exits 1 on any difference above --tol.
"""

from __future__ import annotations

import logging
import sys

from precompute_f1 import build_parser, prepare  # the sibling script: same flags, same features


def main(argv: list[str] | None = None) -> int:
    from gp_mrc.rewards import load_or_compute_f1_table, verify_f1_table

    parser = build_parser()
    parser.description = __doc__.splitlines()[0]
    parser.add_argument("--n_samples", type=int, default=1000)
    parser.add_argument("--tol", type=float, default=1e-3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    features, examples, lang, data_key, cache_dir, window = prepare(args)
    table = load_or_compute_f1_table(features, examples, cache_dir=cache_dir, data_key=data_key, lang=lang,
                                     window=window, max_answer_length=args.max_answer_length, num_proc=args.num_proc)
    report = verify_f1_table(table, features, examples, lang=lang, window=window,
                             max_answer_length=args.max_answer_length, n_samples=args.n_samples, seed=args.seed,
                             tol=args.tol)
    for line in report.mismatches:
        print("MISMATCH", line)
    print(f"checked {report.n_checked} (feature, span) pairs, max |diff| = {report.max_abs_diff:.3g}, "
          f"mismatches: {len(report.mismatches)}")
    if report.n_checked < args.n_samples:
        print(f"only {report.n_checked} pairs could be sampled (fewer than --n_samples {args.n_samples})")
    return 1 if report.mismatches or report.n_checked == 0 else 0


if __name__ == "__main__":
    from gp_mrc.errors import run_script

    run_script(main)
