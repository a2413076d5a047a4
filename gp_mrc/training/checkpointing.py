"""Checkpoints that survive a kill: whole Accelerate states written atomically with the data position.

A checkpoint is `<output_dir>/checkpoints/step_N`, saved into `.tmp-step_N` and renamed once complete (STATE_FILE,
written last, marks a complete one); the `latest` pointer moves after the rename. Resuming restores model,
optimizer, scheduler, RNG and the position in the epoch, and drops the log records a killed run wrote after its
last checkpoint, so a resumed run ends exactly where the uninterrupted one would.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from typing import Any

from accelerate import Accelerator

from ..atomic import write_json_atomic, write_text_atomic
from ..errors import UsageError, first_line

logger = logging.getLogger("gp_mrc")

STATE_FILE = "trainer_state.json"
LOG_FILES = ("train_log.jsonl", "eval_log.jsonl")


def checkpoint_root(run: Any) -> str:
    return os.path.join(run.output_dir, "checkpoints")


def is_complete_checkpoint(path: str) -> bool:
    """A checkpoint folder is complete once it holds STATE_FILE (written last, before the rename)."""
    return os.path.isfile(os.path.join(path, STATE_FILE))


def complete_checkpoints(root: str) -> list[str]:
    """Names of the complete `step_N` folders under `root`, oldest first; `.tmp-step_N` leftovers of a save
    that was killed half-way are never listed."""
    if not os.path.isdir(root):
        return []
    names = [
        d
        for d in os.listdir(root)
        if d.startswith("step_") and d[5:].isdigit() and is_complete_checkpoint(os.path.join(root, d))
    ]
    return sorted(names, key=lambda d: int(d[5:]))


def find_checkpoint(run: Any) -> str | None:
    """Resolve --resume_from_checkpoint: a folder, or 'latest' = the pointer file written after each complete
    save (if it is missing or names an incomplete folder — a kill between the rename and the pointer write —
    the newest complete `step_N` folder)."""
    if run.resume_from_checkpoint is None:
        return None
    if run.resume_from_checkpoint != "latest":
        if not is_complete_checkpoint(run.resume_from_checkpoint):
            raise UsageError(
                f"--resume_from_checkpoint {run.resume_from_checkpoint}: not a complete checkpoint (no {STATE_FILE})"
            )
        return run.resume_from_checkpoint
    root = checkpoint_root(run)
    pointer = os.path.join(root, "latest")
    if os.path.exists(pointer):
        with open(pointer) as f:
            name = f.read().strip()
        if name and is_complete_checkpoint(os.path.join(root, name)):
            return os.path.join(root, name)
    done = complete_checkpoints(root)
    if not done:
        logger.warning("--resume_from_checkpoint latest: no checkpoint under %s yet; starting from scratch", root)
        return None
    logger.warning(
        "--resume_from_checkpoint latest: the 'latest' pointer under %s is missing or stale; using the "
        "newest complete checkpoint %s",
        root,
        done[-1],
    )
    return os.path.join(root, done[-1])


def save_checkpoint(accelerator: Accelerator, run: Any, state: dict) -> None:
    """accelerator.save_state into a temporary folder, then rename, then move the 'latest' pointer."""
    root = checkpoint_root(run)
    name = f"step_{state['completed_steps']}"
    tmp, final = os.path.join(root, f".tmp-{name}"), os.path.join(root, name)
    if accelerator.is_main_process:
        os.makedirs(root, exist_ok=True)
        for old in os.listdir(root):  # this save's own leftover and those of saves killed half-way
            if old.startswith(".tmp-step_"):
                shutil.rmtree(os.path.join(root, old), ignore_errors=True)
        os.makedirs(tmp, exist_ok=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(tmp)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        write_json_atomic(os.path.join(tmp, STATE_FILE), state)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        write_text_atomic(os.path.join(root, "latest"), name)
        done = complete_checkpoints(root)
        for old in done[: max(0, len(done) - run.save_total_limit)]:
            shutil.rmtree(os.path.join(root, old), ignore_errors=True)
    accelerator.wait_for_everyone()


def truncate_log(path: str, last_step: int) -> int:
    """Drop the records a killed run logged after its last checkpoint (the resumed run logs those steps again),
    so each step appears once; returns how many were dropped. Rewritten atomically."""
    if not os.path.exists(path):
        return 0
    kept, dropped = [], 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                step = json.loads(line).get("step", 0)
            except (json.JSONDecodeError, AttributeError):
                dropped += 1  # a line cut short by the kill
                continue
            if step <= last_step:
                kept.append(line if line.endswith("\n") else line + "\n")
            else:
                dropped += 1
    if dropped:
        write_text_atomic(path, "".join(kept))
    return dropped


@dataclass
class Position:
    """Where training stands: optimizer steps done, and the epoch and batch the next step starts at."""

    completed_steps: int = 0
    epoch: int = 0
    skip_batches: int = 0


def model_signature(model: Any) -> dict[str, Any]:
    """What a checkpoint's weights fit: the model class, the encoder's shape and the span head's settings.
    Saved with each checkpoint, so resuming another run's checkpoint is one line naming the difference."""
    config = model.config
    encoder = getattr(config, "encoder", config)
    signature: dict[str, Any] = {
        "model": type(model).__name__,
        "encoder": {
            k: getattr(encoder, k, None) for k in ("model_type", "hidden_size", "num_hidden_layers", "vocab_size")
        },
    }
    if hasattr(model, "head"):  # GlobalPointer: the head's weights depend on these
        signature["head"] = {k: getattr(config, k, None) for k in ("head_size", "use_rope", "span_bias")}
    return signature


