"""What a training run reads: examples → windows (→ F1 rewards when the objective uses them) → batches."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import datasets
from accelerate import Accelerator
from torch.utils.data import DataLoader

from ..data.collate import SpanCollator
from ..data.examples import DataError, detect_language, load_examples
from ..data.features import prepare_features
from ..data.negatives import with_negative_passages
from ..metrics import metric_name
from ..rewards import load_or_compute_f1_table, reward_table_inputs
from ..settings import InferenceSettings
from .batching import EpochPermutationSampler
from .config import DataConfig, OptimConfig

logger = logging.getLogger("gp_mrc")

TRAIN_COLUMNS = (
    "input_ids",
    "attention_mask",
    "token_type_ids",
    "offset_mapping",
    "gold_starts",
    "gold_ends",
    "feature_index",
)


@dataclass
class TrainingData:
    train_examples: Any
    eval_examples: Any | None
    lang: str  # the metric's language, "en" | "zh"
    metric: str  # squad | squad_v2 | cmrc
    train_features: Any = None
    eval_features: Any = None
    f1_table: Any = None


def load_data(data: DataConfig, version_2: bool, do_eval: str, seed: int) -> TrainingData:
    """The examples (a bad file ends the run with one line naming the record), with --negative_passages' unanswerable
    copies (drawn by `seed`) after them, and the metric they are scored by."""
    train = load_train_examples(
        data.train_file or [data.dataset_name],
        version_2=version_2,
        config_name=data.dataset_config_name,
        max_samples=data.max_train_samples,
    )
    lang = data.lang if data.lang != "auto" else detect_language(train)  # from the real passages only
    if data.negative_passages:
        n = len(train)
        train = with_negative_passages(train, data.negative_passages, seed)
        logger.info(
            "--negative_passages %g: %d questions + %d over passages of other articles (null target)",
            data.negative_passages,
            n,
            len(train) - n,
        )
    eval_source = data.validation_file or data.dataset_name
    evaluation = None
    if eval_source and do_eval != "no":
        evaluation = load_examples(
            eval_source,
            version_2=version_2,
            split="validation",
            config_name=data.dataset_config_name,
            require_answers=False,
            max_samples=data.max_eval_samples,
        )
    return TrainingData(train, evaluation, lang, metric_name(lang, version_2))


def load_train_examples(
    sources: list[str], *, version_2: bool, config_name: str | None, max_samples: int | None
) -> Any:
    """One training set from one or more files (concatenated in order; `max_samples` counts over all of them).
    Question ids must stay unique across files: predictions and rewards are keyed by them."""
    parts, seen = [], {}
    for source in sources:
        left = None if max_samples is None else max_samples - sum(len(p) for p in parts)
        if left is not None and left <= 0:
            break
        part = load_examples(source, version_2=version_2, split="train", config_name=config_name, max_samples=left)
        for qid in part["id"]:
            if qid in seen:
                raise DataError(
                    f"{source}: question id {qid!r} is also in {seen[qid]}: ids must be unique across training files"
                )
            seen[qid] = source
        parts.append(part)
    return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)


def build_features(
    data: TrainingData,
    config: DataConfig,
    windows: InferenceSettings,
    uses_rewards: bool,
    output_dir: str,
    tokenizer: Any,
    accelerator: Accelerator,
) -> None:
    """Windows for training and evaluation, and the F1 rewards when the objective uses them (the main process
    builds, the others read its caches)."""
    kw = dict(
        max_seq_length=windows.max_seq_length,
        doc_stride=windows.doc_stride,
        max_query_length=windows.max_query_length,
        num_proc=config.preprocessing_num_workers,
    )
    with accelerator.main_process_first():
        data.train_features = prepare_features(data.train_examples, tokenizer, **kw)
        if data.eval_examples is not None:
            data.eval_features = prepare_features(data.eval_examples, tokenizer, desc="Building eval windows", **kw)
    logger.info(
        "train: %d questions → %d windows; eval: %s; lang=%s metric=%s",
        len(data.train_examples),
        len(data.train_features),
        f"{len(data.eval_examples)} questions → {len(data.eval_features)} windows"
        if data.eval_examples is not None
        else "none",
        data.lang,
        data.metric,
    )
    if uses_rewards:
        where = reward_table_inputs(
            data.train_features,
            data.train_examples,
            tokenizer,
            cache_dir=config.cache_dir,
            output_dir=output_dir,
            f1_window=config.f1_window,
        )
        with accelerator.main_process_first():
            data.f1_table = load_or_compute_f1_table(
                data.train_features,
                data.train_examples,
                lang=data.lang,
                max_answer_length=windows.max_answer_length,
                num_proc=config.preprocessing_num_workers or 1,
                **where,
            )


def loader_options(workers: int, pin_memory: str, device_type: str) -> dict[str, Any]:
    """DataLoader keywords from --dataloader_num_workers / --dataloader_pin_memory: batches collated in worker
    processes and page-locked for the copy to a CUDA device ("auto": pinned only there; pinning for a CPU run costs
    a copy and gains nothing)."""
    return {
        "num_workers": workers,
        "pin_memory": pin_memory == "yes" or (pin_memory == "auto" and device_type == "cuda"),
    }


def train_loader(
    data: TrainingData,
    max_answer_length: int,
    optim: OptimConfig,
    pad_token_id: int,
    workers: int = 0,
    pin_memory: str = "auto",
    device_type: str = "cpu",
) -> tuple[DataLoader, EpochPermutationSampler]:
    """Shuffled batches (order fixed by seed and epoch), targets and rewards in the band layout the losses use."""
    cols = [c for c in TRAIN_COLUMNS if c in data.train_features.column_names]
    sampler = EpochPermutationSampler(len(data.train_features), optim.seed)
    loader = DataLoader(
        data.train_features.select_columns(cols),
        batch_size=optim.per_device_train_batch_size,
        sampler=sampler,
        collate_fn=SpanCollator(pad_token_id, data.f1_table, max_answer_length=max_answer_length),
        **loader_options(workers, pin_memory, device_type),
    )
    return loader, sampler
