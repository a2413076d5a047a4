"""The study's fixed protocols (`STUDIES`: data, steps, flags); the variants trained under them are
gp_mrc_lab/variants.py's `VARIANTS`."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from .paths import SHARED


@dataclass(frozen=True)
class Study:
    train_file: str | tuple[str, ...]  # several: trained on as one set, in order
    validation_file: str
    max_train_samples: int
    steps: int  # optimizer steps of the protocol (1 epoch): checkpoints and branch points are fractions of it
    flags: tuple[str, ...] = ()
    lang: str = "en"
    # the study whose finished run of the same variant (a branch: its trunk) and seed each run starts from
    init_from: str | None = None
    # an optional packaged encoder (gp_mrc_lab/encoders.py) or a folder; None: MiniLM
    encoder: str | None = None
    # (name, file) pairs answered after training by the saved model (Reader, argmax n-best) and scored like the dev
    # file: out-of-domain checks beside the headline validation file
    extra_evals: tuple[tuple[str, str], ...] = ()


PROTOCOL = (
    "--num_train_epochs",
    "1",
    "--per_device_train_batch_size",
    "16",
    "--max_seq_length",
    "256",
    "--doc_stride",
    "128",
    "--learning_rate",
    "1e-4",
    "--head_learning_rate",
    "1e-3",
    "--mixed_precision",
    "bf16",
    "--decoding",
    "argmax",  # curves by argmax; result files score every decoding
    "--attention_dropout",
    "encoder",
)  # pinned: the default became 0 after the study's first runs
SQUAD1 = os.path.join(SHARED, "squad_v1.1")
SQUAD2 = os.path.join(SHARED, "squad_v2.0")
STUDIES = {
    "squad_v1_4k": Study(
        os.path.join(SQUAD1, "train-v1.1.explorer.json"),
        os.path.join(SQUAD1, "dev-v1.1.shared.json"),
        4000,
        285,
        PROTOCOL + ("--eval_steps", "57", "--intermediate_eval_samples", "500"),
    ),
    "squad_v1_16k": Study(
        os.path.join(SQUAD1, "train-v1.1.explorer.json"),
        os.path.join(SQUAD1, "dev-v1.1.shared.json"),
        16000,
        1111,
        PROTOCOL + ("--eval_steps", "222", "--intermediate_eval_samples", "500"),
    ),
    "squad_v2_4k": Study(
        os.path.join(SQUAD2, "train-from-dev-v2.0.shared.json"),
        os.path.join(SQUAD2, "dev-v2.0.shared.json"),
        4000,
        313,
        PROTOCOL + ("--version_2_with_negative", "--eval_steps", "60", "--intermediate_eval_samples", "500"),
    ),
}
# the same, each reader starting from its squad_v1_4k run (at 4,000 v2 questions from the MiniLM encoder neither
# reader learns to tell unanswerable questions: every best_f1 is "answer nothing")
STUDIES["squad_v2_4k_from_v1"] = dataclasses.replace(STUDIES["squad_v2_4k"], init_from="squad_v1_4k")
# Chinese (issue #17): DRCD's 3,000 training questions (traditional) + CMRC2018 trial's 1,002 (simplified; 2 have
# an empty question), 4,000 questions → 5,344 windows, 1 epoch = 334 steps of 16. Windows of 512 tokens (the
# encoders' maximum): the median passage is 404-451 tokens, so most questions fit in one window (1.34 windows a
# question; 256/128 would need ~3.5 and process more tokens). Answers up to 50 tokens (characters, for CJK): 30
# would cut 5.6% of CMRC dev's first golds, 50 cuts 1.2%. Encoder and learning rate chosen on the start/end
# reader's dev curve (BENCHMARKS.md "Chinese"): m3e-small did not learn to read the question at lr 1e-4 or 3e-4
# (CMRC dev F1 10); albert-tiny-chinese at lr 3e-4 reached 43 F1 on the first 400 dev questions after half an epoch.
ZH_PROTOCOL = (
    "--num_train_epochs",
    "1",
    "--per_device_train_batch_size",
    "16",
    "--max_seq_length",
    "512",
    "--doc_stride",
    "128",
    "--max_answer_length",
    "50",
    "--head_learning_rate",
    "1e-3",
    "--mixed_precision",
    "bf16",
    "--decoding",
    "argmax",
    "--attention_dropout",
    "encoder",
    "--lang",
    "zh",
    "--eval_steps",
    "83",
    "--intermediate_eval_samples",
    "400",
)
# The later --mixed_precision wins over the protocol's bf16. fp32 and bf16 runs agree within 0.15 F1 on every seed
# (squad_v1_4k: gp_sm_ad0 against gp_sm_ad0_fp32), so studies run on CPUs without native bf16 use it.
FP32 = ("--mixed_precision", "no")
CMRC, DRCD = os.path.join(SHARED, "cmrc2018"), os.path.join(SHARED, "drcd")
ZH_TRAIN = (os.path.join(DRCD, "DRCD_test.as_train.json"), os.path.join(CMRC, "cmrc2018_trial.json"))
ZH_EXTRA = (
    ("drcd_dev", os.path.join(DRCD, "DRCD_test.as_dev.json")),
    ("dureader_demo_dev", os.path.join(SHARED, "dureader_robust", "demo_dev.json")),
)
STUDIES["cmrc_zh"] = Study(
    ZH_TRAIN,
    os.path.join(CMRC, "cmrc2018_dev.shared.json"),
    0,
    334,
    ZH_PROTOCOL + ("--learning_rate", "3e-4"),
    lang="zh",
    encoder="albert-tiny-chinese",
    extra_evals=ZH_EXTRA,
)
# the same at 2 epochs (670 steps; curves every 167): does the GlobalPointer's still-rising curve widen the gap?
_ZH_2EP = tuple(
    "2"
    if i > 0 and ZH_PROTOCOL[i - 1] == "--num_train_epochs"
    else "167"
    if i > 0 and ZH_PROTOCOL[i - 1] == "--eval_steps"
    else f
    for i, f in enumerate(ZH_PROTOCOL)
)
STUDIES["cmrc_zh_2ep"] = dataclasses.replace(STUDIES["cmrc_zh"], steps=670, flags=_ZH_2EP + ("--learning_rate", "3e-4"))
# issue #27 point 2: is the Chinese over-length a data effect? The same protocol trained on DRCD alone, CMRC2018's
# trial set (first answers of 30.9 characters on average, CMRC dev 10.8) left out: 3,000 questions → 3,907 windows
# of 512/128 → 245 steps of 16.
# fp32 (FP32 below): these runs were made on a CPU without native bf16, where emulated bf16 ran 50x slower.
STUDIES["cmrc_zh_drcd_only"] = dataclasses.replace(
    STUDIES["cmrc_zh"], train_file=ZH_TRAIN[0], steps=245, flags=STUDIES["cmrc_zh"].flags + FP32
)
for _lr in ("1e-4", "3e-4"):  # the encoder that did not serve (start/end seed 42 only)
    STUDIES[f"cmrc_zh_m3e_lr{_lr}"] = dataclasses.replace(
        STUDIES["cmrc_zh"], flags=ZH_PROTOCOL + ("--learning_rate", _lr), encoder="m3e-small"
    )
# m3e-small with type 0's embedding copied into type 1 (its type-1 embedding was never trained): the folder written by
# `python -m gp_mrc_lab.one_segment m3e-small runs/encoders/m3e-small-type0`; fp32 (a CPU without native bf16)
STUDIES["cmrc_zh_m3e_type0"] = dataclasses.replace(
    STUDIES["cmrc_zh_m3e_lr3e-4"],
    flags=STUDIES["cmrc_zh_m3e_lr3e-4"].flags + FP32,
    encoder=os.path.join("runs", "encoders", "m3e-small-type0"),
)


# issue #27 point 1: a second epoch at 4,000 SQuAD questions (570 steps; curves every 114), for both readers
STUDIES["squad_v1_4k_2ep"] = dataclasses.replace(
    STUDIES["squad_v1_4k"],
    steps=570,
    flags=tuple("2" if i > 0 and PROTOCOL[i - 1] == "--num_train_epochs" else f for i, f in enumerate(PROTOCOL))
    + ("--eval_steps", "114", "--intermediate_eval_samples", "500")
    + FP32,
)


# the 4,000-question protocol in fp32, for candidates run on a CPU without native bf16 (paired with squad_v1_4k's
# bf16 runs: fp32 and bf16 agree within 0.15 F1 there, see FP32)
STUDIES["squad_v1_4k_fp32"] = dataclasses.replace(STUDIES["squad_v1_4k"], flags=STUDIES["squad_v1_4k"].flags + FP32)


# Issue #20: full SQuAD v1.1 (all 86,144 questions → 95,650 windows of 256, 1 epoch) on one lent GPU, run by
# tools/gpu/gpu_study.sh from the carried gpu_bundle/ (tools/gpu/make_gpu_bundle.py). The encoder is the packaged
# MiniLM stored in bf16 (trained as fp32 master weights); GPU-sized batches (32 windows, learning rates as the CPU
# protocol), eval batches of 256, batches collated in worker processes. "…_smoke": the first 256 questions (274
# windows, 9 steps) and 100 dev questions: a first call on a fresh machine, or `gpu_study.sh --smoke --device cpu`.
GPU_ENCODER = os.path.join("gpu_bundle", "all-MiniLM-L6-v2-bf16")  # tools/gpu/make_gpu_bundle.py ENCODER_DIR


def gpu_protocol(eval_steps: int, *extra: str) -> tuple[str, ...]:
    flags = list(PROTOCOL)
    flags[flags.index("--per_device_train_batch_size") + 1] = "32"
    return (
        *flags,
        "--model_name_or_path",
        GPU_ENCODER,
        "--per_device_eval_batch_size",
        "256",
        "--dataloader_num_workers",
        "3",
        "--preprocessing_num_workers",
        "4",
        "--eval_steps",
        str(eval_steps),
        "--intermediate_eval_samples",
        "500",
        *extra,
    )


_SQUAD1_TRAIN, _SQUAD1_DEV = (os.path.join(SQUAD1, f) for f in ("train-v1.1.explorer.json", "dev-v1.1.shared.json"))
STUDIES["squad_v1_full"] = Study(_SQUAD1_TRAIN, _SQUAD1_DEV, 0, 2990, gpu_protocol(598))
STUDIES["squad_v1_full_smoke"] = Study(_SQUAD1_TRAIN, _SQUAD1_DEV, 256, 9, gpu_protocol(5, "--max_eval_samples", "100"))


# a tiny protocol on the built-in sample (a minute on a CPU): re-runs the rejected variants from the lab against
# result files written by the code before they left train.py (issue #25; tests/test_study.py)
_SAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
STUDIES["sample_tiny"] = Study(
    os.path.join(_SAMPLE, "sample_train.json"),
    os.path.join(_SAMPLE, "sample_dev.json"),
    48,
    8,
    (
        "--num_train_epochs",
        "1",
        "--max_train_steps",
        "8",
        "--per_device_train_batch_size",
        "6",
        "--max_seq_length",
        "256",
        "--learning_rate",
        "1e-4",
        "--mixed_precision",
        "no",
        "--decoding",
        "argmax",
        "--negative_passages",
        "0",
        "--max_eval_samples",
        "24",
        "--cpu",
    ),
)
