"""The epochs and steps of a run (`Loop`): each batch's forward/backward and optimizer step, the per-step log,
checkpoints and intermediate evaluations; loop.train sets it up and finishes the run around it."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable

import torch
from accelerate import Accelerator
from tqdm.auto import tqdm

from .batching import rng_neutral
from .checkpointing import Position, model_signature, save_checkpoint
from .config import TrainConfig
from .evaluation import Evaluator
from .objective import ObjectiveConfig
from .optimization import reset_adam_moments

logger = logging.getLogger("gp_mrc")


def log_jsonl(path: str, record: dict) -> None:
    """Append one record to a JSON-lines log."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


@dataclass(frozen=True)
class Plan:
    """What the configuration leaves to the data: the resolved precision, the number of steps and epochs."""

    mixed_precision: str
    max_train_steps: int
    num_epochs: int
    total_batch: int


def _update(
    accelerator: Accelerator,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    objective: ObjectiveConfig,
    config: TrainConfig,
    batch: dict,
    step: int,
    loss_fn: Callable[..., Any],
) -> tuple[torch.Tensor, dict[str, float]]:
    """One forward/backward (an optimizer step once gradients are accumulated); the loss and its parts."""
    with accelerator.accumulate(model):
        out = model(**batch, max_answer_length=config.inference.max_answer_length, banded=True)
        loss, stats = loss_fn(objective, out, batch, step)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss at step {step}; lower --learning_rate or use fp32")
        accelerator.backward(loss)
        if accelerator.sync_gradients and config.optim.max_grad_norm:
            accelerator.clip_grad_norm_(model.parameters(), config.optim.max_grad_norm)
        if accelerator.sync_gradients and objective.resets_optimizer(step):
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


class Loop:
    """The epochs and steps of a run: updates, logs, checkpoints and intermediate evaluations."""

    def __init__(
        self,
        accelerator: Accelerator,
        config: TrainConfig,
        plan: Plan,
        model: Any,
        optimizer: Any,
        scheduler: Any,
        objective: ObjectiveConfig,
        evaluate: Evaluator | None,
        pos: Position,
        loss_fn: Callable[..., Any],
    ):
        self.acc, self.config, self.plan, self.model = accelerator, config, plan, model
        self.optimizer, self.scheduler, self.objective, self.evaluate, self.pos = (
            optimizer,
            scheduler,
            objective,
            evaluate,
            pos,
        )
        self.main, self.loss_fn = accelerator.is_main_process, loss_fn
        out = config.run.output_dir
        self.log_path, self.eval_log_path = os.path.join(out, "train_log.jsonl"), os.path.join(out, "eval_log.jsonl")
        self.signature = model_signature(accelerator.unwrap_model(model))
        self.loss_sum, self.loss_n = 0.0, 0
        self.progress = tqdm(
            total=plan.max_train_steps,
            initial=pos.completed_steps,
            disable=not accelerator.is_local_main_process,
            desc="Training",
        )

    def done(self) -> bool:
        return self.pos.completed_steps >= self.plan.max_train_steps

    def run(self, loader: Any, sampler: Any) -> None:
        self.model.train()
        # A checkpoint saved after the final step (killed before the model was written): nothing left to train.
        epochs = range(self.pos.epoch, self.plan.num_epochs) if not self.done() else range(0)
        for epoch in epochs:
            batches, batches_in_epoch = _epoch_batches(self.acc, loader, sampler, epoch, self.pos)
            for batch in rng_neutral(batches):
                batches_in_epoch += 1
                if self.step(batch, epoch, batches_in_epoch) and self.done():
                    break
            self.end_of_epoch(epoch)
            if self.done():
                break
        self.progress.close()

    def step(self, batch: dict, epoch: int, batches_in_epoch: int) -> bool:
        """One batch; True when it completed an optimizer step."""
        step, run = self.pos.completed_steps, self.config.run
        loss, stats = _update(
            self.acc, self.model, self.optimizer, self.scheduler, self.objective, self.config, batch, step, self.loss_fn
        )
        self.loss_sum, self.loss_n = self.loss_sum + loss.item(), self.loss_n + 1
        if not self.acc.sync_gradients:
            return False
        self.pos.completed_steps += 1
        self.progress.update(1)
        self.log(loss, stats, step, epoch)
        done = self.pos.completed_steps
        if isinstance(run.checkpointing_steps, int) and done % run.checkpointing_steps == 0:
            self.checkpoint(epoch, batches_in_epoch)
        if (
            self.evaluate
            and self.config.eval.eval_steps
            and done % self.config.eval.eval_steps == 0
            and not self.done()
        ):
            self.log_eval(f"step_{done}")
        return True

    def log(self, loss: torch.Tensor, stats: dict[str, float], step: int, epoch: int) -> None:
        done = self.pos.completed_steps
        record = {
            "step": done,
            "epoch": epoch,
            "loss": loss.item(),
            "objective": "start_end_ce" if "start_end_ce" in stats else self.objective.phase(step),
            "lr": self.scheduler.get_last_lr()[0],
            **stats,
        }
        if self.main:
            log_jsonl(self.log_path, record)
        if self.config.run.with_tracking:
            self.acc.log({k: v for k, v in record.items() if k not in ("step", "objective")}, step=done)
        if done % self.config.run.logging_steps == 0 or self.done():
            self.progress.set_postfix(
                loss=f"{self.loss_sum / max(self.loss_n, 1):.4f}",
                obj=record["objective"],
                **({"eF1": f"{stats['expected_f1']:.3f}"} if "expected_f1" in stats else {}),
            )
            self.loss_sum, self.loss_n = 0.0, 0

    def checkpoint(self, epoch: int, batches_in_epoch: int) -> None:
        save_checkpoint(
            self.acc,
            self.config.run,
            {
                "completed_steps": self.pos.completed_steps,
                "epoch": epoch,
                "batches_in_epoch": batches_in_epoch,
                "model": self.signature,
            },
        )

    def end_of_epoch(self, epoch: int) -> None:
        if self.config.run.checkpointing_steps == "epoch":
            self.checkpoint(epoch + 1, 0)
        if self.evaluate and self.config.eval.eval_every_epoch and epoch < self.plan.num_epochs - 1:
            self.log_eval(f"epoch_{epoch}", epoch=epoch)

    def log_eval(self, tag: str, **where: int) -> None:
        res = self.evaluate(self.model, tag)
        if self.main:
            log_jsonl(self.eval_log_path, {"step": self.pos.completed_steps, **where, **res})
            logger.info("%s eval: %s", tag, res)
