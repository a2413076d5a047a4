#!/usr/bin/env python
"""Precompute (and cache) the per-span F1 rewards of a training file, as training would.

Same data flags as scripts/train.py; the cache file it writes is the one training then loads
(same cache_dir default, same data_key). Prints throughput and cache size; --inspect N prints N
sampled rewarded spans as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

from gp_mrc.settings import MAX_ANSWER_LENGTH


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a = p.add_argument
    a("--train_file", required=True, help="SQuAD JSON or flat JSON/JSONL")
    a("--model_name_or_path", default=None, help="tokenizer source; default: the packaged all-MiniLM-L6-v2")
    a("--tokenizer_name", default=None)
    a("--version_2_with_negative", action="store_true")
    a("--lang", default="auto", choices=["auto", "en", "zh"])
    a("--max_seq_length", type=int, default=384)
    a("--doc_stride", type=int, default=128)
    a("--max_query_length", type=int, default=64)
    a("--max_answer_length", type=int, default=MAX_ANSWER_LENGTH)
    a("--f1_window", type=int, default=None, help="pruning window W in tokens (default: DEFAULT_F1_WINDOW)")
    a("--output_dir", default="runs/gp_mrc", help="only used to derive the default --cache_dir, as in training")
    a("--cache_dir", default=None, help="default: <output_dir>/../.gp_mrc_cache (training's default)")
    a("--max_train_samples", type=int, default=None)
    a("--num_proc", type=int, default=1)
    a("--overwrite_cache", action="store_true", help="recompute even if a valid cache file exists")
    a("--inspect", type=int, default=0, metavar="N", help="print N sampled nonzero rewards as JSON lines")
    a("--seed", type=int, default=0)
    return p


def prepare(args: argparse.Namespace):
    """(features, examples, lang, data_key, cache_dir, window), built exactly as training builds them."""
    from transformers import AutoTokenizer

    from gp_mrc.data.examples import DataError, detect_language, load_examples
    from gp_mrc.defaults import default_encoder_path
    from gp_mrc.data.features import content_key, prepare_features
    from gp_mrc.rewards import DEFAULT_F1_WINDOW

    try:
        examples = load_examples(args.train_file, version_2=args.version_2_with_negative,
                                 max_samples=args.max_train_samples)
    except DataError as e:
        raise SystemExit(f"error: {e}") from None
    lang = args.lang if args.lang != "auto" else detect_language(examples)
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer_name or args.model_name_or_path
                                              or default_encoder_path(), use_fast=True)
    features = prepare_features(examples, tokenizer, max_seq_length=args.max_seq_length, doc_stride=args.doc_stride,
                                max_query_length=args.max_query_length,
                                num_proc=args.num_proc if args.num_proc > 1 else None)
    data_key = content_key(features, examples, type(tokenizer).__name__)  # what training passes
    cache_dir = args.cache_dir or os.path.join(os.path.dirname(os.path.abspath(args.output_dir)), ".gp_mrc_cache")
    window = args.f1_window if args.f1_window is not None else DEFAULT_F1_WINDOW
    return features, examples, lang, data_key, cache_dir, window


def main(argv: list[str] | None = None) -> int:
    from gp_mrc.rewards import load_or_compute_with_info, sample_entries

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    features, examples, lang, data_key, cache_dir, window = prepare(args)
    t0 = time.perf_counter()
    table, info = load_or_compute_with_info(features, examples, cache_dir=cache_dir, data_key=data_key, lang=lang,
                                            window=window, max_answer_length=args.max_answer_length,
                                            num_proc=args.num_proc, overwrite=args.overwrite_cache)
    total = time.perf_counter() - t0
    size = os.path.getsize(info.path)
    print(f"{len(examples)} questions -> {len(table)} features, lang={lang}, window={window}, "
          f"max_answer_length={args.max_answer_length}", file=sys.stderr)
    if info.loaded:
        print(f"loaded from cache in {total:.2f}s", file=sys.stderr)
    else:
        print(f"computed in {info.seconds:.2f}s: {len(table) / max(info.seconds, 1e-9):.0f} features/s "
              f"({total:.2f}s with reading, hashing and writing; num_proc={args.num_proc})", file=sys.stderr)
    print(f"cache {info.path}: {size} bytes, {size / max(len(table), 1):.0f} bytes/feature, "
          f"{table.nnz / max(len(table), 1):.1f} nonzero spans/feature", file=sys.stderr)
    for entry in sample_entries(table, features, examples, args.inspect, seed=args.seed):
        print(json.dumps(entry, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    from gp_mrc.errors import run_script

    run_script(main)
