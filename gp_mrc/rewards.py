"""Per-span F1 rewards: the metric's own F1 of every candidate span near a gold, sparse and cached.

For one feature (window) the reward of span (i, j) is ``scoring.f1_score`` of the text it decodes
to, ``context[offsets[i][0]:offsets[j][1]]`` (exactly what prediction returns), against ALL gold
texts of the example (max over golds). Only spans that matter are kept:

* pruning: both tokens are passage tokens, i <= j, j - i + 1 <= max_answer_length, and for at
  least one gold (gs, ge) inside the window |i - gs| <= window and |j - ge| <= window;
* sparsity: only nonzero values are stored; every other span's reward is 0;
* null span (0, 0) ([CLS]): reward 1 and nothing else when the question is unanswerable, and
  also when the question is answerable but no gold lies inside this window (the transformers QA
  examples label [CLS] for such windows, and so do we); otherwise it is absent (0).

Speed (English). normalize_answer(text).split() equals the concatenation, over text.split()
pieces, of normalize_answer(piece).split(): lowercasing and punctuation removal act per
character and never create whitespace, and an article's \\b boundary at a piece edge behaves
like a string edge. So a span's tokens are those of the context's whitespace words it covers
(the first and last possibly cut), and for a fixed start the token bag is grown word by word as
the end moves right, with the per-gold overlap counts updated incrementally. Normalized pieces
are memoized. Chinese (longest common substring) is scored per span with memoized segmentation;
its data sets are small.

Cache. ``load_or_compute_f1_table`` keys a .npz file by a sha256 over CACHE_VERSION, the caller's
``data_key``, lang, window, max_answer_length AND the content of every input the rewards are
computed from (offsets, gold token spans, example indices and ids, is_impossible, contexts, gold
texts), so a stale file can never be picked up even if data_key misses a change. The payload is a
CSR layout with a stored sha256; a truncated or corrupted file is detected, warned about and rebuilt.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import multiprocessing
import os
import re
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gp_mrc.atomic import atomic_path
from gp_mrc.scoring import (
    LANGS,
    answer_tokens,
    f1_from_overlap,
    f1_score,
    gold_answers,
    longest_common_substring,
)

logger = logging.getLogger(__name__)

# Bump whenever scoring, pruning or the file layout changes: old cache files then miss.
CACHE_VERSION = 1

# Spans whose boundaries are within 8 tokens of a gold's boundaries: covers the near-misses the
# model actually confuses with the answer (a SQuAD answer is ~3 tokens; a few words of extra or
# missing context) while bounding the work and storage to at most 17 x 17 spans per gold.
# Farther spans get reward 0 (their F1 is small: they mostly cover other text).
DEFAULT_F1_WINDOW = 8

NULL_INDEX = 0  # token 0 is [CLS]; the span (0, 0) means "no answer"

_WORD = re.compile(r"\S+")  # \s in re is exactly str.isspace, what str.split() splits on
_PIECE_MEMO_MAX = 2_000_000
_MIN_FEATURES_PER_PROC = 1000  # below this a worker process costs more than it saves


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class F1Table:
    """Sparse per-feature rewards in CSR layout: row k holds entries row_ptr[k]:row_ptr[k + 1]."""

    row_ptr: np.ndarray  # int64, (n_features + 1,)
    starts: np.ndarray  # int32, (nnz,)
    ends: np.ndarray  # int32, (nnz,)
    values: np.ndarray  # float32, (nnz,)

    def __len__(self) -> int:
        return len(self.row_ptr) - 1

    @property
    def nnz(self) -> int:
        return len(self.values)

    def row(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(starts, ends, values) of feature k (views, sorted by start then end)."""
        if not 0 <= k < len(self):
            raise IndexError(f"feature {k} out of range for an F1 table of {len(self)} features")
        a, b = int(self.row_ptr[k]), int(self.row_ptr[k + 1])
        return self.starts[a:b], self.ends[a:b], self.values[a:b]

    def as_columns(self) -> dict[str, list[list]]:
        """Ragged columns f1_starts / f1_ends / f1_values (e.g. for Dataset.add_column)."""
        rows = [self.row(k) for k in range(len(self))]
        return {
            "f1_starts": [s.tolist() for s, _, _ in rows],
            "f1_ends": [e.tolist() for _, e, _ in rows],
            "f1_values": [v.tolist() for _, _, v in rows],
        }

    def checksum(self) -> str:
        """sha256 over the payload arrays (dtype, shape and bytes)."""
        h = hashlib.sha256()
        for arr in (self.row_ptr, self.starts, self.ends, self.values):
            h.update(f"{arr.dtype.str}{arr.shape}".encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()

    def check(self) -> None:
        """Raise ValueError unless the arrays form a consistent CSR table."""
        rp = self.row_ptr
        if rp.dtype != np.int64 or self.starts.dtype != np.int32 or self.ends.dtype != np.int32 \
                or self.values.dtype != np.float32:
            raise ValueError("F1 table arrays have unexpected dtypes")
        if rp.ndim != 1 or len(rp) < 1 or rp[0] != 0 or np.any(np.diff(rp) < 0):
            raise ValueError("F1 table row pointers are not a non-decreasing list starting at 0")
        if not (int(rp[-1]) == len(self.starts) == len(self.ends) == len(self.values)):
            raise ValueError("F1 table row pointers do not match the entry arrays' length")

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> F1Table:
        lengths = np.array([len(r[0]) for r in rows], dtype=np.int64)
        row_ptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=row_ptr[1:])

        def cat(i: int, dtype: type) -> np.ndarray:
            return np.concatenate([np.asarray(r[i], dtype=dtype) for r in rows]) if rows \
                else np.zeros(0, dtype=dtype)

        return cls(row_ptr, cat(0, np.int32), cat(1, np.int32), cat(2, np.float32))


