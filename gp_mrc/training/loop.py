"""The Accelerate training loop (scripts/train.py is only its argument parser).

Runs on CPU, one GPU, many GPUs or nodes (DDP/FSDP through `accelerate launch`), with mixed precision. The pieces
live in their own modules: the data (training_data), the model (model_init), the loss of a batch (objective),
evaluation (evaluation), checkpoints and resuming (checkpointing), AdamW groups (optimization), the epochs and
steps (steps); `train` below sets the run up, runs its steps and finishes it, readable in one sitting.
"""

from __future__ import annotations

import json
import logging
import math
import os
import resource
import time
from typing import Any, Callable

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from transformers import get_scheduler

from ..argtypes import make_output_dir
from ..atomic import write_json_atomic
from .checkpointing import resume
from .config import OptimConfig, RunConfig, TrainConfig, inference_settings
from .evaluation import Evaluator, dev_tuned_null_threshold
from ..models.loading import save_model
from .losses import batch_loss
from .model_init import model_for_training
from .objective import ObjectiveConfig, steps_of
from .optimization import param_groups
from ..precision import describe_device, peak_gpu_memory, resolve_mixed_precision
from ..settings import store_settings
from .steps import Loop, Plan, log_jsonl
from .training_data import build_features, load_data, train_loader

logger = logging.getLogger("gp_mrc")


def resolve_training_precision(run: RunConfig) -> str:
    """--mixed_precision auto → bf16 / no for the device this run trains on (an `accelerate launch
    --mixed_precision` setting wins over auto)."""
    if run.mixed_precision == "auto" and os.environ.get("ACCELERATE_MIXED_PRECISION"):
        return os.environ["ACCELERATE_MIXED_PRECISION"]
    device = "cuda" if torch.cuda.is_available() and not run.cpu else "cpu"
    return resolve_mixed_precision(run.mixed_precision, device)


def _setup(config: TrainConfig) -> tuple[Accelerator, str]:
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


def train(
    config: TrainConfig, *, model_fn: Callable[..., Any] = model_for_training, loss_fn: Callable[..., Any] = batch_loss
) -> dict[str, Any]:
    """Train (and evaluate) as the configuration says; returns the final eval results (empty if none). The recipe's
    components: `model_fn(config)` → (model, tokenizer) and `loss_fn(objective, out, batch, step)` → (loss, stats)
    (gp_mrc_lab passes its variants' own)."""
    accelerator, mixed_precision = _setup(config)
    model, tokenizer = model_fn(config)  # first: settings that do not fit the model end the run at once
    data = load_data(config.data, config.inference.version_2_with_negative, config.eval.do_eval, config.optim.seed)
    build_features(
        data,
        config.data,
        config.inference,
        config.objective.uses_rewards,
        config.run.output_dir,
        tokenizer,
        accelerator,
    )
    pad_id = tokenizer.pad_token_id or 0
    loader, sampler = train_loader(
        data,
        config.inference.max_answer_length,
        config.optim,
        pad_id,
        config.data.dataloader_num_workers,
        config.data.dataloader_pin_memory,
        accelerator.device.type,
    )
    model, optimizer, loader, scheduler, plan = _prepare(accelerator, config.optim, model, loader, mixed_precision)
    objective = config.objective.resolved(plan.max_train_steps)
    if config.run.with_tracking:
        accelerator.init_trackers(
            "gp_mrc", {k: v for k, v in training_args(config, plan).items() if isinstance(v, (int, float, str, bool))}
        )
    pos = resume(accelerator, config.run, len(loader), model)
    evaluate = (
        Evaluator(config, accelerator, data.eval_examples, data.eval_features, pad_id, data.lang, data.metric)
        if data.eval_examples is not None
        else None
    )
    _log_start(accelerator, config, plan, objective, len(data.train_features))
    loop = Loop(accelerator, config, plan, model, optimizer, scheduler, objective, evaluate, pos, loss_fn)
    t0 = time.time()
    loop.run(loader, sampler)
    return _finish(
        accelerator,
        config,
        plan,
        model,
        tokenizer,
        data,
        evaluate,
        pos.completed_steps,
        time.time() - t0 - (evaluate.seconds if evaluate else 0.0),
    )
