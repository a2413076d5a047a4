"""The training recipe, read top to bottom: `train` sets the run up, runs its epochs and steps, and finishes it.

    setup     the Accelerator (device, precision, seed), the model, the data and its windows, AdamW and the
              schedule, a checkpoint to resume from, the evaluator
    epochs    the batches of each epoch in a resumable order (batching.py), skipping those a resumed run did
    the step  forward, loss (losses.py: the method's formulas on objective.py's schedule), backward, clip, optimizer and schedule (once gradients are
              accumulated); then log, checkpoint and evaluate as the flags ask
    finish    the model folder (weights, inference settings, tokenizer), the final evaluation and its files

Runs on CPU, one GPU, many GPUs or nodes (DDP/FSDP through `accelerate launch`), with mixed precision. What each
part does lives in its own module (training_data, model_init, objective, optimization, checkpointing,
evaluation); this one only puts them in order. scripts/train.py and `gp-mrc train` are its argument parser.
"""

from __future__ import annotations

import json
import logging
import math
import os
import resource
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm.auto import tqdm
from transformers import get_scheduler

from ..argtypes import make_output_dir
from ..atomic import write_json_atomic
from ..models.loading import save_model
from ..precision import describe_device, peak_gpu_memory, resolve_mixed_precision
from ..settings import store_settings
from .batching import rng_neutral
from .checkpointing import Position, model_signature, resume, save_checkpoint
from .config import OptimConfig, RunConfig, TrainConfig, inference_settings
from .evaluation import Evaluator, dev_tuned_null_threshold
from .losses import batch_loss
from .model_init import model_for_training
from .objective import ObjectiveConfig, steps_of
from .optimization import param_groups, reset_adam_moments
from .training_data import build_features, load_data, train_loader

logger = logging.getLogger("gp_mrc")


@dataclass(frozen=True)
class Plan:
    """What the configuration leaves to the data and the machine: the resolved precision, the number of steps and
    epochs, the windows an optimizer step sees."""

    mixed_precision: str
    max_train_steps: int
    num_epochs: int
    total_batch: int