# --------------------------------------------------------------------------- one feature


def candidate_spans(offsets: Sequence[Sequence[int]], gold_starts: Sequence[int], gold_ends: Sequence[int],
                    window: int, max_answer_length: int) -> dict[int, list[int]]:
    """start -> sorted ends of the passage-token spans inside the pruning window of some gold."""
    n = len(offsets)
    ends_by_start: dict[int, set[int]] = {}
    for gs, ge in zip(gold_starts, gold_ends):
        for i in range(max(0, gs - window), min(n, gs + window + 1)):
            if offsets[i][0] < 0:
                continue
            hi = min(n - 1, ge + window, i + max_answer_length - 1)
            ends = [j for j in range(max(i, ge - window), hi + 1) if offsets[j][0] >= 0]
            if ends:
                ends_by_start.setdefault(i, set()).update(ends)
    return {i: sorted(ends_by_start[i]) for i in sorted(ends_by_start)}


def _check_feature(context: str, offsets: Sequence[Sequence[int]], gold_starts: Sequence[int],
                   gold_ends: Sequence[int]) -> None:
    """Errors that would otherwise silently produce wrong rewards."""
    if len(gold_starts) != len(gold_ends):
        raise ValueError(f"{len(gold_starts)} gold starts but {len(gold_ends)} gold ends")
    for gs, ge in zip(gold_starts, gold_ends):
        if not (0 <= gs <= ge < len(offsets)):
            raise ValueError(f"gold span ({gs}, {ge}) is not a valid span of {len(offsets)} tokens")
        if offsets[gs][0] < 0 or offsets[ge][0] < 0:
            raise ValueError(f"gold span ({gs}, {ge}) does not start and end on passage tokens")
        if offsets[ge][1] > len(context):
            raise ValueError(f"gold span ({gs}, {ge}) ends at char {offsets[ge][1]} beyond the "
                             f"context ({len(context)} chars)")


def _word_bounds(context: str) -> tuple[list[int], list[int]]:
    """Start and end char of every whitespace-delimited word of the context."""
    starts, ends = [], []
    for m in _WORD.finditer(context):
        starts.append(m.start())
        ends.append(m.end())
    return starts, ends


