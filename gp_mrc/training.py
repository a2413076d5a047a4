"""The Accelerate training loop (scripts/train.py is only its argument parser).

Runs on CPU, one GPU, many GPUs or nodes (DDP/FSDP through `accelerate launch`), with mixed precision. The pieces
live in their own modules: the data (training_data), the model (model_init), the loss of a batch (objective),
evaluation (evaluation), checkpoints and resuming (checkpointing), AdamW groups (optimization); `train` below is
the loop that joins them, readable in one sitting.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import time
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm.auto import tqdm
from transformers import get_scheduler

from .arguments import default_decoding, default_objective
from .argtypes import make_output_dir
from .atomic import write_json_atomic
from .batching import rng_neutral
from .checkpointing import Position, model_signature, resume, save_checkpoint
from .evaluation import Evaluator, dev_tuned_null_threshold
from .loading import save_model
from .model_init import model_for_training
from .objective import Objective, steps_of
from .optimization import param_groups, reset_adam_moments
from .precision import resolve_mixed_precision
from .settings import settings_from_args, store_settings
from .training_data import build_features, load_data, train_loader

logger = logging.getLogger("gp_mrc")


def resolve_training_precision(args: argparse.Namespace) -> str:
    """--mixed_precision auto → bf16 / no for the device this run trains on (an `accelerate launch
    --mixed_precision` setting wins over auto). Keeps what was asked in args.mixed_precision_requested."""
    requested = getattr(args, "mixed_precision_requested", None) or args.mixed_precision
    args.mixed_precision_requested = requested
    if requested == "auto" and os.environ.get("ACCELERATE_MIXED_PRECISION"):
        return os.environ["ACCELERATE_MIXED_PRECISION"]
    device = "cuda" if torch.cuda.is_available() and not args.cpu else "cpu"
    return resolve_mixed_precision(requested, device)


def _log_jsonl(path: str, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def _setup(args: argparse.Namespace) -> Accelerator:
    args.mixed_precision = resolve_training_precision(args)
    accelerator = Accelerator(gradient_accumulation_steps=args.gradient_accumulation_steps,
                              mixed_precision=args.mixed_precision, cpu=args.cpu,
                              log_with=args.report_to if args.with_tracking else None, project_dir=args.output_dir)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S",
                        level=logging.INFO if accelerator.is_main_process else logging.ERROR)
    logger.info("%s", accelerator.state)
    logger.info("mixed precision: %s (asked: %s)", args.mixed_precision, args.mixed_precision_requested)
    set_seed(args.seed)
    make_output_dir(args.output_dir)
    return accelerator


def _prepare(accelerator: Accelerator, args: argparse.Namespace, model: Any, loader: Any) -> tuple:
    """AdamW (head at its own learning rate) and the schedule, prepared; fixes args.max_train_steps."""
    optimizer = torch.optim.AdamW(param_groups(model, args.learning_rate, args.head_learning_rate,
                                               args.weight_decay), lr=args.learning_rate)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    steps_per_epoch = math.ceil(len(loader) / args.gradient_accumulation_steps)
    if args.max_train_steps is None:
        args.max_train_steps = max(1, int(args.num_train_epochs * steps_per_epoch))
    scheduler = accelerator.prepare(get_scheduler(
        args.lr_scheduler_type, optimizer,
        num_warmup_steps=steps_of(args.num_warmup_steps, args.max_train_steps) * accelerator.num_processes,
        num_training_steps=args.max_train_steps * accelerator.num_processes))
    return model, optimizer, loader, scheduler, math.ceil(args.max_train_steps / steps_per_epoch)


def _update(accelerator: Accelerator, model: Any, optimizer: Any, scheduler: Any, objective: Objective,
            args: argparse.Namespace, batch: dict, step: int) -> tuple[torch.Tensor, dict[str, float]]:
    """One forward/backward (an optimizer step once gradients are accumulated); the loss and its parts."""
    with accelerator.accumulate(model):
        loss, stats = objective(model(**batch, banded=True), batch, step)  # the losses read only the band
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss at step {step}; lower --learning_rate or use fp32")
        accelerator.backward(loss)
        if accelerator.sync_gradients and args.max_grad_norm:
            accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
        if accelerator.sync_gradients and not args.keep_optimizer_state and objective.resets_optimizer(step):
            reset_adam_moments(optimizer)
            logger.info("step %d: objective switched; AdamW moments reset", step)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    return loss, stats


def _epoch_batches(accelerator: Accelerator, loader: Any, sampler: Any, epoch: int, pos: Position) -> tuple[Any, int]:
    """The epoch's batches, the first ones skipped when resuming inside it; and how many were skipped."""
    sampler.set_epoch(epoch)
    loader.set_epoch(epoch)
    if epoch != pos.epoch or not pos.skip_batches:
        return loader, 0
    batches = accelerator.skip_first_batches(loader, pos.skip_batches)
    batches.set_epoch(epoch)
    return batches, pos.skip_batches