def train(
    config: TrainConfig, *, model_fn: Callable[..., Any] = model_for_training, loss_fn: Callable[..., Any] = batch_loss
) -> dict[str, Any]:
    """Train (and evaluate) as the configuration says; returns the final eval results (empty if none). The
    recipe's components: `model_fn(config)` → (model, tokenizer), `loss_fn(objective, out, batch, step)` → (loss,
    stats to log); gp_mrc_lab passes its variants' own."""
    # ---- setup
    run, optim = config.run, config.optim
    accelerator, mixed_precision = _setup(config)
    model, tokenizer = model_fn(config)  # first: settings that do not fit the model end the run at once
    data = load_data(config.data, config.inference.version_2_with_negative, config.eval.do_eval, optim.seed)
    build_features(
        data, config.data, config.inference, config.objective.uses_rewards, run.output_dir, tokenizer, accelerator
    )
    pad_id = tokenizer.pad_token_id or 0
    loader, sampler = train_loader(
        data,
        config.inference.max_answer_length,
        optim,
        pad_id,
        config.data.dataloader_num_workers,
        config.data.dataloader_pin_memory,
        accelerator.device.type,
    )
    model, optimizer, loader, scheduler, plan = _prepare(accelerator, optim, model, loader, mixed_precision)
    objective = config.objective.resolved(plan.max_train_steps)
    if run.with_tracking:
        accelerator.init_trackers(
            "gp_mrc", {k: v for k, v in training_args(config, plan).items() if isinstance(v, (int, float, str, bool))}
        )
    pos = resume(accelerator, run, len(loader), model)
    evaluate = (
        Evaluator(config, accelerator, data.eval_examples, data.eval_features, pad_id, data.lang, data.metric)
        if data.eval_examples is not None
        else None
    )
    _log_start(accelerator, config, plan, objective, len(data.train_features))
    signature = model_signature(accelerator.unwrap_model(model))  # saved with each checkpoint
    progress = tqdm(
        total=plan.max_train_steps,
        initial=pos.completed_steps,
        disable=not accelerator.is_local_main_process,
        desc="Training",
    )
    loss_sum, loss_n = 0.0, 0  # of the batches since the progress bar last showed their mean loss
    t0 = time.time()

    # ---- the epochs
    model.train()
    finished = pos.completed_steps >= plan.max_train_steps  # a checkpoint saved after the final step: nothing to do
    for epoch in range(pos.epoch, plan.num_epochs) if not finished else ():
        batches, batches_in_epoch = _epoch_batches(accelerator, loader, sampler, epoch, pos)
        for batch in rng_neutral(batches):
            batches_in_epoch += 1
            step = pos.completed_steps

            # ---- the step: forward, loss, backward, clip, optimizer (an optimizer step once gradients are accumulated)
            with accelerator.accumulate(model):
                out = model(**batch, max_answer_length=config.inference.max_answer_length, banded=True)
                loss, stats = loss_fn(objective, out, batch, step)
                del out  # the logits: not kept alive through the next batch's forward
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"non-finite loss at step {step}; lower --learning_rate or use fp32")
                accelerator.backward(loss)
                if accelerator.sync_gradients and optim.max_grad_norm:
                    accelerator.clip_grad_norm_(model.parameters(), optim.max_grad_norm)
                if accelerator.sync_gradients and objective.resets_optimizer(step):
                    reset_adam_moments(optimizer)
                    logger.info("step %d: objective switched; AdamW moments reset", step)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            loss_sum, loss_n = loss_sum + loss.item(), loss_n + 1
            if not accelerator.sync_gradients:
                continue
            pos.completed_steps += 1
            progress.update(1)
            finished = pos.completed_steps >= plan.max_train_steps

            # ---- log, checkpoint, evaluate
            record = {
                "step": pos.completed_steps,
                "epoch": epoch,
                "loss": loss.item(),
                "objective": "start_end_ce" if "start_end_ce" in stats else objective.phase(step),
                "lr": scheduler.get_last_lr()[0],
                **stats,
            }
            if _log_step(accelerator, run, record, progress, loss_sum / max(loss_n, 1), last=finished):
                loss_sum, loss_n = 0.0, 0
            if isinstance(run.checkpointing_steps, int) and pos.completed_steps % run.checkpointing_steps == 0:
                _checkpoint(accelerator, run, pos.completed_steps, epoch, batches_in_epoch, signature)
            eval_steps = config.eval.eval_steps
            if evaluate and eval_steps and pos.completed_steps % eval_steps == 0 and not finished:
                _evaluate(
                    accelerator, evaluate, model, run.output_dir, pos.completed_steps, f"step_{pos.completed_steps}"
                )
            if finished:
                break
        if run.checkpointing_steps == "epoch":
            _checkpoint(accelerator, run, pos.completed_steps, epoch + 1, 0, signature)
        if evaluate and config.eval.eval_every_epoch and epoch < plan.num_epochs - 1:
            _evaluate(accelerator, evaluate, model, run.output_dir, pos.completed_steps, f"epoch_{epoch}", epoch=epoch)
        if finished:
            break
    progress.close()

    # ---- finish: the model folder, the final evaluation
    train_seconds = time.time() - t0 - (evaluate.seconds if evaluate else 0.0)
    return _finish(accelerator, config, plan, model, tokenizer, data, evaluate, pos.completed_steps, train_seconds)


# ---- setup


def resolve_training_precision(run: RunConfig) -> str:
    """--mixed_precision auto → bf16 / no for the device this run trains on (an `accelerate launch
    --mixed_precision` setting wins over auto)."""
    if run.mixed_precision == "auto" and os.environ.get("ACCELERATE_MIXED_PRECISION"):
        return os.environ["ACCELERATE_MIXED_PRECISION"]
    device = "cuda" if torch.cuda.is_available() and not run.cpu else "cpu"
    return resolve_mixed_precision(run.mixed_precision, device)


def _setup(config: TrainConfig) -> tuple[Accelerator, str]:
    """The Accelerator (device, processes, precision, trackers), the log format, the seed, the output folder."""
    run = config.run
    mixed_precision = resolve_training_precision(run)
    accelerator = Accelerator(
        gradient_accumulation_steps=config.optim.gradient_accumulation_steps,
        mixed_precision=mixed_precision,
        cpu=run.cpu,
        log_with=run.report_to if run.with_tracking else None,
        project_dir=run.output_dir,
    )
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        level=logging.INFO if accelerator.is_main_process else logging.ERROR,
    )
    logger.info("%s", accelerator.state)
    logger.info("mixed precision: %s (asked: %s)", mixed_precision, run.mixed_precision)
    set_seed(config.optim.seed)
    make_output_dir(run.output_dir)
    return accelerator, mixed_precision


