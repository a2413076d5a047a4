"""Command-line arguments of scripts/train.py (the flags of the transformers question-answering examples, plus the
method's own). Imports nothing heavy, so `--help` and argument errors come back at once."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..choices import DECODINGS, OBJECTIVES, REWARDS
from .config import TrainConfig, default_decoding, default_objective, folder_architecture
from ..defaults import SAMPLE_DEV_FILE, SAMPLE_TRAIN_FILE, default_encoder_path
from ..argtypes import (Parser, check_output_dir, finite_float, non_negative_float, non_negative_int, positive_float,
                       positive_int, probability_or_encoder, steps_or_epoch, steps_or_fraction)
from ..errors import UsageError
from ..precision import MIXED_PRECISION_CHOICES
from ..settings import MAX_ANSWER_LENGTH, check_windows

# the built-in sample's recipe (README: time and EM/F1 measured)
SAMPLE_EPOCHS, SAMPLE_LEARNING_RATE, SAMPLE_MAX_SEQ_LENGTH = 3, 1e-4, 256
# half the sample's questions also asked over another article's passage: its passages fit one window, so without
# them the null span never learns and the reader cannot rank passages (3 epochs keep the run ~2.5 minutes)
SAMPLE_NEGATIVE_PASSAGES = 0.5


def _data_arguments(p: argparse.ArgumentParser) -> None:
    a = p.add_argument_group("data and windows").add_argument
    a("--model_name_or_path", default=None, help="encoder (hub name or folder), or a reader folder (GlobalPointer "
      "or start/end, e.g. a transformers QA model) to train further; default: the packaged all-MiniLM-L6-v2")
    a("--tokenizer_name", default=None)
    a("--train_file", nargs="+", default=None, help="SQuAD JSON or flat JSON/JSONL; several files are trained on "
      "as one set (e.g. DRCD + CMRC2018); default: data/sample_train.json")
    a("--validation_file", default=None, help="default: data/sample_dev.json when training on the sample")
    a("--dataset_name", default=None, help="hub dataset (e.g. squad, squad_v2); needs internet")
    a("--dataset_config_name", default=None)
    a("--version_2_with_negative", action="store_true", help="questions may be unanswerable (SQuAD v2)")
    a("--lang", default="auto", choices=["auto", "en", "zh"], help="metric: en = SQuAD, zh = CMRC char-level")
    a("--max_seq_length", type=positive_int, default=None, help="default 384 (256 on the built-in sample)")
    a("--doc_stride", type=positive_int, default=128)
    a("--max_query_length", type=positive_int, default=64)
    a("--max_answer_length", type=positive_int, default=MAX_ANSWER_LENGTH,
      help="the longest answer, in tokens (spans masked beyond it; saved with the model)")
    a("--n_best_size", type=positive_int, default=20)
    a("--null_score_diff_threshold", type=finite_float, default=0.0)
    a("--tune_null_threshold", default="yes", choices=["yes", "no"],
      help="SQuAD v2: after the final evaluation, save with the model the null threshold that maximises dev F1 "
      "(the official best_f1; predict.py then uses it) and report best_f1 / best_f1_thresh")
    a("--max_train_samples", type=positive_int, default=None)
    a("--negative_passages", type=non_negative_float, default=None, metavar="K",
      help="add K unanswerable copies of each training question, over passages of other articles (target: the null "
      "span; drawn by --seed; a fraction: that share of the questions get one), so the reader learns what a passage "
      "without the answer looks like and can rank passages; default 0 (0.5 on the built-in sample)")
    a("--max_eval_samples", type=positive_int, default=None)


def _model_arguments(p: argparse.ArgumentParser) -> None:
    a = p.add_argument_group("model").add_argument
    a("--architecture", default=None, choices=["globalpointer", "start_end"],
      help="start_end: the AutoModelForQuestionAnswering reader (baseline); default: a reader folder's own, else GP")
    a("--head_size", type=positive_int, default=64)



def _objective_arguments(p: argparse.ArgumentParser) -> None:
    a = p.add_argument_group("objective and decoding").add_argument
    a("--objective", default=None, choices=OBJECTIVES,
      help="multilabel: the gold-span loss only; f1: the reward replaces it after the warm start; mixed: the reward "
      "is added to it (× --mixed_weight) after the warm start. Default: mixed for GlobalPointer (the study's "
      "best, BENCHMARKS.md), multilabel for start/end (which trains on its own cross-entropy)")
    a("--decoding", default=None, choices=DECODINGS,
      help="the answer: the most probable span (argmax), or the n-best entry of highest expected F1 under the "
      "model's span distribution (expected_f1); default: expected_f1 for GlobalPointer (its span softmax is a "
      "distribution over answers), argmax for start/end (its n-best scores are not)")
    a("--decoding_temperature", type=positive_float, default=1.0, help="temperature on p for --decoding expected_f1")
    a("--cache_dir", default=None, help="where the F1 reward cache lives (default: <output_dir>/../.gp_mrc_cache)")


def _training_arguments(p: argparse.ArgumentParser) -> None:
    a = p.add_argument_group("training").add_argument
    a("--per_device_train_batch_size", type=positive_int, default=16)
    a("--per_device_eval_batch_size", type=positive_int, default=32)
    a("--gradient_accumulation_steps", type=positive_int, default=1)
    a("--learning_rate", type=positive_float, default=None, help="default 5e-5 (1e-4 on the built-in sample)")
    a("--weight_decay", type=non_negative_float, default=0.01)
    a("--max_grad_norm", type=non_negative_float, default=1.0)
    a("--num_train_epochs", type=positive_float, default=None, help="default 3 (1 on the built-in sample is too few)")
    a("--max_train_steps", type=positive_int, default=None, help="overrides num_train_epochs")
    a("--lr_scheduler_type", default="linear")
    a("--num_warmup_steps", type=steps_or_fraction, default=0.1, help="an int, or a fraction (< 1) of the training steps")
    a("--seed", type=non_negative_int, default=42)
    a("--output_dir", default="runs/gp_mrc")
    a("--checkpointing_steps", type=steps_or_epoch, default=None, help="an int (every N steps) or 'epoch'")
    a("--save_total_limit", type=positive_int, default=2)
    a("--resume_from_checkpoint", default=None, help="a checkpoint folder, or 'latest'")
    a("--eval_steps", type=positive_int, default=None, help="also evaluate every N steps (logged to eval_log.jsonl)")
    a("--eval_every_epoch", action="store_true")
    a("--do_eval", default="auto", choices=["auto", "yes", "no"])
    a("--with_tracking", action="store_true", help="log to the trackers accelerate finds (tensorboard, wandb, ...)")
    a("--report_to", default="all")
    a("--mixed_precision", default="auto", choices=MIXED_PRECISION_CHOICES,
      help="auto: bf16 where the hardware runs it natively (CUDA with bf16, CPUs with AVX512-BF16/AMX), else fp32 "
      "(`accelerate launch --mixed_precision` is honoured); span logits and losses are fp32 in every case")
    a("--cpu", action="store_true", help="force CPU; with torchrun gives multi-process gloo DDP")
    a("--logging_steps", type=positive_int, default=10)
    a("--preprocessing_num_workers", type=positive_int, default=None)
    a("--dataloader_num_workers", type=non_negative_int, default=0,
      help="processes that collate training and evaluation batches (0: the main process); on a GPU a few keep it fed")
    a("--dataloader_pin_memory", default="auto", choices=["auto", "yes", "no"],
      help="page-locked batches (faster copies to the GPU); auto: yes when training on CUDA")


def _research_arguments(p: argparse.ArgumentParser) -> None:
    a = p.add_argument_group(
        "research", "the recipe's parts, as the study (scripts/study.py) and the benchmarks vary them; the defaults are "
        "the best recipe measured (BENCHMARKS.md), so a user leaves these alone").add_argument
    a("--no_rope", action="store_true", help="ablation: GlobalPointer without rotary position embedding")
    a("--span_bias", action=argparse.BooleanOptionalAction, default=True,
      help="add linear start/end terms to the span score (Efficient GlobalPointer): they learn from step one while "
      "the bilinear term grows from zero (--no-span_bias: the plain bilinear head)")
    a("--attention_dropout", type=probability_or_encoder, default=0.0,
      help="dropout on the encoder's attention probabilities while training: 0 (the default: no cost in dev F1 "
      "at the study's protocol, and the fused attention kernel — with dropout PyTorch's CPU attention falls back to "
      "an unfused path, 1.8x slower steps here), a probability, or 'encoder' for the encoder's own (0.1 for BERT)")
    a("--warm_start_steps", type=steps_or_fraction, default=0.5,
      help="gold-span-loss steps before the reward comes in: an int, or a fraction (< 1) of the training steps")
    a("--entropy_lambda", type=non_negative_float, default=0.01)
    a("--warm_start_loss", default="softmax", choices=["multilabel", "softmax"],
      help="the gold-span loss (objective multilabel, and the warm start of f1/mixed): softmax, −log Σ_gold p under "
      "the span softmax (the default: the study's best, BENCHMARKS.md), or the multilabel categorical "
      "cross-entropy")
    a("--keep_optimizer_state", action="store_true",
      help="keep AdamW's moments at the end of the warm start (default: reset them when the gold-span loss is "
      "dropped or down-weighted there, keep them when it stays at full weight)")
    a("--multilabel_offset", default="log_n", choices=["log_n", "none"],
      help="log_n: the multilabel loss scores spans by s − log(#valid spans) (see losses.py); none: raw s")
    a("--mixed_weight", type=non_negative_float, default=1.0, help="weight of the gold-span loss after warm start (mixed)")
    a("--reward", default="expected_f1", choices=REWARDS,
      help="the F1 loss after the warm start: expected_f1 = −Σ p·f1 + λ Σ p log p; soft_f1 = cross-entropy "
      "against q ∝ exp(f1 / τ) over the rewarded spans")
    a("--soft_f1_tau", type=positive_float, default=0.3, help="temperature τ of the soft_f1 targets")
    a("--reward_weight", type=non_negative_float, default=1.0, help="weight of the F1 loss after the warm start")
    a("--reward_ramp_steps", type=steps_or_fraction, default=0.25,
      help="raise the F1 loss's weight linearly over this many steps after the warm start (int or fraction)")
    a("--aux_start_end_weight", type=non_negative_float, default=0.0,
      help="add this weight × the start/end cross-entropy of the head's linear start/end terms (needs --span_bias)")
    a("--f1_window", type=positive_int, default=None, help="pruning window W (tokens) for the per-span F1")
    a("--head_learning_rate", type=finite_float, default=1e-3,
      help="learning rate of the randomly initialised span head (its own AdamW group); 0 or a negative value: "
      "--learning_rate")
    a("--intermediate_eval_samples", type=positive_int, default=None,
      help="evaluations before the final one use only the first N eval questions (cheap learning curves)")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(description="Fine-tune a GlobalPointer reader on SQuAD-style data.")
    for add in (_data_arguments, _model_arguments, _objective_arguments, _training_arguments, _research_arguments):
        add(p)
    return p


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """The run's configuration, every default decided here (see gp_mrc/training/config.py); errors are one line, exit 2."""
    parser = build_parser()
    try:
        return resolve(vars(parser.parse_args(argv)))
    except (ValueError, UsageError) as e:
        parser.error(str(e))


