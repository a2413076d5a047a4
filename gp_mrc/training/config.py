"""The configuration of a training run: typed, frozen, resolved once (gp_mrc.training.arguments.parse_args builds it from
the command line) and passed down by the part each stage needs. Field names are the flags' names, so a flag, its
field and training_args.json say the same thing. Imports nothing heavy.

Defaults that depend on something are decided here, once: the architecture (a reader folder's own, else
GlobalPointer), and from it the objective and the decoding; the built-in sample's recipe (3 epochs, lr 1e-4,
windows of 256 tokens, --negative_passages 0.5) when no data is named. Nothing is changed after this.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ..models.folders import check_name, folder_kind
from ..settings import MAX_ANSWER_LENGTH, InferenceSettings


@dataclass(frozen=True)
class DataConfig:
    """What is read and how it is cut into windows; max_answer_length also bounds the spans (band, rewards)."""

    model_name_or_path: str
    tokenizer_name: str | None = None
    train_file: tuple[str, ...] | None = None
    validation_file: str | None = None
    dataset_name: str | None = None
    dataset_config_name: str | None = None
    version_2_with_negative: bool = False
    lang: str = "auto"
    max_seq_length: int = 384
    doc_stride: int = 128
    max_query_length: int = 64
    max_answer_length: int = MAX_ANSWER_LENGTH
    max_train_samples: int | None = None
    negative_passages: float = 0.0  # unanswerable copies of each question over other articles' passages (K)
    max_eval_samples: int | None = None
    preprocessing_num_workers: int | None = None
    dataloader_num_workers: int = 0  # batches collated in worker processes (a GPU waits on no Python collation)
    dataloader_pin_memory: str = "auto"  # auto | yes | no: page-locked batches; auto pins only for CUDA
    cache_dir: str | None = None
    f1_window: int | None = None


@dataclass(frozen=True)
class ModelConfig:
    architecture: str = "globalpointer"  # globalpointer | start_end
    head_size: int = 64
    no_rope: bool = False
    span_bias: bool = True
    attention_dropout: float | str = 0.0  # a probability, or "encoder" (the encoder's own)


@dataclass(frozen=True)
class ObjectiveConfig:
    """The flags of gp_mrc.training.objective.Objective (steps as given: an int or a fraction of the run)."""

    objective: str = "mixed"
    warm_start_steps: float = 0.5
    entropy_lambda: float = 0.01
    warm_start_loss: str = "softmax"
    keep_optimizer_state: bool = False
    multilabel_offset: str = "log_n"
    mixed_weight: float = 1.0
    reward: str = "expected_f1"
    soft_f1_tau: float = 0.3
    reward_weight: float = 1.0
    reward_ramp_steps: float = 0.25
    aux_start_end_weight: float = 0.0


@dataclass(frozen=True)
class OptimConfig:
    per_device_train_batch_size: int = 16
    gradient_accumulation_steps: int = 1
    learning_rate: float = 5e-5
    head_learning_rate: float = 1e-3
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    num_train_epochs: float = 3
    max_train_steps: int | None = None  # None: num_train_epochs × batches per epoch (known once data is built)
    lr_scheduler_type: str = "linear"
    num_warmup_steps: float = 0.1
    seed: int = 42


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation and the decoding it uses (saved with the model as its inference settings)."""

    do_eval: str = "auto"
    per_device_eval_batch_size: int = 32
    n_best_size: int = 20
    null_score_diff_threshold: float = 0.0
    tune_null_threshold: str = "yes"
    decoding: str = "expected_f1"
    decoding_temperature: float = 1.0
    eval_steps: int | None = None
    intermediate_eval_samples: int | None = None
    eval_every_epoch: bool = False


@dataclass(frozen=True)
class RunConfig:
    output_dir: str = "runs/gp_mrc"
    checkpointing_steps: int | str | None = None
    save_total_limit: int = 2
    resume_from_checkpoint: str | None = None
    with_tracking: bool = False
    report_to: str = "all"
    mixed_precision: str = "auto"  # as asked; training resolves auto for its device
    cpu: bool = False
    logging_steps: int = 10


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig
    model: ModelConfig
    objective: ObjectiveConfig
    optim: OptimConfig
    eval: EvalConfig
    run: RunConfig

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> "TrainConfig":
        """From resolved flag values ({dest: value}); every flag lands in exactly one part."""
        parts = {f.name: f.type for f in dataclasses.fields(cls)}
        groups = {"data": DataConfig, "model": ModelConfig, "objective": ObjectiveConfig, "optim": OptimConfig,
                  "eval": EvalConfig, "run": RunConfig}
        assert set(groups) == set(parts)
        built = {name: group(**{f.name: values[f.name] for f in dataclasses.fields(group)})
                 for name, group in groups.items()}
        return cls(**built)

    def flat(self) -> dict[str, Any]:
        """{flag: value} of every part (training_args.json, trackers)."""
        out: dict[str, Any] = {}
        for part in dataclasses.fields(self):
            out.update(dataclasses.asdict(getattr(self, part.name)))
        return out


def default_decoding(architecture: str) -> str:
    return "expected_f1" if architecture == "globalpointer" else "argmax"


def default_objective(architecture: str) -> str:
    return "mixed" if architecture == "globalpointer" else "multilabel"


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
    from ..metrics import metric_name

    d, e = config.data, config.eval
    return InferenceSettings(
        max_seq_length=d.max_seq_length, doc_stride=d.doc_stride, max_query_length=d.max_query_length,
        max_answer_length=d.max_answer_length, lang=lang, metric=metric_name(lang, d.version_2_with_negative),
        version_2_with_negative=d.version_2_with_negative, null_score_diff_threshold=e.null_score_diff_threshold,
        decoding=e.decoding, decoding_temperature=e.decoding_temperature)
