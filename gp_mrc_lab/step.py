"""One training step timed, the one way both benchmarks time it: the training collator (F1 rewards included for
GlobalPointer) + forward + train.py's own `ObjectiveConfig` + backward + AdamW, every model on the same rows, in CPU
time (time.process_time: other jobs on a shared machine delay a step without changing its work), interleaved so
that a busy machine's drift hits every model alike, the first round a warm-up.

Used by scripts/benchmark.py (GlobalPointer's overhead over the start/end reader) and scripts/benchmark_speed.py
step (fp32 / bf16, banded / dense scores, per attention dropout)."""

from __future__ import annotations

import statistics
import time
from typing import Any, NamedTuple


class Timed(NamedTuple):
    """A model to time: its collator (the training one) and whether its span scores are built as the band."""

    model: Any
    collate: Any
    banded: bool = True


def step_rows(
    model_path: str,
    train_file: str,
    *,
    max_seq_length: int,
    doc_stride: int,
    batch_size: int,
    max_answer_length: int,
    max_samples: int = 100,
    version_2: bool = False,
    pad_to_multiple_of: int = 8,
) -> tuple[list[dict], dict[str, Any]]:
    """The first `batch_size` training windows of `train_file` and the training collators of both heads:
    {"start_end": without rewards, "globalpointer": with the windows' F1 table}."""
    from transformers import AutoTokenizer

    from gp_mrc.data.collate import SpanCollator
    from gp_mrc.data.examples import load_examples
    from gp_mrc.data.features import prepare_features
    from gp_mrc.rewards import compute_f1_table

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    examples = load_examples(train_file, version_2=version_2, max_samples=max_samples)
    feats = prepare_features(examples, tokenizer, max_seq_length=max_seq_length, doc_stride=doc_stride)
    table = compute_f1_table(feats, examples, lang="en")
    pad = tokenizer.pad_token_id or 0
    kw = dict(max_answer_length=max_answer_length, pad_to_multiple_of=pad_to_multiple_of)
    collate = {"start_end": SpanCollator(pad, **kw), "globalpointer": SpanCollator(pad, table, **kw)}
    return [feats[i] for i in range(batch_size)], collate


def median_step_seconds(
    models: dict[str, Timed],
    rows: list[dict],
    objective: Any,
    at_step: int,
    repeats: int,
    dtypes: tuple[str, ...] = ("fp32",),
) -> dict[str, float]:
    """{"<name>/<dtype>": median CPU seconds of one training step} over `repeats` rounds after a warm-up round.
    `objective(out, batch, at_step)` is the loss (a start/end model's own CE comes back as out.loss); "bf16" runs
    the forward under CPU bf16 autocast."""
    import torch

    from gp_mrc.band import band_of, is_banded

    opts = {}
    for name, timed in models.items():
        timed.model.train()  # from_pretrained returns eval mode: no dropout at all, unlike a training step
        opts[name] = torch.optim.AdamW(timed.model.parameters(), 1e-5)

    def step(name: str, dtype: str) -> None:
        timed = models[name]
        batch = timed.collate(rows)
        limit = timed.collate.max_answer_length  # the band its targets and rewards are laid out in
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16"):
            out = timed.model(**batch, max_answer_length=limit, banded=timed.banded)  # as train.py calls them
        if not timed.banded and is_banded(
            out.logits.shape[-1], limit
        ):  # the dense variant: (B, n, n) scores cut to the band the losses read
            out.span_mask, out.logits = band_of(out.span_mask, limit), band_of(out.logits, limit)
        loss, _ = objective(out, batch, at_step)
        loss.backward()
        opts[name].step()
        opts[name].zero_grad()

    times: dict[str, list[float]] = {}
    for r in range(repeats + 1):
        for dtype in dtypes:
            for name in models:
                t = time.process_time()
                step(name, dtype)
                if r:  # the first round warms up
                    times.setdefault(f"{name}/{dtype}", []).append(time.process_time() - t)
    return {k: statistics.median(v) for k, v in times.items()}