def _check_signature(checkpoint: str, saved: dict[str, Any] | None, current: dict[str, Any]) -> None:
    if saved is None or saved == current:  # checkpoints of earlier versions carry none: load_state tells
        return
    diff = "; ".join(
        f"{k}: checkpoint {saved.get(k)}, this run {current.get(k)}"
        for k in sorted(set(saved) | set(current))
        if saved.get(k) != current.get(k)
    )
    raise UsageError(
        f"--resume_from_checkpoint {checkpoint} belongs to another model ({diff}); resume with the "
        "--model_name_or_path, --architecture and head flags it was trained with"
    )


def resume(accelerator: Accelerator, run: Any, batches_per_epoch: int, model: Any = None) -> Position:
    """Load the checkpoint --resume_from_checkpoint names (if any) into the prepared objects; its position.
    `run`: the run's gp_mrc.training.config.RunConfig (output_dir, resume_from_checkpoint, save_total_limit)."""
    checkpoint = find_checkpoint(run)
    if not checkpoint:
        return Position()
    with open(os.path.join(checkpoint, STATE_FILE)) as f:
        st = json.load(f)
    if model is not None:
        _check_signature(checkpoint, st.get("model"), model_signature(accelerator.unwrap_model(model)))
    try:
        accelerator.load_state(checkpoint)
    except RuntimeError as e:  # a checkpoint of another model (saved before signatures were): weights that do not fit
        raise UsageError(
            f"--resume_from_checkpoint {checkpoint}: its weights do not fit this run's model "
            f"({first_line(e)}); resume with the flags it was trained with"
        ) from None
    pos = Position(st["completed_steps"], st["epoch"], st["batches_in_epoch"])
    if pos.skip_batches >= batches_per_epoch:  # saved after the last batch of an epoch: start the next one
        pos = Position(pos.completed_steps, pos.epoch + 1, 0)
    logger.info(
        "resumed from %s at step %d (epoch %d, batch %d)", checkpoint, pos.completed_steps, pos.epoch, pos.skip_batches
    )
    if accelerator.is_main_process:
        for log_name in LOG_FILES:
            if truncate_log(os.path.join(run.output_dir, log_name), pos.completed_steps):
                logger.info(
                    "%s: dropped the records logged after step %d by the interrupted run", log_name, pos.completed_steps
                )
    return pos
