"""Computing a whole F1 table, in worker processes when the feature set is large.

Features are cut into contiguous shards (four per process, so a slow shard does not hold up the rest)
that are scored independently and concatenated in feature order: the table is the same whatever the
number of processes. Workers are forked where possible.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

import numpy as np

from ..metrics.scoring import check_lang
from ..settings import MAX_ANSWER_LENGTH

from .inputs import RewardInputs, read_inputs
from .scorer import SpanScorer, score_feature
from .window import DEFAULT_F1_WINDOW, check_params
from .table import F1Table

_MIN_FEATURES_PER_PROC = 1000  # below this a worker process costs more than it saves


def _score_shard(args: tuple) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Rewards of a contiguous run of features (runs in worker processes)."""
    (
        offsets,
        tok_ptr,
        gold_starts,
        gold_ends,
        is_impossible,
        contexts,
        gold_texts,
        example_ids,
        lang,
        window,
        max_answer_length,
    ) = args
    scorer = SpanScorer(lang)
    rows = []
    for k in range(len(tok_ptr) - 1):
        try:
            feat_offsets = offsets[tok_ptr[k] : tok_ptr[k + 1]].tolist()
            rows.append(
                score_feature(
                    scorer,
                    contexts[k],
                    feat_offsets,
                    gold_texts[k],
                    gold_starts[k],
                    gold_ends[k],
                    is_impossible[k],
                    window,
                    max_answer_length,
                )
            )
        except ValueError as err:
            raise ValueError(f"feature of example {example_ids[k]!r}: {err}") from err
    return rows


def _shards(inputs: RewardInputs, lang: str, window: int, max_answer_length: int, n_shards: int) -> list[tuple]:
    bounds = np.linspace(0, len(inputs), n_shards + 1).astype(int)
    out = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        t0, t1 = inputs.tok_ptr[a], inputs.tok_ptr[b]
        out.append(
            (
                inputs.offsets[t0:t1],
                inputs.tok_ptr[a : b + 1] - t0,
                inputs.gold_starts[a:b],
                inputs.gold_ends[a:b],
                inputs.is_impossible[a:b],
                inputs.contexts[a:b],
                inputs.gold_texts[a:b],
                inputs.example_ids[a:b],
                lang,
                window,
                max_answer_length,
            )
        )
    return out


def _pool_context() -> Any:
    """fork where available: workers run pure Python/numpy only (no torch or tokenizer threads), and
    unlike spawn it does not re-import the caller's __main__ (scripts without a main guard work)."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _compute_table(
    inputs: RewardInputs, *, lang: str, window: int, max_answer_length: int, num_proc: int = 1
) -> F1Table:
    """The table of validated inputs (the cache computes through this, so tests count its calls)."""
    check_params(window, max_answer_length)
    check_lang(lang)  # before forking: workers would all fail on it
    num_proc = max(1, min(int(num_proc or 1), len(inputs) // _MIN_FEATURES_PER_PROC))
    if num_proc == 1:
        rows = _score_shard(_shards(inputs, lang, window, max_answer_length, 1)[0])
    else:
        shards = _shards(inputs, lang, window, max_answer_length, 4 * num_proc)
        with _pool_context().Pool(num_proc) as pool:
            rows = [r for shard_rows in pool.imap(_score_shard, shards) for r in shard_rows]
    return F1Table.from_rows(rows)


def compute_f1_table(
    features: Any,
    examples: Any,
    *,
    lang: str,
    window: int = DEFAULT_F1_WINDOW,
    max_answer_length: int = MAX_ANSWER_LENGTH,
    num_proc: int = 1,
) -> F1Table:
    """Rewards of every feature, in feature order (``F1Table.as_columns()`` gives ragged columns)."""
    return _compute_table(
        read_inputs(features, examples),
        lang=lang,
        window=window,
        max_answer_length=max_answer_length,
        num_proc=num_proc,
    )