def resolve(given: dict[str, Any]) -> TrainConfig:
    """Flag values (None: not given) → the configuration: defaults that depend on other flags or on the model
    folder, then the checks that span several flags."""
    v = dict(given)
    on_sample = v["train_file"] is None and v["dataset_name"] is None
    if on_sample:
        v["train_file"] = [SAMPLE_TRAIN_FILE]
        v["validation_file"] = v["validation_file"] or SAMPLE_DEV_FILE
    # the built-in sample's recipe, unless its length is given: short passages, a few minutes on 2 CPU cores
    sample_recipe = on_sample and v["num_train_epochs"] is None and v["max_train_steps"] is None
    v["num_train_epochs"] = v["num_train_epochs"] or (SAMPLE_EPOCHS if sample_recipe else 3)
    v["learning_rate"] = v["learning_rate"] or (SAMPLE_LEARNING_RATE if sample_recipe else 5e-5)
    v["max_seq_length"] = v["max_seq_length"] or (SAMPLE_MAX_SEQ_LENGTH if sample_recipe else 384)
    if v["negative_passages"] is None:
        v["negative_passages"] = SAMPLE_NEGATIVE_PASSAGES if on_sample else 0.0
    v["train_file"] = tuple(v["train_file"]) if v["train_file"] else None
    v["model_name_or_path"] = v["model_name_or_path"] or default_encoder_path()
    v["architecture"] = v["architecture"] or folder_architecture(v["model_name_or_path"]) or "globalpointer"
    if v["architecture"] == "start_end" and v["objective"] not in (None, "multilabel"):
        raise UsageError("--architecture start_end trains with its own start/end cross-entropy; leave --objective "
                         "at its default")
    v["objective"] = v["objective"] or default_objective(v["architecture"])
    v["decoding"] = v["decoding"] or default_decoding(v["architecture"])
    check_windows(v["max_seq_length"], v["doc_stride"])
    for flag, path in [("--train_file", f) for f in v["train_file"] or ()] + [("--validation_file", v["validation_file"])]:
        if path and os.path.isdir(path):  # else a raw "[Errno 21] Is a directory" once loading starts
            raise UsageError(f"{flag} {path}: is a directory; give a JSON or JSONL file")
    check_output_dir(v["output_dir"])
    if v["head_size"] % 2 and not v["no_rope"]:
        raise UsageError(f"--head_size must be even for RoPE (rotations act on pairs), got {v['head_size']}")
    return TrainConfig.from_values(v)
