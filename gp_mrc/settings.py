"""A reader's settings: the inference settings a model folder keeps (how to window questions, decode spans and
score answers) and the runtime ones every command that runs a model takes (precision, device, backend, batch size).

The inference settings are written into the folder's config.json (key `inference_settings`) when training saves
the model, so `Reader` and scripts/predict.py answer the way the model was trained and evaluated unless told
otherwise. A transformers question-answering folder without them gets the defaults of transformers' QA pipeline.
The runtime settings (`Runtime`) are the flags train.py (its precision), predict.py and serve.py share, each one
field. Importing this module does not import torch or transformers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .argtypes import finite_float, positive_float, positive_int
from .choices import BACKENDS, COMPILE_CHOICES, DECODINGS
from .flags import setting
from .metrics import METRIC_NAMES
from .precision import AUTO, AUTO_HELP, MIXED_PRECISION_CHOICES

SETTINGS_KEY = "inference_settings"  # the config.json key
# The one default answer-length limit (tokens) of gp_mrc: training, the span head, rewards, the command lines.
MAX_ANSWER_LENGTH = 30
N_BEST_SIZE = 20  # candidate answers kept per question (training's evaluation, predict.py, Reader, the decoder)
HEAD_SIZE = 64  # the one default size of the span head's query/key vectors (training's flag, HeadConfig, the config)
PIPELINE_MAX_ANSWER_LEN = 15  # transformers' pipeline("question-answering"): for a folder without our settings
LANGS = ("en", "zh")


def query_room(max_seq_length: int, doc_stride: int) -> int:
    """The most question tokens a window keeps: windows need room for more passage than their overlap, so the
    question is capped to leave it (`doc_stride` + [CLS] and separators)."""
    return max_seq_length - doc_stride - 4


def check_windows(max_seq_length: int, doc_stride: int) -> None:
    if query_room(max_seq_length, doc_stride) < 1:
        raise ValueError(
            f"doc_stride={doc_stride} leaves no room for the question in a window of "
            f"max_seq_length={max_seq_length}; use a doc_stride below max_seq_length / 2"
        )


@dataclass(frozen=True)
class InferenceSettings:
    """Windows as transformers' pipeline("question-answering") (max_seq_len 384, doc_stride 128, max_question_len
    64, handle_impossible_answer False); answers up to gp_mrc's MAX_ANSWER_LENGTH tokens (PIPELINE_DEFAULTS: the
    pipeline's 15, for a folder that carries no settings of its own)."""

    max_seq_length: int = setting(
        384,
        "tokens per window (question, passage and special tokens)",
        type=positive_int,
        depends="{default}, 256 on the built-in sample",
    )
    doc_stride: int = setting(128, "tokens two windows of one passage share", type=positive_int)
    max_query_length: int = setting(64, "question tokens kept", type=positive_int, research=True)
    max_answer_length: int = setting(
        MAX_ANSWER_LENGTH,
        "the longest answer, in tokens (spans masked beyond it; saved with the model)",
        type=positive_int,
    )
    lang: str = "en"  # the metric's language: en = SQuAD, zh = CMRC (also used by expected-F1 decoding)
    metric: str = "squad"
    version_2_with_negative: bool = setting(
        False, 'questions may be unanswerable (SQuAD v2): "" (no answer) is a possible answer'
    )
    null_score_diff_threshold: float = setting(
        0.0, 'answer "" when the null score beats the best span\'s by more than this', type=finite_float
    )
    # argmax: what a folder that says nothing answers with; training saves a GlobalPointer's expected_f1
    decoding: str = setting(
        "argmax",
        "the answer: the most probable span (argmax), or the n-best entry of highest "
        "expected F1 under the model's span distribution (expected_f1)",
        choices=DECODINGS,
        by_architecture={"globalpointer": "expected_f1"},
        depends="{globalpointer} for GlobalPointer (its span softmax is a distribution over "
        "answers), {default} for start/end (its n-best scores are not)",
    )
    decoding_temperature: float = setting(
        1.0, "temperature on p for --decoding expected_f1", type=positive_float, research=True
    )

    def __post_init__(self) -> None:
        for name in ("max_seq_length", "doc_stride", "max_query_length", "max_answer_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"inference setting {name} must be a positive integer, got {value!r}")
        check_windows(self.max_seq_length, self.doc_stride)
        if self.lang not in LANGS:
            raise ValueError(f"inference setting lang must be one of {LANGS}, got {self.lang!r}")
        if self.metric not in METRIC_NAMES:
            raise ValueError(f"inference setting metric must be one of {METRIC_NAMES}, got {self.metric!r}")
        if self.decoding not in DECODINGS:
            raise ValueError(f"inference setting decoding must be one of {DECODINGS}, got {self.decoding!r}")
        if not self.decoding_temperature > 0:
            raise ValueError(f"inference setting decoding_temperature must be > 0, got {self.decoding_temperature!r}")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "InferenceSettings":
        """Known keys only (a folder written by a newer version may hold more); missing keys take the defaults."""
        if not isinstance(raw, dict):
            raise ValueError(f"{SETTINGS_KEY} must be a JSON object, got {type(raw).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **overrides: Any) -> "InferenceSettings":
        """A copy with the given settings changed; None means "keep" (the command-line default)."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(f"unknown inference settings: {', '.join(unknown)}")
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})


PIPELINE_DEFAULTS = InferenceSettings(max_answer_length=PIPELINE_MAX_ANSWER_LEN)


@dataclass(frozen=True)
class Precision:
    """The one --mixed_precision of every command: training's RunConfig and the Reader's `Runtime` take it from
    here (its resolution: gp_mrc/precision.py)."""

    mixed_precision: str = setting(
        AUTO,
        f"{AUTO_HELP}; no: always fp32. Span logits, the softmax and the losses are fp32 in every case; training "
        "honours `accelerate launch --mixed_precision`",
        choices=MIXED_PRECISION_CHOICES,
    )


@dataclass(frozen=True)
class Runtime(Precision):
    """How a command runs a model (predict.py, serve.py; `Reader`'s keyword arguments of the same names). Not
    saved with a folder."""

    device: str | None = setting(
        None,
        "the torch device to answer on (cpu, cuda, cuda:1)",
        depends="a CUDA GPU where torch sees one, else the CPU",
    )
    backend: str | None = setting(
        None,
        "what runs the model",
        choices=BACKENDS,
        depends="onnxruntime for a folder written by gp-mrc export, else torch",
    )
    # 8: every forward pass is filled to it (inference/predict.py, LENGTH_BUCKET), and 8 answered fastest on a 2-core
    # AMX Xeon with both threads (142.8 questions/s against 121.3 / 118.9 / 87.5 at 4 / 16 / 32: BENCHMARKS.md
    # "Compiled inference against the careful loop"); a one-window question pays for 8 rows, not 32. A GPU answers
    # large inputs faster with more.
    batch_size: int = setting(
        8,
        "windows per forward pass (every pass is filled to it: a fixed shape, so an answer never depends on its batch)",
        type=positive_int,
    )
    compile: str = setting(
        "auto",
        "torch.compile the model (once per process; weights frozen, bf16 where bf16 is computed); auto: where it "
        "was measured faster with its compile time counted (a CPU with AMX; fp32 on a CPU without native bf16): "
        "the service, and predict.py inputs of thousands of windows (gp_mrc/inference/compiled.py); no: eager",
        choices=COMPILE_CHOICES,
    )


def settings_from_config(config: Any) -> InferenceSettings | None:
    """The settings stored in a model config (a transformers config object), or None if it has none."""
    raw = getattr(config, SETTINGS_KEY, None)
    return None if raw is None else InferenceSettings.from_dict(raw)


def store_settings(config: Any, settings: InferenceSettings) -> None:
    """Put the settings into a model config: save_pretrained then writes them into config.json."""
    setattr(config, SETTINGS_KEY, settings.to_dict())