def _en_golds(gold_texts: Sequence[str]) -> list[tuple[dict[str, int], int]]:
    """(token counts, length) of each distinct English gold, after the metric's gold filtering."""
    seen, out = set(), []
    for g in gold_answers(gold_texts, "en"):
        toks = answer_tokens(g, "en")
        counts: dict[str, int] = {}
        for t in toks:
            counts[t] = counts.get(t, 0) + 1
        key = frozenset(counts.items())
        if key not in seen:
            seen.add(key)
            out.append((counts, len(toks)))
    return out


class _SpanScorer:
    """Scores the candidate spans of features one after another, with memos shared across them."""

    def __init__(self, lang: str):
        if lang not in LANGS:
            raise ValueError(f"unknown metric language {lang!r}; expected one of {LANGS}")
        self.lang = lang
        self.pieces: dict[str, tuple[str, ...]] = {}  # en: piece -> normalized tokens
        self._context: str | None = None
        self._words: tuple[list[int], list[int]] = ([], [])
        self._gold_key: tuple[str, ...] | None = None
        self._gold_toks: list[list[str]] = []

    def words(self, context: str) -> tuple[list[int], list[int]]:
        if context is not self._context:  # consecutive features usually share one example
            self._context, self._words = context, _word_bounds(context)
        return self._words

    def piece_tokens(self, piece: str) -> tuple[str, ...]:
        toks = self.pieces.get(piece)
        if toks is None:
            if len(self.pieces) >= _PIECE_MEMO_MAX:  # bound memory on huge corpora
                self.pieces.clear()
            toks = self.pieces[piece] = tuple(answer_tokens(piece, "en"))
        return toks

    # -- English: incremental bag of tokens per start --------------------------------------

    def english(self, context: str, offsets: Sequence[Sequence[int]], spans: dict[int, list[int]],
                gold_texts: Sequence[str]) -> tuple[list[int], list[int], list[float]]:
        golds = _en_golds(gold_texts)
        word_starts, word_ends = self.words(context)
        n_words = len(word_ends)
        out_s: list[int] = []
        out_e: list[int] = []
        out_v: list[float] = []
        for i, ends in spans.items():
            a = offsets[i][0]
            bag: dict[str, int] = {}  # tokens of the words fully covered so far
            n_bag = 0
            common = [0] * len(golds)  # per gold: overlap of bag with it
            w = bisect.bisect_right(word_ends, a)  # first word ending after a
            prev_b = -1
            for j in ends:
                b = offsets[j][1]
                if b < prev_b:  # offsets not monotone (unusual tokenizer): score this span directly
                    f1 = self.direct(context[a:b], gold_texts)
                    if f1 > 0:
                        out_s.append(i), out_e.append(j), out_v.append(f1)
                    continue
                prev_b = b
                while w < n_words and word_ends[w] <= b:  # commit words now fully inside
                    s = word_starts[w]
                    for t in self.piece_tokens(context[a if a > s else s:word_ends[w]]):
                        c = bag.get(t, 0)
                        bag[t] = c + 1
                        n_bag += 1
                        for g, (counts, _) in enumerate(golds):
                            if c < counts.get(t, 0):
                                common[g] += 1
                    w += 1
                tail: tuple[str, ...] = ()
                if w < n_words and word_starts[w] < b:  # the last word, cut at b
                    s = word_starts[w]
                    tail = self.piece_tokens(context[a if a > s else s:b])
                n_pred = n_bag + len(tail)
                best = 0.0
                for g, (counts, n_gold) in enumerate(golds):
                    overlap = common[g]
                    if tail:
                        overlap += _extra_overlap(tail, bag, counts)
                    f1 = f1_from_overlap(overlap, n_pred, n_gold)
                    if f1 > best:
                        best = f1
                if best > 0:
                    out_s.append(i), out_e.append(j), out_v.append(best)
        return out_s, out_e, out_v

    # -- any language: span by span ------------------------------------------------------------

    def direct(self, text: str, gold_texts: Sequence[str]) -> float:
        """scoring.f1_score, with the gold tokens memoized per gold set."""
        pred = answer_tokens(text, self.lang)
        best = 0.0
        for gold in self.gold_tokens(gold_texts):
            if self.lang == "en":
                overlap = _bag_overlap(pred, gold)
            else:
                overlap = longest_common_substring(pred, gold)
            best = max(best, f1_from_overlap(overlap, len(pred), len(gold)))
        return best

    def gold_tokens(self, gold_texts: Sequence[str]) -> list[list[str]]:
        key = tuple(gold_texts)
        if self._gold_key != key:
            self._gold_key = key
            self._gold_toks = [answer_tokens(g, self.lang) for g in gold_answers(gold_texts, self.lang)]
        return self._gold_toks

    def chinese(self, context: str, offsets: Sequence[Sequence[int]], spans: dict[int, list[int]],
                gold_texts: Sequence[str]) -> tuple[list[int], list[int], list[float]]:
        out_s: list[int] = []
        out_e: list[int] = []
        out_v: list[float] = []
        memo: dict[tuple[int, int], float] = {}
        for i, ends in spans.items():
            a = offsets[i][0]
            for j in ends:
                b = offsets[j][1]
                f1 = memo.get((a, b))
                if f1 is None:
                    f1 = memo[(a, b)] = self.direct(context[a:b], gold_texts)
                if f1 > 0:
                    out_s.append(i), out_e.append(j), out_v.append(f1)
        return out_s, out_e, out_v


