"""Per-span F1 rewards: the metric's own F1 of every candidate span near a gold, sparse and cached.

One module per part:

* ``table``    — F1Table, the sparse CSR table of every feature's nonzero rewards (NULL_INDEX: [CLS]);
* ``window``   — the pruning window: which spans of a feature are scored (``candidate_spans``);
* ``scorer``   — the reward of each span of one feature: null-span rules, fast English F1;
* ``inputs``   — reading and validating features/examples (``check_offsets``, the one offset validator);
* ``parallel`` — computing a whole table, sharded over worker processes;
* ``cache``    — the .npz cache keyed by the content of every input, checked before it is trusted;
* ``verify``   — checking a table against ``scoring.f1_score`` on sampled spans;
* ``command``  — scripts/precompute_f1.py and scripts/check_rewards.py (the cache training loads, checked).

Everything is importable from ``gp_mrc.rewards`` as it was when this was one module.
"""

from __future__ import annotations

from .cache import (
    CACHE_VERSION,
    CacheError,
    CacheInfo,
    cache_key,
    cache_path,
    load_f1_table,
    load_or_compute_f1_table,
    load_or_compute_with_info,
    reward_table_inputs,
    save_f1_table,
)
from .inputs import RewardInputs, check_offsets, read_inputs
from .parallel import compute_f1_table
from .scorer import feature_span_f1
from .table import NULL_INDEX, F1Table
from .verify import VerifyReport, sample_entries, verify_f1_table
from .window import DEFAULT_F1_WINDOW, candidate_spans

__all__ = [
    "CACHE_VERSION",
    "DEFAULT_F1_WINDOW",
    "NULL_INDEX",
    "F1Table",
    "RewardInputs",
    "CacheError",
    "CacheInfo",
    "VerifyReport",
    "candidate_spans",
    "feature_span_f1",
    "check_offsets",
    "read_inputs",
    "compute_f1_table",
    "cache_key",
    "cache_path",
    "save_f1_table",
    "load_f1_table",
    "load_or_compute_with_info",
    "load_or_compute_f1_table",
    "reward_table_inputs",
    "verify_f1_table",
    "sample_entries",
]