def _prepare(
    accelerator: Accelerator, optim: OptimConfig, model: Any, loader: Any, mixed_precision: str
) -> tuple[Any, Any, Any, Any, Plan]:
    """AdamW (head at its own learning rate) and the schedule, prepared; the plan of steps."""
    optimizer = torch.optim.AdamW(
        param_groups(model, optim.learning_rate, optim.head_learning_rate, optim.weight_decay, optim.layer_lr_decay),
        lr=optim.learning_rate,
    )
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    steps_per_epoch = math.ceil(len(loader) / optim.gradient_accumulation_steps)
    max_steps = optim.max_train_steps or max(1, int(optim.num_train_epochs * steps_per_epoch))
    scheduler = accelerator.prepare(
        get_scheduler(
            optim.lr_scheduler_type,
            optimizer,
            num_warmup_steps=steps_of(optim.num_warmup_steps, max_steps) * accelerator.num_processes,
            num_training_steps=max_steps * accelerator.num_processes,
        )
    )
    total_batch = optim.per_device_train_batch_size * accelerator.num_processes * optim.gradient_accumulation_steps
    plan = Plan(mixed_precision, max_steps, math.ceil(max_steps / steps_per_epoch), total_batch)
    return model, optimizer, loader, scheduler, plan


def _log_start(
    accelerator: Accelerator, config: TrainConfig, plan: Plan, objective: ObjectiveConfig, n_windows: int
) -> None:
    """The banner of a run: its windows, epochs, steps, batch and objective."""
    logger.info(
        "***** training: %d windows, %d epochs, %d steps, batch %d (x%d processes x%d accumulation), "
        "objective %s (warm start %d steps) *****",
        n_windows,
        plan.num_epochs,
        plan.max_train_steps,
        plan.total_batch,
        accelerator.num_processes,
        config.optim.gradient_accumulation_steps,
        config.objective.objective,
        objective.warm_start_steps,
    )


# ---- the epochs and the step


def _epoch_batches(accelerator: Accelerator, loader: Any, sampler: Any, epoch: int, pos: Position) -> tuple[Any, int]:
    """The epoch's batches, the first ones skipped when resuming inside it; and how many were skipped."""
    sampler.set_epoch(epoch)
    loader.set_epoch(epoch)
    if epoch != pos.epoch or not pos.skip_batches:
        return loader, 0
    batches = accelerator.skip_first_batches(loader, pos.skip_batches)
    batches.set_epoch(epoch)
    return batches, pos.skip_batches


