"""Examples → windowed features (a pure function of examples, tokenizer and lengths).

Each example (question + passage) becomes one or more windows of at most `max_seq_length` tokens;
consecutive windows overlap by `doc_stride` tokens (the same meaning as `stride` in the transformers
QA examples). A feature keeps:

* `offset_mapping`: [char_start, char_end) into the example's context for passage tokens, and
  [-1, -1] for every other token (question, special, padding), so "is this a passage token" and
  "which characters does it cover" are one column;
* `gold_starts` / `gold_ends`: the token span (inclusive) of EVERY gold answer lying fully inside
  the window (all golds are positives);
* `example_id`, `example_index`, `feature_index`, `is_impossible`.

A window that contains no gold answer of an answerable question has empty gold lists: its target is
the null span (token 0, [CLS]), as the transformers examples label [CLS] — see `rewards/scorer.py`.
Questions longer than `max_query_length` tokens are truncated (counted in one warning).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import unicodedata
from typing import Any, Iterator

import datasets

from ..settings import InferenceSettings, check_windows, query_room

logger = logging.getLogger(__name__)

NOT_PASSAGE = (-1, -1)


def char_to_token_span(offsets: list[tuple[int, int]], start: int, end: int) -> tuple[int, int] | None:
    """Token span (inclusive) covering characters [start, end) among passage tokens, or None if not inside.

    `offsets` holds (-1, -1) for non-passage tokens.
    """
    passage = [t for t, (s, e) in enumerate(offsets) if s >= 0 and e > s]
    if not passage or start < offsets[passage[0]][0] or end > offsets[passage[-1]][1]:
        return None
    tok_start = tok_end = None
    for t in passage:
        s, e = offsets[t]
        if tok_start is None and e > start:
            tok_start = t
        if s < end:
            tok_end = t
    if tok_start is None or tok_end is None or tok_end < tok_start:
        return None
    return tok_start, tok_end


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _has_combining_mark(text: str) -> bool:
    """Whether a character of Unicode category M (a combining mark; none is ASCII) is in the text."""
    return any(unicodedata.category(c).startswith("M") for c in set(_NON_ASCII.findall(text)))


def _absorb_combining_marks(offs: list[tuple[int, int]], context: str) -> list[tuple[int, int]]:
    """Extend a passage token's end over combining marks that the tokenizer's normalizer dropped
    (BERT strips accents: "José" written e + U+0301 becomes the token "jose" covering only "Jose"), so that
    an answer cut by offsets keeps its last character whole."""
    if not _has_combining_mark(context):  # the common case, found without a step per token
        return offs
    starts = {s for s, _ in offs}
    out = []
    for s, e in offs:
        if s >= 0:
            while e < len(context) and e not in starts and unicodedata.category(context[e]).startswith("M"):
                e += 1
        out.append((s, e))
    return out


def _truncate_questions(questions: list[str], tokenizer: Any, max_query_length: int) -> tuple[list[str], list[int]]:
    """Cut questions to their first `max_query_length` tokens (by characters, so the text stays exact);
    also returns the positions of the questions that were cut."""
    enc = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)
    out, cut = [], []
    for n, (q, offs) in enumerate(zip(questions, enc["offset_mapping"])):
        if len(offs) > max_query_length:
            out.append(q[: offs[max_query_length - 1][1]])
            cut.append(n)
        else:
            out.append(q)
    return out, cut


def _gold_token_spans(offs: list[tuple[int, int]], answers: dict) -> tuple[list[int], list[int]]:
    """The distinct token spans of a window's gold answers that lie inside it (starts, ends)."""
    starts: list[int] = []
    ends: list[int] = []
    for text, a_start in zip(answers["text"], answers["answer_start"]):
        if a_start < 0:  # a gold text kept for scoring only: it is not in the passage
            continue
        span = char_to_token_span(offs, a_start, a_start + len(text))
        if span is not None and span not in zip(starts, ends):
            starts.append(span[0])
            ends.append(span[1])
    return starts, ends


def _warn_empty_passages(ids: list[str], sample_map: list[int], offsets_out: list[list[list[int]]]) -> None:
    """Passages of which the tokenizer kept nothing (e.g. only characters its normalizer drops): every window is
    the null span alone, so the example can only ever be answered with ""."""
    has_passage = [False] * len(ids)
    for ex, offs in zip(sample_map, offsets_out):
        has_passage[ex] = has_passage[ex] or any(o[0] >= 0 for o in offs)
    empty = [ids[ex] for ex, ok in enumerate(has_passage) if not ok]
    if empty:
        logger.warning(
            "%d passages have no token after the tokenizer's normalization; they can only be answered "
            'with "" (ids %s)',
            len(empty),
            ", ".join(repr(x) for x in empty[:5]),
        )


