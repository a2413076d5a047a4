"""The F1 table cache: one .npz file per set of inputs, trusted only after it is checked.

``load_or_compute_f1_table`` keys a .npz file by a sha256 over CACHE_VERSION, the caller's
``data_key``, lang, window, max_answer_length AND the content of every input the rewards are
computed from (offsets, gold token spans, example indices and ids, is_impossible, contexts, gold
texts), so a stale file can never be picked up even if data_key misses a change. The payload is a
CSR layout with a stored sha256; a truncated or corrupted file is detected, warned about and rebuilt.
Files are written atomically (gp_mrc.atomic), so a killed run leaves no half-written table behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..atomic import atomic_path
from ..data.features import content_key
from ..settings import MAX_ANSWER_LENGTH

from .inputs import read_inputs
from .parallel import _compute_table
from .table import F1Table
from .window import DEFAULT_F1_WINDOW

logger = logging.getLogger(__package__)  # "gp_mrc.rewards", the name these messages have always had

# Bump whenever scoring, pruning or the file layout changes: old cache files then miss.
CACHE_VERSION = 2  # 2: Chinese F1 tokenizes non-CJK runs as nltk does (metrics/scoring.py)


class CacheError(ValueError):
    """A cache file that cannot be trusted (truncated, corrupted, or for other inputs)."""


def cache_key(inputs_digest: str, *, data_key: str, lang: str, window: int, max_answer_length: int) -> str:
    """sha256 over everything the rewards depend on."""
    parts = {
        "cache_version": CACHE_VERSION,
        "data_key": data_key,
        "metric": f"f1/{lang}",
        "window": window,
        "max_answer_length": max_answer_length,
        "inputs": inputs_digest,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def reward_table_inputs(
    features: Any, examples: Any, tokenizer: Any, *, cache_dir: str | None, output_dir: str, f1_window: int | None
) -> dict[str, Any]:
    """{cache_dir, data_key, window} for load_or_compute_f1_table, as training decides them: the one place, so
    scripts/precompute_f1.py fills the very cache file a run then loads. cache_dir None: <output_dir>/../.gp_mrc_cache."""
    return {
        "cache_dir": cache_dir or os.path.join(os.path.dirname(os.path.abspath(output_dir)), ".gp_mrc_cache"),
        "data_key": content_key(features, examples, type(tokenizer).__name__),
        "window": f1_window if f1_window is not None else DEFAULT_F1_WINDOW,
    }


def cache_path(cache_dir: str | os.PathLike, key: str) -> str:
    return os.path.join(os.fspath(cache_dir), f"f1_table-{key[:32]}.npz")


def save_f1_table(table: F1Table, path: str | os.PathLike, key: str) -> None:
    """Write atomically (temp file + os.replace) with the key and a payload checksum."""
    table.check()
    os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object: np.savez would append .npz to a name
        np.savez(
            f,
            row_ptr=table.row_ptr,
            starts=table.starts,
            ends=table.ends,
            values=table.values,
            key=np.array(key),
            checksum=np.array(table.checksum()),
        )


def load_f1_table(path: str | os.PathLike, key: str | None = None, n_features: int | None = None) -> F1Table:
    """Read a cache file; CacheError if it is unreadable, inconsistent, or not for `key` / `n_features`."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {name: z[name] for name in ("row_ptr", "starts", "ends", "values", "key", "checksum")}
    except Exception as err:  # zip/CRC/format errors: all mean "do not trust"
        raise CacheError(f"{path}: unreadable ({type(err).__name__}: {err})") from err
    if key is not None and str(arrays["key"]) != key:
        raise CacheError(f"{path}: written for another key")
    table = F1Table(arrays["row_ptr"], arrays["starts"], arrays["ends"], arrays["values"])
    try:
        table.check()
    except ValueError as err:
        raise CacheError(f"{path}: {err}") from err
    if table.checksum() != str(arrays["checksum"]):
        raise CacheError(f"{path}: payload checksum mismatch")
    if n_features is not None and len(table) != n_features:
        raise CacheError(f"{path}: {len(table)} rows for {n_features} features")
    return table


@dataclass(frozen=True)
class CacheInfo:
    """Where the table lives and whether this call loaded it or computed it (and how fast)."""

    path: str
    loaded: bool
    seconds: float  # computing time (0 when loaded)
    n_features: int


def load_or_compute_with_info(
    features: Any,
    examples: Any,
    *,
    cache_dir: str | os.PathLike,
    data_key: str,
    lang: str,
    window: int = DEFAULT_F1_WINDOW,
    max_answer_length: int = MAX_ANSWER_LENGTH,
    num_proc: int = 1,
    overwrite: bool = False,
) -> tuple[F1Table, CacheInfo]:
    """load_or_compute_f1_table, also telling what happened (for scripts that report throughput)."""
    inputs = read_inputs(features, examples)
    key = cache_key(inputs.digest(), data_key=data_key, lang=lang, window=window, max_answer_length=max_answer_length)
    path = cache_path(cache_dir, key)
    if os.path.exists(path) and not overwrite:
        try:
            table = load_f1_table(path, key, len(inputs))
            logger.info("loaded F1 rewards of %d features from %s", len(table), path)
            return table, CacheInfo(path, True, 0.0, len(table))
        except CacheError as err:
            warnings.warn(f"rebuilding the F1 reward cache: {err}", RuntimeWarning, stacklevel=3)
    t0 = time.perf_counter()
    table = _compute_table(inputs, lang=lang, window=window, max_answer_length=max_answer_length, num_proc=num_proc)
    seconds = time.perf_counter() - t0
    save_f1_table(table, path, key)
    logger.info(
        "computed F1 rewards of %d features in %.1fs (%d nonzero spans) -> %s", len(table), seconds, table.nnz, path
    )
    return table, CacheInfo(path, False, seconds, len(table))


def load_or_compute_f1_table(
    features: Any,
    examples: Any,
    *,
    cache_dir: str | os.PathLike,
    data_key: str,
    lang: str,
    window: int = DEFAULT_F1_WINDOW,
    max_answer_length: int = MAX_ANSWER_LENGTH,
    num_proc: int = 1,
) -> F1Table:
    """The cached table for these inputs, computed and written if missing or untrustworthy."""
    table, _ = load_or_compute_with_info(
        features,
        examples,
        cache_dir=cache_dir,
        data_key=data_key,
        lang=lang,
        window=window,
        max_answer_length=max_answer_length,
        num_proc=num_proc,
    )
    return table