def _extra_overlap(tail: tuple[str, ...], bag: Mapping[str, int], counts: Mapping[str, int]) -> int:
    """How much the tokens of the cut last word add to the overlap of `bag` with one gold."""
    if len(tail) == 1:
        t = tail[0]
        return int(bag.get(t, 0) < counts.get(t, 0))
    extra, added = 0, {}
    for t in tail:
        k = added.get(t, 0)
        if bag.get(t, 0) + k < counts.get(t, 0):
            extra += 1
        added[t] = k + 1
    return extra


def _bag_overlap(a: Sequence[str], b: Sequence[str]) -> int:
    counts: dict[str, int] = {}
    for t in b:
        counts[t] = counts.get(t, 0) + 1
    overlap = 0
    for t in a:
        c = counts.get(t, 0)
        if c:
            counts[t] = c - 1
            overlap += 1
    return overlap


_NULL_ONLY = (np.array([NULL_INDEX], np.int32), np.array([NULL_INDEX], np.int32), np.array([1.0], np.float32))


def _score_feature(scorer: _SpanScorer, context: str, offsets: Sequence[Sequence[int]], gold_texts: Sequence[str],
                   gold_starts: Sequence[int], gold_ends: Sequence[int], is_impossible: bool, window: int,
                   max_answer_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if is_impossible or len(gold_starts) == 0:
        return tuple(a.copy() for a in _NULL_ONLY)  # type: ignore[return-value]
    _check_feature(context, offsets, gold_starts, gold_ends)
    spans = candidate_spans(offsets, gold_starts, gold_ends, window, max_answer_length)
    score = scorer.english if scorer.lang == "en" else scorer.chinese
    s, e, v = score(context, offsets, spans, gold_texts)
    return np.array(s, np.int32), np.array(e, np.int32), np.array(v, np.float32)


def feature_span_f1(context: str, offsets: Sequence[Sequence[int]], gold_texts: Sequence[str],
                    gold_starts: Sequence[int], gold_ends: Sequence[int], is_impossible: bool, *, lang: str,
                    window: int = DEFAULT_F1_WINDOW, max_answer_length: int = 30,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nonzero rewards of one feature: (starts int32, ends int32, values float32), sorted by (start, end).

    See the module docstring for the pruning window and the null-span rules.
    """
    _check_params(window, max_answer_length)
    offsets = [(int(s), int(e)) for s, e in offsets]
    for t, (s, e) in enumerate(offsets):
        if not (s == e == -1 or 0 <= s <= e <= len(context)):
            raise ValueError(f"token {t} has offsets {[s, e]}, not a [start, end] inside the context "
                             f"({len(context)} chars) nor [-1, -1]")
    return _score_feature(_SpanScorer(lang), context, offsets, gold_texts, gold_starts, gold_ends,
                          bool(is_impossible), window, max_answer_length)


def _check_params(window: int, max_answer_length: int) -> None:
    if window < 0:
        raise ValueError(f"window must be >= 0, got {window}")
    if max_answer_length < 1:
        raise ValueError(f"max_answer_length must be >= 1, got {max_answer_length}")


# --------------------------------------------------------------------------- reading inputs


@dataclass
class RewardInputs:
    """Everything the rewards of a feature set are computed from, as plain arrays and lists."""

    offsets: np.ndarray  # (total tokens, 2) int64, all features' offset_mapping concatenated
    tok_ptr: np.ndarray  # (n + 1,) int64: feature k's tokens are offsets[tok_ptr[k]:tok_ptr[k + 1]]
    gold_starts: list[list[int]]
    gold_ends: list[list[int]]
    example_ids: list[str]
    example_index: list[int]
    is_impossible: list[bool]
    contexts: list[str]  # per feature (shared string objects per example)
    gold_texts: list[list[str]]  # per feature

    def __len__(self) -> int:
        return len(self.tok_ptr) - 1

    def digest(self) -> str:
        """sha256 over the content of every input (see the module docstring on caching)."""
        h = hashlib.sha256()
        for arr in (np.ascontiguousarray(self.offsets, dtype=np.int64), self.tok_ptr):
            h.update(arr.tobytes())
        small = [self.gold_starts, self.gold_ends, self.example_ids, self.example_index, self.is_impossible,
                 self.gold_texts]
        h.update(json.dumps(small, ensure_ascii=False).encode())
        last = None
        for k, c in enumerate(self.contexts):  # a context once per run of features sharing it
            if c is not last:
                h.update(f"\x00{k}\x00".encode())
                h.update(c.encode())
                last = c
        return h.hexdigest()


def _flat_offsets_arrow(column: Any) -> tuple[np.ndarray, np.ndarray]:
    """A list<list<int>> Arrow column -> ((total, 2) int64 values, (n + 1,) int64 row pointers)."""
    import pyarrow.compute as pc

    values, lengths = [], []
    for chunk in column.chunks:
        pairs = chunk.flatten()  # respects slicing, unlike .values
        pair_len = pc.list_value_length(pairs).to_numpy(zero_copy_only=False)
        if len(pair_len) and (pair_len != 2).any():
            raise ValueError("offset_mapping must hold [char_start, char_end] pairs")
        values.append(pairs.flatten().to_numpy(zero_copy_only=False).astype(np.int64, copy=False).reshape(-1, 2))
        lengths.append(pc.list_value_length(chunk).to_numpy(zero_copy_only=False))
    lens = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
    tok_ptr = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=tok_ptr[1:])
    flat = np.concatenate(values) if values else np.zeros((0, 2), np.int64)
    return flat, tok_ptr


def _flat_offsets_lists(rows: Sequence[Sequence[Sequence[int]]]) -> tuple[np.ndarray, np.ndarray]:
    lens = np.array([len(r) for r in rows], dtype=np.int64)
    tok_ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lens, out=tok_ptr[1:])
    flat = np.array([p for r in rows for p in r], dtype=np.int64).reshape(-1, 2)
    return flat, tok_ptr


def _columns(data: Any, names: Sequence[str]) -> dict[str, list]:
    """Python columns of a datasets.Dataset or a dict of lists."""
    if isinstance(data, Mapping):
        return {n: list(data[n]) for n in names}
    return data.select_columns(list(names))[:]


def read_inputs(features: Any, examples: Any) -> RewardInputs:
    """Gather and validate the columns the rewards need (features/examples: Dataset or dict of lists)."""
    cols = _columns(features, ["example_id", "example_index", "gold_starts", "gold_ends", "is_impossible"])
    if isinstance(features, Mapping):
        offsets, tok_ptr = _flat_offsets_lists(features["offset_mapping"])
    else:
        table = features.select_columns(["offset_mapping"]).with_format("arrow")[:]
        offsets, tok_ptr = _flat_offsets_arrow(table.column("offset_mapping"))
    ex = _columns(examples, ["id", "context", "answers"])
    contexts, gold_texts = [], []
    for k, (ex_idx, ex_id) in enumerate(zip(cols["example_index"], cols["example_id"])):
        if not 0 <= ex_idx < len(ex["id"]):
            raise ValueError(f"feature {k} (example {ex_id!r}): example_index {ex_idx} is out of range "
                             f"for {len(ex['id'])} examples")
        if ex["id"][ex_idx] != ex_id:
            raise ValueError(f"feature {k}: example_id {ex_id!r} but examples row {ex_idx} has id "
                             f"{ex['id'][ex_idx]!r} (features built from other examples?)")
        contexts.append(ex["context"][ex_idx])
        gold_texts.append(list(ex["answers"][ex_idx]["text"]))
    inputs = RewardInputs(offsets, tok_ptr, [list(g) for g in cols["gold_starts"]], [list(g) for g in cols["gold_ends"]],
                     [str(i) for i in cols["example_id"]], [int(i) for i in cols["example_index"]], [bool(b) for b in cols["is_impossible"]],
                     contexts, gold_texts)
    _check_offsets(inputs)
    return inputs


def _check_offsets(inputs: RewardInputs) -> None:
    """Passage offsets must be 0 <= start <= end <= len(context); others exactly (-1, -1)."""
    off = inputs.offsets
    ctx_len = np.array([len(c) for c in inputs.contexts], dtype=np.int64)
    tok_len = np.repeat(ctx_len, np.diff(inputs.tok_ptr))
    passage = off[:, 0] >= 0
    bad = np.where(passage, (off[:, 1] < off[:, 0]) | (off[:, 1] > tok_len),
                   (off[:, 0] != -1) | (off[:, 1] != -1))
    if bad.any():
        t = int(np.argmax(bad))
        k = int(np.searchsorted(inputs.tok_ptr, t, side="right") - 1)
        raise ValueError(f"feature {k} (example {inputs.example_ids[k]!r}): token {t - int(inputs.tok_ptr[k])} has "
                         f"offsets {off[t].tolist()}, not a [start, end] inside the context "
                         f"({int(tok_len[t])} chars) nor [-1, -1]")


# --------------------------------------------------------------------------- computing a table


def _score_shard(args: tuple) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Rewards of a contiguous run of features (runs in worker processes)."""
    (offsets, tok_ptr, gold_starts, gold_ends, is_impossible, contexts, gold_texts, example_ids,
     lang, window, max_answer_length) = args
    scorer = _SpanScorer(lang)
    rows = []
    for k in range(len(tok_ptr) - 1):
        try:
            feat_offsets = offsets[tok_ptr[k]:tok_ptr[k + 1]].tolist()
            rows.append(_score_feature(scorer, contexts[k], feat_offsets, gold_texts[k], gold_starts[k],
                                       gold_ends[k], is_impossible[k], window, max_answer_length))
        except ValueError as err:
            raise ValueError(f"feature of example {example_ids[k]!r}: {err}") from err
    return rows


def _shards(inputs: RewardInputs, lang: str, window: int, max_answer_length: int,
            n_shards: int) -> list[tuple]:
    bounds = np.linspace(0, len(inputs), n_shards + 1).astype(int)
    out = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        t0, t1 = inputs.tok_ptr[a], inputs.tok_ptr[b]
        out.append((inputs.offsets[t0:t1], inputs.tok_ptr[a:b + 1] - t0, inputs.gold_starts[a:b],
                    inputs.gold_ends[a:b], inputs.is_impossible[a:b], inputs.contexts[a:b], inputs.gold_texts[a:b],
                    inputs.example_ids[a:b], lang, window, max_answer_length))
    return out


def _pool_context() -> Any:
    """fork where available: workers run pure Python/numpy only (no torch or tokenizer threads), and
    unlike spawn it does not re-import the caller's __main__ (scripts without a main guard work)."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _compute_table(inputs: RewardInputs, *, lang: str, window: int, max_answer_length: int, num_proc: int = 1) -> F1Table:
    _check_params(window, max_answer_length)
    if lang not in LANGS:
        raise ValueError(f"unknown metric language {lang!r}; expected one of {LANGS}")
    num_proc = max(1, min(int(num_proc or 1), len(inputs) // _MIN_FEATURES_PER_PROC))
    if num_proc == 1:
        rows = _score_shard(_shards(inputs, lang, window, max_answer_length, 1)[0])
    else:
        shards = _shards(inputs, lang, window, max_answer_length, 4 * num_proc)
        with _pool_context().Pool(num_proc) as pool:
            rows = [r for shard_rows in pool.imap(_score_shard, shards) for r in shard_rows]
    return F1Table.from_rows(rows)


def compute_f1_table(features: Any, examples: Any, *, lang: str, window: int = DEFAULT_F1_WINDOW,
                     max_answer_length: int = 30, num_proc: int = 1) -> F1Table:
    """Rewards of every feature, in feature order (``F1Table.as_columns()`` gives ragged columns)."""
    return _compute_table(read_inputs(features, examples), lang=lang, window=window,
                          max_answer_length=max_answer_length, num_proc=num_proc)


# --------------------------------------------------------------------------- the cache


class CacheError(ValueError):
    """A cache file that cannot be trusted (truncated, corrupted, or for other inputs)."""


def cache_key(inputs_digest: str, *, data_key: str, lang: str, window: int, max_answer_length: int) -> str:
    """sha256 over everything the rewards depend on."""
    parts = {"cache_version": CACHE_VERSION, "data_key": data_key, "metric": f"f1/{lang}", "window": window,
             "max_answer_length": max_answer_length, "inputs": inputs_digest}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def cache_path(cache_dir: str | os.PathLike, key: str) -> str:
    return os.path.join(os.fspath(cache_dir), f"f1_table-{key[:32]}.npz")


def save_f1_table(table: F1Table, path: str | os.PathLike, key: str) -> None:
    """Write atomically (temp file + os.replace) with the key and a payload checksum."""
    table.check()
    os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object: np.savez would append .npz to a name
        np.savez(f, row_ptr=table.row_ptr, starts=table.starts, ends=table.ends, values=table.values,
                 key=np.array(key), checksum=np.array(table.checksum()))


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


def load_or_compute_with_info(features: Any, examples: Any, *, cache_dir: str | os.PathLike, data_key: str,
                              lang: str, window: int = DEFAULT_F1_WINDOW, max_answer_length: int = 30,
                              num_proc: int = 1, overwrite: bool = False) -> tuple[F1Table, CacheInfo]:
    """load_or_compute_f1_table, also telling what happened (for scripts that report throughput)."""
    inputs = read_inputs(features, examples)
    key = cache_key(inputs.digest(), data_key=data_key, lang=lang, window=window,
                    max_answer_length=max_answer_length)
    path = cache_path(cache_dir, key)
    if os.path.exists(path) and not overwrite:
        try:
            table = load_f1_table(path, key, len(inputs))
            logger.info("loaded F1 rewards of %d features from %s", len(table), path)
            return table, CacheInfo(path, True, 0.0, len(table))
        except CacheError as err:
            warnings.warn(f"rebuilding the F1 reward cache: {err}", RuntimeWarning, stacklevel=3)
    t0 = time.perf_counter()
    table = _compute_table(inputs, lang=lang, window=window, max_answer_length=max_answer_length,
                           num_proc=num_proc)
    seconds = time.perf_counter() - t0
    save_f1_table(table, path, key)
    logger.info("computed F1 rewards of %d features in %.1fs (%d nonzero spans) -> %s", len(table), seconds,
                table.nnz, path)
    return table, CacheInfo(path, False, seconds, len(table))


def load_or_compute_f1_table(features: Any, examples: Any, *, cache_dir: str | os.PathLike, data_key: str,
                             lang: str, window: int = DEFAULT_F1_WINDOW, max_answer_length: int = 30,
                             num_proc: int = 1) -> F1Table:
    """The cached table for these inputs, computed and written if missing or untrustworthy."""
    table, _ = load_or_compute_with_info(features, examples, cache_dir=cache_dir, data_key=data_key, lang=lang,
                                         window=window, max_answer_length=max_answer_length, num_proc=num_proc)
    return table


# --------------------------------------------------------------------------- checking a table


@dataclass
class VerifyReport:
    n_checked: int = 0  # (feature, span) pairs compared, zero-valued ones included
    max_abs_diff: float = 0.0
    mismatches: list[str] = field(default_factory=list)  # descriptions of the first few


def verify_f1_table(table: F1Table, features: Any, examples: Any, *, lang: str, window: int,
                    max_answer_length: int, n_samples: int = 1000, seed: int = 0, tol: float = 1e-3,
                    spans_per_feature: int = 8) -> VerifyReport:
    """Compare stored rewards with scoring.f1_score on randomly sampled spans inside the window.

    Rows are read back one by one from the datasets (not through read_inputs), so this also checks
    the Arrow flattening. Null-span rows, stored zeros and spans outside the window are mismatches.
    """
    report = VerifyReport()
    rng = np.random.default_rng(seed)
    # small sets: take more spans per feature so that n_samples can still be reached
    spans_per_feature = max(spans_per_feature, -(-2 * n_samples // max(len(features), 1)))

    def mismatch(msg: str) -> None:
        if len(report.mismatches) < 20:
            report.mismatches.append(msg)

    if len(table) != len(features):
        mismatch(f"table has {len(table)} rows for {len(features)} features")
        return report
    for k in rng.permutation(len(features)).tolist():
        if report.n_checked >= n_samples:
            break
        feat = features[k]
        ex = examples[feat["example_index"]]
        stored = {(int(s), int(e)): float(v) for s, e, v in zip(*table.row(k))}
        where = f"feature {k} (example {feat['example_id']!r})"
        if feat["is_impossible"] or not feat["gold_starts"]:
            if stored != {(NULL_INDEX, NULL_INDEX): 1.0}:
                mismatch(f"{where}: expected only the null span with reward 1, got {stored}")
            continue
        offsets = feat["offset_mapping"]
        spans = [(i, j) for i, ends in candidate_spans(offsets, feat["gold_starts"], feat["gold_ends"], window,
                                                       max_answer_length).items() for j in ends]
        outside = set(stored) - set(spans)
        if outside or any(v <= 0 for v in stored.values()):
            mismatch(f"{where}: stored entries outside the window or zero: {sorted(outside)[:5]}")
        picks = rng.choice(len(spans), size=min(spans_per_feature, len(spans)), replace=False)
        for p in picks.tolist():
            i, j = spans[p]
            text = ex["context"][offsets[i][0]:offsets[j][1]]
            want = f1_score(text, list(ex["answers"]["text"]), lang)
            diff = abs(stored.get((i, j), 0.0) - want)
            report.n_checked += 1
            report.max_abs_diff = max(report.max_abs_diff, diff)
            if diff > tol:
                mismatch(f"{where} span ({i}, {j}) {text!r}: stored {stored.get((i, j), 0.0)} != f1 {want}")
    return report


def sample_entries(table: F1Table, features: Any, examples: Any, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """n random stored answer-span entries (null-span entries left out) as {"id", "start", "end", "text",
    "f1"}, with character offsets into the context (end exclusive, context[start:end] == text)."""
    rng = np.random.default_rng(seed)
    spans = np.flatnonzero((table.starts != NULL_INDEX) | (table.ends != NULL_INDEX))
    picks = np.sort(rng.choice(spans, size=min(n, len(spans)), replace=False))
    rows = np.searchsorted(table.row_ptr, picks, side="right") - 1
    out = []
    for p, k in zip(picks.tolist(), rows.tolist()):
        feat = features[k]
        i, j = int(table.starts[p]), int(table.ends[p])
        start, end = feat["offset_mapping"][i][0], feat["offset_mapping"][j][1]
        context = examples[feat["example_index"]]["context"]
        out.append({"id": feat["example_id"], "start": start, "end": end, "text": context[start:end],
                    "f1": round(float(table.values[p]), 6)})
    return out
