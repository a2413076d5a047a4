"""scripts/precompute_f1.py and scripts/check_rewards.py: the F1 reward cache of a training file, as training builds it.

`precompute_main` fills (or loads) the cache file a run with the same data flags then loads — the cache dir, data
key and window come from `cache.reward_table_inputs`, which training calls too — and prints throughput and size;
--inspect N prints N sampled rewarded spans as JSON lines. `check_main` compares the stored reward of sampled spans
inside the pruning window (zero-valued ones included) with scoring.f1_score of the decoded text: exit 1 on any
difference above --tol.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

from ..argtypes import Parser, non_negative_float, non_negative_int, positive_int
from ..defaults import DEFAULT_OUTPUT_DIR
from ..flags import add_flags, setting
from ..settings import LANGS, InferenceSettings
from .window import DEFAULT_F1_WINDOW

# training's windows, as their fields say
WINDOWS = ("max_seq_length", "doc_stride", "max_query_length", "max_answer_length", "version_2_with_negative")


@dataclass(frozen=True)
class RewardData:
    """The data flags of scripts/train.py the rewards depend on, read as training reads them (training's own
    fields are a stage above: gp_mrc/training/config.py's DataConfig)."""

    train_file: str | None = setting(None, "SQuAD JSON or flat JSON/JSONL", required=True)
    model_name_or_path: str | None = setting(None, "tokenizer source", depends="the packaged all-MiniLM-L6-v2")
    tokenizer_name: str | None = setting(None)
    lang: str = setting("auto", choices=("auto", *LANGS))
    f1_window: int | None = setting(
        None, "pruning window W in tokens", type=positive_int, depends=f"DEFAULT_F1_WINDOW ({DEFAULT_F1_WINDOW})"
    )
    output_dir: str = setting(DEFAULT_OUTPUT_DIR, "only used to derive the default --cache_dir, as in training")
    cache_dir: str | None = setting(None, depends="<output_dir>/../.gp_mrc_cache (training's default)")
    max_train_samples: int | None = setting(None, type=positive_int)
    num_proc: int = setting(1, type=positive_int)
    seed: int = setting(0, "the seed of the sampled spans", type=non_negative_int)


@dataclass(frozen=True)
class PrecomputeOptions:
    overwrite_cache: bool = setting(False, "recompute even if a valid cache file exists")
    inspect: int = setting(0, "print N sampled nonzero rewards as JSON lines", type=non_negative_int, metavar="N")


@dataclass(frozen=True)
class CheckOptions:
    n_samples: int = setting(1000, type=positive_int)
    tol: float = setting(1e-3, type=non_negative_float)


def build_parser(description: str, options: type) -> argparse.ArgumentParser:
    """The data flags of scripts/train.py that the rewards depend on, then the command's `options`."""
    p = Parser(description=description)
    add_flags(p, RewardData)
    add_flags(
        p.add_argument_group("windows (training's)"), InferenceSettings, research=None, resolved=True, only=WINDOWS
    )
    add_flags(p, options)
    return p


def prepare(args: argparse.Namespace) -> tuple[Any, Any, str, dict[str, Any]]:
    """(features, examples, lang, {cache_dir, data_key, window}), built exactly as training builds them."""
    from transformers import AutoTokenizer

    from ..data.examples import detect_language, load_examples
    from ..data.features import prepare_features
    from ..defaults import default_encoder_path
    from .cache import reward_table_inputs

    # a DataError is a UsageError: run_script makes it one line and exit 2
    examples = load_examples(
        args.train_file, version_2=args.version_2_with_negative, max_samples=args.max_train_samples
    )
    lang = args.lang if args.lang != "auto" else detect_language(examples)
    tokenizer = AutoTokenizer.from_pretrained(
        args.tokenizer_name or args.model_name_or_path or default_encoder_path(), use_fast=True
    )
    features = prepare_features(
        examples,
        tokenizer,
        max_seq_length=args.max_seq_length,
        doc_stride=args.doc_stride,
        max_query_length=args.max_query_length,
        num_proc=args.num_proc if args.num_proc > 1 else None,
    )
    where = reward_table_inputs(
        features, examples, tokenizer, cache_dir=args.cache_dir, output_dir=args.output_dir, f1_window=args.f1_window
    )
    return features, examples, lang, where


def precompute_main(argv: list[str] | None = None) -> int:
    from .cache import load_or_compute_with_info
    from .verify import sample_entries

    parser = build_parser(
        "Precompute (and cache) the per-span F1 rewards of a training file, as training would.", PrecomputeOptions
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    features, examples, lang, where = prepare(args)
    t0 = time.perf_counter()
    table, info = load_or_compute_with_info(
        features,
        examples,
        lang=lang,
        max_answer_length=args.max_answer_length,
        num_proc=args.num_proc,
        overwrite=args.overwrite_cache,
        **where,
    )
    total = time.perf_counter() - t0
    size = os.path.getsize(info.path)
    print(
        f"{len(examples)} questions -> {len(table)} features, lang={lang}, window={where['window']}, "
        f"max_answer_length={args.max_answer_length}",
        file=sys.stderr,
    )
    if info.loaded:
        print(f"loaded from cache in {total:.2f}s", file=sys.stderr)
    else:
        print(
            f"computed in {info.seconds:.2f}s: {len(table) / max(info.seconds, 1e-9):.0f} features/s "
            f"({total:.2f}s with reading, hashing and writing; num_proc={args.num_proc})",
            file=sys.stderr,
        )
    print(
        f"cache {info.path}: {size} bytes, {size / max(len(table), 1):.0f} bytes/feature, "
        f"{table.nnz / max(len(table), 1):.1f} nonzero spans/feature",
        file=sys.stderr,
    )
    for entry in sample_entries(table, features, examples, args.inspect, seed=args.seed):
        print(json.dumps(entry, ensure_ascii=False))
    return 0


def check_main(argv: list[str] | None = None) -> int:
    from .cache import load_or_compute_f1_table
    from .verify import verify_f1_table

    parser = build_parser(
        "Check cached per-span F1 rewards against the metric itself on >= N sampled (feature, span) pairs.",
        CheckOptions,
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    features, examples, lang, where = prepare(args)
    table = load_or_compute_f1_table(
        features, examples, lang=lang, max_answer_length=args.max_answer_length, num_proc=args.num_proc, **where
    )
    report = verify_f1_table(
        table,
        features,
        examples,
        lang=lang,
        window=where["window"],
        max_answer_length=args.max_answer_length,
        n_samples=args.n_samples,
        seed=args.seed,
        tol=args.tol,
    )
    for line in report.mismatches:
        print("MISMATCH", line)
    print(
        f"checked {report.n_checked} (feature, span) pairs, max |diff| = {report.max_abs_diff:.3g}, "
        f"mismatches: {len(report.mismatches)}"
    )
    if report.n_checked < args.n_samples:
        print(f"only {report.n_checked} pairs could be sampled (fewer than --n_samples {args.n_samples})")
    return 1 if report.mismatches or report.n_checked == 0 else 0
