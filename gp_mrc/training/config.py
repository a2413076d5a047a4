"""The configuration of a training run: typed, frozen parts, each field one setting with its type, default and help
(gp_mrc/flags.setting), so train.py's parser is built from the fields (training/arguments.py) and training_args.json
holds every flag by the same name. Resolved once (arguments.resolve: the defaults that depend on the data, the
architecture or a model folder) and passed down by the part each stage needs. Imports nothing heavy.

The windows and decoding are `InferenceSettings` (gp_mrc/settings.py), the part a trained folder saves
(`config.inference`; its language and metric are set once the data is read: `inference_settings`). A field marked
research is a flag of gp_mrc_lab's command line only (gp_mrc_lab/train_variant.py), its default the recipe's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..argtypes import (
    finite_float,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    probability_or_encoder,
    steps_or_epoch,
    steps_or_fraction,
)
from ..defaults import DEFAULT_OUTPUT_DIR
from ..errors import UsageError
from ..flags import flag_fields, setting
from ..models.folders import check_name, folder_kind
from ..settings import HEAD_SIZE, LANGS, N_BEST_SIZE, InferenceSettings, Precision, Runtime
from ..metrics import metric_name
from .objective import ObjectiveConfig

YES_NO, AUTO_YES_NO = ("yes", "no"), ("auto", "yes", "no")


@dataclass(frozen=True)
class DataConfig:
    """What is read and how (the windows: `InferenceSettings`)."""

    model_name_or_path: str | None = setting(
        None,
        "encoder (hub name or folder), or a reader folder (GlobalPointer or start/end, e.g. a transformers QA "
        "model) to train further",
        depends="the packaged all-MiniLM-L6-v2",
    )
    tokenizer_name: str | None = setting(None)
    train_file: tuple[str, ...] | None = setting(
        None,
        "SQuAD JSON or flat JSON/JSONL; several files are trained on as one set (e.g. DRCD + CMRC2018)",
        nargs="+",
        depends="data/sample_train.json",
    )
    validation_file: str | None = setting(None, depends="data/sample_dev.json when training on the sample")
    dataset_name: str | None = setting(None, "hub dataset (e.g. squad, squad_v2); needs internet")
    dataset_config_name: str | None = setting(None)
    lang: str = setting(
        "auto", "metric: en = SQuAD, zh = CMRC char-level; auto: from the passages", choices=("auto", *LANGS)
    )
    max_train_samples: int | None = setting(None, type=positive_int)
    negative_passages: float = setting(
        0.0,
        "add K unanswerable copies of each training question, over passages of other articles (target: the "
        "null span; drawn by --seed; a fraction: that share of the questions get one), so the reader learns what a "
        "passage without the answer looks like and can rank passages",
        type=non_negative_float,
        metavar="K",
        depends="{default}, 0.5 on the built-in sample",
    )
    max_eval_samples: int | None = setting(None, type=positive_int)
    preprocessing_num_workers: int | None = setting(None, type=positive_int)
    dataloader_num_workers: int = setting(
        0,
        "processes that collate training and evaluation batches (0: the main process); on a GPU a few keep it fed",
        type=non_negative_int,
    )
    dataloader_pin_memory: str = setting(
        "auto",
        "page-locked batches (faster copies to the GPU); auto: yes when training on CUDA",
        choices=AUTO_YES_NO,
        research=True,
    )
    cache_dir: str | None = setting(None, "where the F1 reward cache lives (default: <output_dir>/../.gp_mrc_cache)")
    f1_window: int | None = setting(
        None, "pruning window W (tokens) for the per-span F1", type=positive_int, research=True
    )


@dataclass(frozen=True)
class ModelConfig:
    """The reader a run trains (a fresh head's settings; a reader folder trained further keeps its own)."""

    architecture: str = setting(
        "globalpointer",
        "start_end: the AutoModelForQuestionAnswering reader (baseline)",
        choices=("globalpointer", "start_end"),
        depends="a reader folder's own, else {default}",
    )
    head_size: int = setting(HEAD_SIZE, type=positive_int, research=True)
    span_bias: bool = setting(
        True,
        "add linear start/end terms to the span score (Efficient GlobalPointer): they learn from step one "
        "while the bilinear term grows from zero (--no-span_bias: the plain bilinear head)",
        research=True,
    )
    attention_dropout: float | str = setting(
        0.0,
        "dropout on the encoder's attention probabilities while training: 0 (no cost in dev F1 at the study's "
        "protocol, and the fused attention kernel — with dropout PyTorch's CPU attention falls back to an unfused "
        "path, 1.8x slower steps here), a probability, or 'encoder' for the encoder's own (0.1 for BERT)",
        type=probability_or_encoder,
        research=True,
    )

    def __post_init__(self) -> None:
        if self.head_size % 2:
            raise UsageError(f"--head_size must be even for RoPE (rotations act on pairs), got {self.head_size}")


@dataclass(frozen=True)
class OptimConfig:
    per_device_train_batch_size: int = setting(16, type=positive_int)
    gradient_accumulation_steps: int = setting(1, type=positive_int)
    learning_rate: float = setting(5e-5, type=positive_float, depends="{default}, 1e-4 on the built-in sample")
    head_learning_rate: float = setting(
        1e-3,
        "learning rate of the randomly initialised span head (its own AdamW "
        "group); 0 or a negative value: --learning_rate",
        type=finite_float,
        research=True,
    )
    weight_decay: float = setting(0.01, type=non_negative_float)
    layer_lr_decay: float = setting(
        1.0,
        "layer-wise learning-rate decay: encoder block k of N (from 0) at lr * decay^(N - 1 - k), the "
        "embeddings at lr * decay^(N + 1); 1: off",
        type=positive_float,
        research=True,
    )
    max_grad_norm: float = setting(1.0, type=non_negative_float, research=True)
    num_train_epochs: float = setting(3, type=positive_float, depends="{default} (also on the built-in sample)")
    max_train_steps: int | None = setting(None, "overrides num_train_epochs", type=positive_int)
    lr_scheduler_type: str = setting("linear")
    num_warmup_steps: float = setting(0.1, "an int, or a fraction (< 1) of the training steps", type=steps_or_fraction)
    seed: int = setting(42, type=non_negative_int)


@dataclass(frozen=True)
class EvalConfig:
    do_eval: str = setting("auto", choices=AUTO_YES_NO)
    # predict.py's: the same forward-pass shapes, so the evaluation scores the answers predict.py gives
    per_device_eval_batch_size: int = setting(Runtime.batch_size, type=positive_int)
    n_best_size: int = setting(N_BEST_SIZE, type=positive_int)
    tune_null_threshold: str = setting(
        "yes",
        "SQuAD v2: after the final evaluation, save with the model the null threshold that maximises dev F1 "
        "(the official best_f1; predict.py then uses it) and report best_f1 / best_f1_thresh",
        choices=YES_NO,
        research=True,
    )
    eval_steps: int | None = setting(
        None, "also evaluate every N steps (logged to eval_log.jsonl)", type=positive_int, research=True
    )
    intermediate_eval_samples: int | None = setting(
        None,
        "evaluations before the final one use only the first N eval questions (cheap learning curves)",
        type=positive_int,
        research=True,
    )
    eval_every_epoch: bool = setting(False, research=True)


@dataclass(frozen=True)
class RunConfig(Precision):
    """Where the run writes and how it runs: --mixed_precision is every command's one field (settings.Precision;
    as asked: training resolves auto for its device)."""

    output_dir: str = setting(DEFAULT_OUTPUT_DIR)
    checkpointing_steps: int | str | None = setting(None, "an int (every N steps) or 'epoch'", type=steps_or_epoch)
    save_total_limit: int = setting(2, type=positive_int, research=True)
    resume_from_checkpoint: str | None = setting(None, "a checkpoint folder, or 'latest'")
    with_tracking: bool = setting(False, "log to the trackers accelerate finds (tensorboard, wandb, ...)")
    report_to: str = setting("all")
    cpu: bool = setting(False, "force CPU; with torchrun gives multi-process gloo DDP")
    logging_steps: int = setting(10, type=positive_int)


# the parts, in the order of the command line's help and of training_args.json
PARTS = {
    "data": DataConfig,
    "inference": InferenceSettings,
    "model": ModelConfig,
    "objective": ObjectiveConfig,
    "optim": OptimConfig,
    "eval": EvalConfig,
    "run": RunConfig,
}


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig
    inference: InferenceSettings
    model: ModelConfig
    objective: ObjectiveConfig
    optim: OptimConfig
    eval: EvalConfig
    run: RunConfig

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> "TrainConfig":
        """From resolved flag values ({dest: value}; None or absent: the field's default)."""
        built = {
            name: part(**{f.name: values[f.name] for f in flag_fields(part) if values.get(f.name) is not None})
            for name, part in PARTS.items()
        }
        return cls(**built)

    def flat(self) -> dict[str, Any]:
        """{flag: value} of every part (training_args.json, trackers)."""
        return {
            f.name: getattr(part, f.name) for part in (getattr(self, name) for name in PARTS) for f in flag_fields(part)
        }


def folder_architecture(path: str) -> str | None:
    """The reader in --model_name_or_path ("globalpointer" | "start_end"; None: an encoder), as the loader sees
    it (gp_mrc.models.folders.folder_kind, which reads only JSON); its problems as flag errors."""
    try:
        check_name(path)
    except FileNotFoundError as e:
        raise UsageError(f"--model_name_or_path {e}") from None
    try:
        return folder_kind(path).architecture
    except (OSError, ValueError) as e:
        raise UsageError(f"--model_name_or_path {path}: cannot read its config ({e})") from None


def inference_settings(config: TrainConfig, lang: str) -> InferenceSettings:
    """The settings a trained folder answers with (`lang`: the metric language the data resolved to)."""
    return config.inference.replace(lang=lang, metric=metric_name(lang, config.inference.version_2_with_negative))