def _finish(accelerator: Accelerator, args: argparse.Namespace, model: Any, tokenizer: Any, data: Any,
            evaluate: Evaluator | None, steps: int, total_batch: int, train_seconds: float) -> dict[str, Any]:
    """Timing, the model folder, then the final evaluation (all questions) and its files."""
    main = accelerator.is_main_process
    timing = {"train_seconds": round(train_seconds, 1), "train_steps": steps,
              "train_windows_per_second": round(steps * total_batch / max(train_seconds, 1e-9), 2)}
    if main:  # as transformers' Trainer: the timing of the training alone, evaluated or not
        write_json_atomic(os.path.join(args.output_dir, "train_results.json"),
                          {**timing, "mixed_precision": args.mixed_precision})
    _save(accelerator, model, tokenizer, args, data.lang)
    results: dict[str, Any] = {}
    if evaluate:
        results = evaluate(model, "final")
        if main:
            results = {**results, **timing, "train_windows": len(data.train_features),
                       "eval_examples": len(data.eval_examples),
                       "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
            if args.version_2_with_negative and args.tune_null_threshold == "yes":
                results.update(_tune_null_threshold(accelerator, model, args, data, evaluate))
            write_json_atomic(os.path.join(args.output_dir, "eval_results.json"), results)
            _log_jsonl(os.path.join(args.output_dir, "eval_log.jsonl"), {"step": steps, **results})
            logger.info("eval results: %s", json.dumps(results))
    if args.with_tracking:
        accelerator.end_training()
    return results


def _tune_null_threshold(accelerator: Accelerator, model: Any, args: argparse.Namespace, data: Any,
                         evaluate: Evaluator) -> dict[str, float]:
    """SQuAD v2: the null threshold with the best dev F1, written into the saved folder's settings."""
    best_f1, threshold = dev_tuned_null_threshold(*evaluate.last, data.eval_examples, data.lang)
    config = accelerator.unwrap_model(model).config
    store_settings(config, settings_from_args(args, data.lang).replace(null_score_diff_threshold=float(threshold)))
    config.save_pretrained(args.output_dir)
    logger.info("dev-tuned null threshold %.4f (best F1 %.2f) saved with the model", threshold, best_f1)
    return {"best_f1": best_f1, "best_f1_thresh": float(threshold)}


def _save(accelerator: Accelerator, model: Any, tokenizer: Any, args: argparse.Namespace, lang: str) -> None:
    """The model folder (weights, config with the inference settings, tokenizer) and training_args.json."""
    accelerator.wait_for_everyone()
    state_dict = accelerator.get_state_dict(model)  # a collective under FSDP/DeepSpeed: every process calls it
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model)
        # the folder answers later as it was evaluated here (Reader and predict.py read these settings)
        store_settings(unwrapped.config, settings_from_args(args, lang))
        save_model(unwrapped, args.output_dir, tokenizer, state_dict)
        write_json_atomic(os.path.join(args.output_dir, "training_args.json"),
                          {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool, type(None)))})


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Train (and evaluate) as the arguments say; returns the final eval results (empty if none)."""
    accelerator = _setup(args)
    main = accelerator.is_main_process
    data = load_data(args)
    model, tokenizer = model_for_training(args)
    # resolved once the architecture is known (a reader folder brings its own)
    args.decoding = args.decoding or default_decoding(args.architecture)
    args.objective = args.objective or default_objective(args.architecture)
    build_features(data, args, tokenizer, accelerator)
    pad_id = tokenizer.pad_token_id or 0
    loader, sampler = train_loader(data, args, pad_id)

    model, optimizer, loader, scheduler, num_epochs = _prepare(accelerator, args, model, loader)
    objective = Objective.from_args(args, args.max_train_steps)
    if args.with_tracking:
        accelerator.init_trackers("gp_mrc", {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))})
    pos = resume(accelerator, args, len(loader), model)
    signature = model_signature(accelerator.unwrap_model(model))
    evaluate = Evaluator(args, accelerator, data.eval_examples, data.eval_features, pad_id, data.lang, data.metric) \
        if data.eval_examples is not None else None

    total_batch = args.per_device_train_batch_size * accelerator.num_processes * args.gradient_accumulation_steps
    logger.info("***** training: %d windows, %d epochs, %d steps, batch %d (x%d processes x%d accumulation), "
                "objective %s (warm start %d steps) *****", len(data.train_features), num_epochs, args.max_train_steps,
                total_batch, accelerator.num_processes, args.gradient_accumulation_steps, args.objective,
                objective.warm_start_steps)
    log_path, eval_log_path = (os.path.join(args.output_dir, n) for n in ("train_log.jsonl", "eval_log.jsonl"))
    progress = tqdm(total=args.max_train_steps, initial=pos.completed_steps, disable=not accelerator.is_local_main_process,
                    desc="Training")

    def log_eval(tag: str, **where: int) -> None:
        res = evaluate(model, tag)
        if main:
            _log_jsonl(eval_log_path, {"step": pos.completed_steps, **where, **res})
            logger.info("%s eval: %s", tag, res)

    loss_sum, loss_n, t0 = 0.0, 0, time.time()
    model.train()
    # A checkpoint saved after the final step (killed before the model was written): nothing left to train.
    epochs = range(pos.epoch, num_epochs) if pos.completed_steps < args.max_train_steps else range(0)
    for epoch in epochs:
        batches, batches_in_epoch = _epoch_batches(accelerator, loader, sampler, epoch, pos)
        for batch in rng_neutral(batches):
            step = pos.completed_steps
            loss, stats = _update(accelerator, model, optimizer, scheduler, objective, args, batch, step)
            batches_in_epoch += 1
            loss_sum, loss_n = loss_sum + loss.item(), loss_n + 1
            if not accelerator.sync_gradients:
                continue
            pos.completed_steps += 1
            progress.update(1)
            record = {"step": pos.completed_steps, "epoch": epoch, "loss": loss.item(),
                      "objective": "start_end_ce" if "start_end_ce" in stats else objective.phase(step),
                      "lr": scheduler.get_last_lr()[0], **stats}
            if main:
                _log_jsonl(log_path, record)
            if args.with_tracking:
                accelerator.log({k: v for k, v in record.items() if k not in ("step", "objective")},
                                step=pos.completed_steps)
            if pos.completed_steps % args.logging_steps == 0 or pos.completed_steps == args.max_train_steps:
                progress.set_postfix(loss=f"{loss_sum / max(loss_n, 1):.4f}", obj=record["objective"],
                                     **({"eF1": f"{stats['expected_f1']:.3f}"} if "expected_f1" in stats else {}))
                loss_sum, loss_n = 0.0, 0
            if str(args.checkpointing_steps).isdigit() and pos.completed_steps % int(args.checkpointing_steps) == 0:
                save_checkpoint(accelerator, args, {"completed_steps": pos.completed_steps, "epoch": epoch,
                                                    "batches_in_epoch": batches_in_epoch, "model": signature})
            if evaluate and args.eval_steps and pos.completed_steps % args.eval_steps == 0 \
                    and pos.completed_steps < args.max_train_steps:
                log_eval(f"step_{pos.completed_steps}")
            if pos.completed_steps >= args.max_train_steps:
                break
        if args.checkpointing_steps == "epoch":
            save_checkpoint(accelerator, args, {"completed_steps": pos.completed_steps, "epoch": epoch + 1,
                                                "batches_in_epoch": 0, "model": signature})
        if evaluate and args.eval_every_epoch and epoch < num_epochs - 1:
            log_eval(f"epoch_{epoch}", epoch=epoch)
        if pos.completed_steps >= args.max_train_steps:
            break
    progress.close()
    return _finish(accelerator, args, model, tokenizer, data, evaluate, pos.completed_steps, total_batch,
                   time.time() - t0 - (evaluate.seconds if evaluate else 0.0))