def _tokenize_batch(
    batch: dict, indices: list[int], tokenizer: Any, max_seq_length: int, doc_stride: int, max_query_length: int
) -> dict:
    pad_on_right = tokenizer.padding_side == "right"
    questions = [q.lstrip() for q in batch["question"]]  # leading spaces waste window room
    questions, cut = _truncate_questions(questions, tokenizer, max_query_length)
    if cut:
        logger.warning(
            "%d questions longer than max_query_length=%d tokens were truncated (e.g. id %r)",
            len(cut),
            max_query_length,
            batch["id"][cut[0]],
        )
    first, second = (questions, batch["context"]) if pad_on_right else (batch["context"], questions)
    enc = tokenizer(
        first,
        second,
        truncation="only_second" if pad_on_right else "only_first",
        max_length=max_seq_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )
    sample_map = enc.pop("overflow_to_sample_mapping")
    context_id = 1 if pad_on_right else 0
    out: dict[str, list] = {k: [] for k in ("example_id", "example_index", "gold_starts", "gold_ends", "is_impossible")}
    offsets_out = []
    for f, offsets in enumerate(enc["offset_mapping"]):
        seq_ids = enc.sequence_ids(f)
        offs = [tuple(o) if seq_ids[t] == context_id else NOT_PASSAGE for t, o in enumerate(offsets)]
        ex = sample_map[f]
        offs = _absorb_combining_marks(offs, batch["context"][ex])
        starts, ends = ([], []) if batch["is_impossible"][ex] else _gold_token_spans(offs, batch["answers"][ex])
        offsets_out.append([list(o) for o in offs])
        out["example_id"].append(batch["id"][ex])
        out["example_index"].append(indices[ex])
        out["gold_starts"].append(starts)
        out["gold_ends"].append(ends)
        out["is_impossible"].append(bool(batch["is_impossible"][ex]))
    _warn_empty_passages(batch["id"], sample_map, offsets_out)
    out["offset_mapping"] = offsets_out
    out["input_ids"] = enc["input_ids"]
    out["attention_mask"] = enc["attention_mask"]
    if "token_type_ids" in enc:
        out["token_type_ids"] = enc["token_type_ids"]
    return out


def prepare_features(
    examples: datasets.Dataset,
    tokenizer: Any,
    *,
    max_seq_length: int = InferenceSettings.max_seq_length,
    doc_stride: int = InferenceSettings.doc_stride,
    max_query_length: int = InferenceSettings.max_query_length,
    num_proc: int | None = None,
    desc: str = "Building windows",
    progress: bool = True,
) -> datasets.Dataset:
    """Tokenize examples into overlapping windows (see module docstring); needs a *fast* tokenizer.
    `progress=False` hides the progress bar (a few questions answered at once)."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            "gp_mrc needs a fast tokenizer (offset mappings); "
            f"{type(tokenizer).__name__} is a slow one — load it with use_fast=True"
        )
    check_windows(max_seq_length, doc_stride)
    max_query_length = min(max_query_length, query_room(max_seq_length, doc_stride))
    kwargs = dict(
        tokenizer=tokenizer, max_seq_length=max_seq_length, doc_stride=doc_stride, max_query_length=max_query_length
    )
    if not progress and num_proc is None:
        # no datasets.map: its bar is switched by a process-wide flag that a concurrent caller (the service's
        # threads) may turn back on mid-call
        columns = _tokenize_batch(examples[:], list(range(len(examples))), **kwargs)
        # the index as a column of the dict, not add_column (which hashes its arguments: 12% of this call)
        return datasets.Dataset.from_dict(dict(columns, feature_index=list(range(len(columns["input_ids"])))))
    with _progress_bars(progress):
        features = examples.map(
            _tokenize_batch,
            batched=True,
            with_indices=True,
            remove_columns=examples.column_names,
            fn_kwargs=kwargs,
            num_proc=num_proc,
            desc=desc,
        )
    return features.add_column("feature_index", list(range(len(features))))


@contextlib.contextmanager
def _progress_bars(show: bool) -> Iterator[None]:
    """datasets' progress bars off inside the block when not `show` (their global switch, restored after)."""
    if show or datasets.are_progress_bars_disabled():
        yield
        return
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        datasets.enable_progress_bars()


def content_key(*parts: Any) -> str:
    """A sha256 over the content of datasets (their Arrow buffers) and plain values.

    Used to key caches by *what the data is*, so a changed file, tokenizer or window length can never
    hit a stale cache.
    """
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, datasets.Dataset):
            table = part.data.table if hasattr(part.data, "table") else part.data
            for name in sorted(table.column_names):
                h.update(name.encode())
                for chunk in table.column(name).chunks:
                    for buf in chunk.buffers():
                        if buf is not None:
                            h.update(memoryview(buf))
        else:
            h.update(repr(part).encode())
    return h.hexdigest()
