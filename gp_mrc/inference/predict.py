"""Run a model over features and turn its span scores into answers (evaluation and prediction alike)."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..atomic import write_json_atomic  # also imported from here (inference.write_json_atomic)
from ..data.collate import SpanCollator
from .decoding import best_answers
from .window_topk import WindowTopK, collect_results, topk_spans
from ..precision import autocast
from ..settings import N_BEST_SIZE, InferenceSettings
from ..metrics import load_metric

INFERENCE_COLUMNS = ("input_ids", "attention_mask", "token_type_ids", "offset_mapping", "feature_index")


# Every forward pass has one of a few fixed shapes, so a window's numbers are a function of the window alone and an
# answer never depends on the other records of its call (or, in the service, on other clients' requests): windows
# are padded to a multiple of LENGTH_BUCKET tokens, batched only with windows of the same padded length, and every
# batch holds exactly `batch_size` rows (a short one is filled with copies of its last window, whose results
# collapse into the window's own). Both matter: the padded length changes a window's numbers, and so does the
# number of rows, through the matrix library's choice of kernel for the product's shape (measured on an AMX Xeon,
# fp32 and bf16 alike: docs/ARCHITECTURE.md, "Batching"). 32: padded tokens +1.3% / -6.8%.
LENGTH_BUCKET = 32


def bucket_lengths(max_seq_length: int, bucket: int = LENGTH_BUCKET) -> list[int]:
    """Every padded window length up to max_seq_length: the shapes a reader's forward passes take."""
    return list(range(bucket, -(-max_seq_length // bucket) * bucket + 1, bucket))


def length_order(features: Any) -> list[int]:
    """Feature indices longest first: batches of similar length pad little (results are keyed by feature_index,
    so the order does not change any answer)."""
    lengths = [len(x) for x in features["input_ids"]]
    return sorted(range(len(lengths)), key=lambda i: -lengths[i])


def bucket_batches(lengths: list[int], batch_size: int, bucket: int = LENGTH_BUCKET) -> list[list[int]]:
    """Feature indices in batches of exactly batch_size, each of one length bucket (ceil(length / bucket)),
    longest bucket first, in feature order within a bucket; a bucket's last batch is filled with copies of its
    last index (a fixed shape: see LENGTH_BUCKET)."""
    by_bucket: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        by_bucket.setdefault(-(-n // bucket), []).append(i)
    batches = [
        rows[k : k + batch_size]
        for b in sorted(by_bucket, reverse=True)
        for rows in [by_bucket[b]]
        for k in range(0, len(rows), batch_size)
    ]
    return [rows + rows[-1:] * (batch_size - len(rows)) for rows in batches]


def inference_loader(
    features: Any,
    pad_token_id: int,
    batch_size: int,
    num_workers: int = 0,
    pin_memory: bool = False,
    buckets: bool = True,
) -> DataLoader:
    """`buckets`: length-bucketed batches of a fixed row count (answers independent of their neighbours, see
    LENGTH_BUCKET), the one loader of predict.py, Reader and a one-process training evaluation; False: longest
    first, padded to the batch's longest (an evaluation sharded over several processes, which Accelerate needs in
    even batches: there a near-tie may fall otherwise than in predict.py)."""
    cols = [c for c in INFERENCE_COLUMNS if c in features.column_names]
    data = features.select_columns(cols)
    if buckets:
        batches = bucket_batches([len(x) for x in features["input_ids"]], batch_size)
        return DataLoader(
            data,
            batch_sampler=batches,
            num_workers=num_workers,
            pin_memory=pin_memory,
            collate_fn=SpanCollator(pad_token_id, with_targets=False, pad_to_multiple_of=LENGTH_BUCKET),
        )
    return DataLoader(
        data,
        batch_size=batch_size,
        sampler=length_order(features),
        collate_fn=SpanCollator(pad_token_id, with_targets=False),
        num_workers=num_workers,
        pin_memory=pin_memory,
    )


def model_device(model: torch.nn.Module) -> torch.device:
    """Where the model's batches go: its parameters' device; the CPU for a backend without torch parameters
    (ONNX Runtime, gp_mrc/inference/onnx_backend.py)."""
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def score_batch(
    model: torch.nn.Module, batch: dict[str, torch.Tensor], n_best_size: int, max_answer_length: int
) -> tuple[WindowTopK, bool]:
    """One forward pass over a batch of windows (on the model's device): each window's top spans, and whether
    its scores are raw (start/end) rather than log-probabilities. The span scores come in the band layout, which
    holds every valid span: (B, n, max_answer_length) instead of (B, n, n), the same top spans (window_topk.py)."""
    out = model(**batch, max_answer_length=max_answer_length, banded=True)
    top = topk_spans(
        out.logits,
        out.span_mask,
        n_best_size,
        raw_scores=out.raw_scores,
        start_log_probs=out.start_log_probs,
        end_log_probs=out.end_log_probs,
    )
    return top, out.raw_scores


@torch.no_grad()
def predict_windows(
    model: torch.nn.Module,
    loader: DataLoader,
    n_best_size: int,
    accelerator: Any,
    max_answer_length: int,
    disable_progress: bool = False,
) -> tuple[dict, bool]:
    """({feature_index: (log_probs, starts, ends, null)} for every feature, whether scores are raw); under
    Accelerate each process scores its shard and the results are gathered (padding duplicates removed)."""
    model.eval()
    device = accelerator.device if accelerator is not None else model_device(model)
    batches, raw = [], False
    for batch in tqdm(loader, desc="Predicting", disable=disable_progress, leave=False):
        batch = {k: v.to(device) for k, v in batch.items()}
        top, raw = score_batch(model, batch, n_best_size, max_answer_length)
        index = batch["feature_index"]
        if accelerator is not None:
            extra = (
                () if top.report_log_probs is None else (top.report_log_probs.to(device), top.report_null.to(device))
            )
            index, lp, st, en, nl, *rep = accelerator.gather_for_metrics(
                (
                    index,
                    top.log_probs.to(device),
                    top.starts.to(device),
                    top.ends.to(device),
                    top.null_log_prob.to(device),
                )
                + extra
            )
            top = WindowTopK(lp.cpu(), st.cpu(), en.cpu(), nl.cpu(), *(r.cpu() for r in rep))
        batches.append((index.cpu(), top))
    return collect_results(batches), raw


def squad_references(examples: Any) -> list[dict]:
    return [
        {
            "id": ex["id"],
            "answers": {"text": list(ex["answers"]["text"]), "answer_start": list(ex["answers"]["answer_start"])},
        }
        for ex in examples
    ]


def score_predictions(predictions: dict[str, str], examples: Any, metric_name: str) -> dict[str, float]:
    """EM/F1 (etc.) from the packaged evaluate module for `metric_name` (squad | squad_v2 | cmrc)."""
    metric = load_metric(metric_name)
    preds = [{"id": k, "prediction_text": v} for k, v in predictions.items()]
    if metric_name == "squad_v2":
        preds = [dict(p, no_answer_probability=0.0) for p in preds]
    return metric.compute(predictions=preds, references=squad_references(examples))


def write_predictions(
    output_dir: str, predictions: dict, nbest: dict, null_diff: dict | None = None, prefix: str = ""
) -> None:
    os.makedirs(output_dir, exist_ok=True)
    write_json_atomic(os.path.join(output_dir, f"{prefix}predictions.json"), predictions)
    write_json_atomic(os.path.join(output_dir, f"{prefix}nbest_predictions.json"), nbest)
    if null_diff is not None:
        write_json_atomic(os.path.join(output_dir, f"{prefix}null_odds.json"), null_diff)


def answer_features(
    model: torch.nn.Module,
    examples: Any,
    features: Any,
    settings: InferenceSettings,
    *,
    pad_token_id: int,
    batch_size: int,
    n_best_size: int = N_BEST_SIZE,
    accelerator: Any = None,
    disable_progress: bool = False,
    mixed_precision: str = "no",
    num_workers: int = 0,
) -> tuple[dict, dict, dict]:
    """Model + examples/features → (predictions, nbest, null_diff) under `settings` (answer length, decoding,
    no-answer rule, the metric's language), the one path used everywhere.

    `mixed_precision`, as resolved ("no" | "bf16" | "fp16"), autocasts the encoder outside Accelerate (which
    autocasts a prepared model itself); span log-probabilities are fp32 either way. Batches bound for a CUDA device
    are page-locked; `num_workers` processes collate them."""
    device_type = model_device(model).type
    loader = inference_loader(
        features,
        pad_token_id,
        batch_size,
        num_workers,
        pin_memory=device_type == "cuda",
        buckets=accelerator is None or accelerator.num_processes == 1,
    )
    if accelerator is not None:
        loader = accelerator.prepare(loader)
    with autocast(device_type, mixed_precision if accelerator is None else "no"):
        results, raw = predict_windows(
            model, loader, n_best_size, accelerator, settings.max_answer_length, disable_progress
        )
    return best_answers(
        examples,
        features,
        results,
        n_best_size=n_best_size,
        version_2_with_negative=settings.version_2_with_negative,
        null_score_diff_threshold=settings.null_score_diff_threshold,
        raw_scores=raw,
        decoding=settings.decoding,
        temperature=settings.decoding_temperature,
        lang=settings.lang,
    )