def log_jsonl(path: str, record: dict) -> None:
    """Append one record to a JSON-lines log."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def _log_step(
    accelerator: Accelerator, run: RunConfig, record: dict, progress: Any, mean_loss: float, last: bool
) -> bool:
    """One optimizer step's record to train_log.jsonl and the trackers; every --logging_steps and at the `last`
    step, the mean loss since the bar last showed it on the progress bar (True: shown)."""
    if accelerator.is_main_process:
        log_jsonl(os.path.join(run.output_dir, "train_log.jsonl"), record)
    if run.with_tracking:
        accelerator.log({k: v for k, v in record.items() if k not in ("step", "objective")}, step=record["step"])
    if record["step"] % run.logging_steps != 0 and not last:
        return False
    progress.set_postfix(
        loss=f"{mean_loss:.4f}",
        obj=record["objective"],
        **({"eF1": f"{record['expected_f1']:.3f}"} if "expected_f1" in record else {}),
    )
    return True


def _checkpoint(
    accelerator: Accelerator, run: RunConfig, completed_steps: int, epoch: int, batches_in_epoch: int, signature: dict
) -> None:
    """The whole state (checkpointing.py), with where the next step starts: `batches_in_epoch` of `epoch` done."""
    state = {"completed_steps": completed_steps, "epoch": epoch, "batches_in_epoch": batches_in_epoch}
    save_checkpoint(accelerator, run, {**state, "model": signature})


def _evaluate(
    accelerator: Accelerator, evaluate: Evaluator, model: Any, output_dir: str, step: int, tag: str, **where: int
) -> None:
    """An evaluation during training (--eval_steps, --eval_every_epoch), logged to eval_log.jsonl. It leaves torch's
    generators as it found them (its loader draws a seed from them): a run resumed at a checkpoint, which does not
    repeat that step's evaluation, then trains on with the uninterrupted run's dropout masks."""
    devices = [accelerator.device] if accelerator.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        res = evaluate(model, tag)
    if accelerator.is_main_process:
        log_jsonl(os.path.join(output_dir, "eval_log.jsonl"), {"step": step, **where, **res})
        logger.info("%s eval: %s", tag, res)


# ---- finish


def _finish(
    accelerator: Accelerator,
    config: TrainConfig,
    plan: Plan,
    model: Any,
    tokenizer: Any,
    data: Any,
    evaluate: Evaluator | None,
    steps: int,
    train_seconds: float,
) -> dict[str, Any]:
    """Timing, the model folder, then the final evaluation (all questions) and its files."""
    main, out = accelerator.is_main_process, config.run.output_dir
    timing = {
        "train_seconds": round(train_seconds, 1),
        "train_steps": steps,
        "train_windows_per_second": round(steps * plan.total_batch / max(train_seconds, 1e-9), 2),
        "device": describe_device(accelerator.device),
        **peak_gpu_memory(accelerator.device),
    }
    if main:  # as transformers' Trainer: the timing of the training alone, evaluated or not
        write_json_atomic(os.path.join(out, "train_results.json"), {**timing, "mixed_precision": plan.mixed_precision})
    _save(accelerator, model, tokenizer, config, plan, data.lang)
    results: dict[str, Any] = {}
    if evaluate:
        results = evaluate(model, "final")
        if main:
            results = {
                **results,
                **timing,
                "train_windows": len(data.train_features),
                "eval_examples": len(data.eval_examples),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
            if config.inference.version_2_with_negative and config.eval.tune_null_threshold == "yes":
                results.update(_tune_null_threshold(accelerator, model, config, data, evaluate))
            write_json_atomic(os.path.join(out, "eval_results.json"), results)
            log_jsonl(os.path.join(out, "eval_log.jsonl"), {"step": steps, **results})
            logger.info("eval results: %s", json.dumps(results))
    if config.run.with_tracking:
        accelerator.end_training()
    return results


def _tune_null_threshold(
    accelerator: Accelerator, model: Any, config: TrainConfig, data: Any, evaluate: Evaluator
) -> dict[str, float]:
    """SQuAD v2: the null threshold with the best dev F1, written into the saved folder's settings."""
    best_f1, threshold = dev_tuned_null_threshold(*evaluate.last, data.eval_examples, data.lang)
    unwrapped = accelerator.unwrap_model(model).config
    store_settings(unwrapped, inference_settings(config, data.lang).replace(null_score_diff_threshold=float(threshold)))
    unwrapped.save_pretrained(config.run.output_dir)
    logger.info("dev-tuned null threshold %.4f (best F1 %.2f) saved with the model", threshold, best_f1)
    return {"best_f1": best_f1, "best_f1_thresh": float(threshold)}


def training_args(config: TrainConfig, plan: Plan) -> dict[str, Any]:
    """training_args.json: every flag as resolved, with what the run decided from the data and the machine."""
    flat = {k: list(v) if isinstance(v, tuple) else v for k, v in config.flat().items()}
    return {
        **flat,
        "max_train_steps": plan.max_train_steps,
        "mixed_precision": plan.mixed_precision,
        "mixed_precision_requested": config.run.mixed_precision,
    }


def _save(accelerator: Accelerator, model: Any, tokenizer: Any, config: TrainConfig, plan: Plan, lang: str) -> None:
    """The model folder (weights, config with the inference settings, tokenizer) and training_args.json."""
    accelerator.wait_for_everyone()
    state_dict = accelerator.get_state_dict(model)  # a collective under FSDP/DeepSpeed: every process calls it
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model)
        # the folder answers later as it was evaluated here (Reader and predict.py read these settings)
        store_settings(unwrapped.config, inference_settings(config, lang))
        save_model(unwrapped, config.run.output_dir, tokenizer, state_dict)
        write_json_atomic(
            os.path.join(config.run.output_dir, "training_args.json"),
            {
                k: v
                for k, v in training_args(config, plan).items()
                if isinstance(v, (int, float, str, bool, type(None)))
            },
        )
