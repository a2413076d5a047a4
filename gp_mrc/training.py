"""The Accelerate training loop (scripts/train.py is only its argument parser).

Runs on CPU, one GPU, many GPUs or nodes (DDP/FSDP through `accelerate launch`), with mixed precision.
Checkpoints are whole Accelerate states written atomically (temporary folder, then rename) with the
data position, so a killed run resumes with `--resume_from_checkpoint latest` exactly where it stopped.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import shutil
import time
from typing import Any, Iterator

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.utils.data import DataLoader, Sampler
from tqdm.auto import tqdm
from transformers import get_scheduler

from .arguments import build_parser, parse_args  # noqa: F401  (re-exported: training.parse_args)
from .atomic import write_json_atomic, write_text_atomic
from .collate import SpanCollator
from .data import DataError, detect_language, load_examples
from .features import content_key, prepare_features
from .inference import answer_features, score_predictions, write_predictions
from .model_init import model_for_training
from .objective import Objective, steps_of
from .precision import resolve_mixed_precision
from .settings import settings_from_args, store_settings

logger = logging.getLogger("gp_mrc")

TRAIN_COLUMNS = ("input_ids", "attention_mask", "token_type_ids", "offset_mapping", "gold_starts", "gold_ends",
                 "feature_index")
STATE_FILE = "trainer_state.json"
HEAD_PREFIXES = ("head.", "qa_model.qa_outputs.")  # the span heads of GlobalPointer and of the start/end reader


class EpochPermutationSampler(Sampler[int]):
    """Shuffles with a generator seeded by (seed, epoch): the order of any epoch is known without state,
    so a resumed run sees exactly the batches the killed one would have."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        return iter(np.random.default_rng([self.seed, self.epoch]).permutation(self.n).tolist())

    def __len__(self) -> int:
        return self.n




def _checkpoint_root(args: argparse.Namespace) -> str:
    return os.path.join(args.output_dir, "checkpoints")


def _is_complete_checkpoint(path: str) -> bool:
    """A checkpoint folder is complete once it holds STATE_FILE (written last, before the rename)."""
    return os.path.isfile(os.path.join(path, STATE_FILE))


def _complete_checkpoints(root: str) -> list[str]:
    """Names of the complete `step_N` folders under `root`, oldest first; `.tmp-step_N` leftovers of a save
    that was killed half-way are never listed."""
    if not os.path.isdir(root):
        return []
    names = [d for d in os.listdir(root) if d.startswith("step_") and d[5:].isdigit()
             and _is_complete_checkpoint(os.path.join(root, d))]
    return sorted(names, key=lambda d: int(d[5:]))


def find_checkpoint(args: argparse.Namespace) -> str | None:
    """Resolve --resume_from_checkpoint: a folder, or 'latest' = the pointer file written after each complete
    save (if it is missing or names an incomplete folder — a kill between the rename and the pointer write —
    the newest complete `step_N` folder)."""
    if args.resume_from_checkpoint is None:
        return None
    if args.resume_from_checkpoint != "latest":
        if not _is_complete_checkpoint(args.resume_from_checkpoint):
            raise SystemExit(f"--resume_from_checkpoint {args.resume_from_checkpoint}: not a complete checkpoint "
                             f"(no {STATE_FILE})")
        return args.resume_from_checkpoint
    root = _checkpoint_root(args)
    pointer = os.path.join(root, "latest")
    if os.path.exists(pointer):
        with open(pointer) as f:
            name = f.read().strip()
        if name and _is_complete_checkpoint(os.path.join(root, name)):
            return os.path.join(root, name)
    done = _complete_checkpoints(root)
    if not done:
        logger.warning("--resume_from_checkpoint latest: no checkpoint under %s yet; starting from scratch", root)
        return None
    logger.warning("--resume_from_checkpoint latest: the 'latest' pointer under %s is missing or stale; using the "
                   "newest complete checkpoint %s", root, done[-1])
    return os.path.join(root, done[-1])


def save_checkpoint(accelerator: Accelerator, args: argparse.Namespace, state: dict) -> None:
    """accelerator.save_state into a temporary folder, then rename, then move the 'latest' pointer."""
    root = _checkpoint_root(args)
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
        done = _complete_checkpoints(root)
        for old in done[: max(0, len(done) - args.save_total_limit)]:
            shutil.rmtree(os.path.join(root, old), ignore_errors=True)
    accelerator.wait_for_everyone()


def param_groups(model: torch.nn.Module, lr: float, head_lr: float | None, weight_decay: float) -> list[dict]:
    """AdamW groups: no decay on biases and norms; the span head (randomly initialised) at `head_lr`.

    The GlobalPointer score is bilinear in the head's weights (q·k), so it starts on a saddle where Adam's
    steps of size ~lr need many updates to grow the logits; a larger head learning rate shortens that."""
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")
    groups = []
    for is_head in (False, True):
        for decay in (True, False):
            params = [p for n, p in model.named_parameters() if n.startswith(HEAD_PREFIXES) == is_head
                      and (not any(x in n for x in no_decay)) == decay]
            if params:
                groups.append({"params": params, "weight_decay": weight_decay if decay else 0.0,
                               "lr": (head_lr or lr) if is_head else lr})
    return groups


def reset_adam_moments(optimizer: torch.optim.Optimizer) -> None:
    """Forget Adam's moment estimates; the next step starts them afresh (bias-corrected, so its size is ~lr).

    Expected-F1 gradients are ~10x smaller than multilabel ones; kept, the multilabel second moment
    (β2 = 0.999, a memory of ~1,000 steps) would shrink every step after the switch by as much."""
    inner = getattr(optimizer, "optimizer", optimizer)  # accelerate wraps the torch optimizer
    inner.state.clear()


def _rng_neutral(loader: Any) -> Iterator[Any]:
    """Iterate a (prepared) DataLoader without its per-epoch seed draw touching the global torch RNG.

    The draw happens lazily, at the first next() (accelerate's loaders are generators), and a resumed run
    makes it at a different point of the RNG stream than the uninterrupted run: dropout would then differ.
    Restoring the state after the first batch makes the stream depend only on the steps taken."""
    state = torch.get_rng_state()
    iterator = iter(loader)
    try:
        first = next(iterator)
    except StopIteration:
        return
    torch.set_rng_state(state)
    yield first
    yield from iterator


def _truncate_log(path: str, last_step: int) -> int:
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


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Train (and evaluate) as the arguments say; returns the final eval results (empty if none)."""
    args.mixed_precision = resolve_training_precision(args)
    accelerator = Accelerator(
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        mixed_precision=args.mixed_precision,
        cpu=args.cpu,
        log_with=args.report_to if args.with_tracking else None,
        project_dir=args.output_dir,
    )
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S",
                        level=logging.INFO if accelerator.is_main_process else logging.ERROR)
    logger.info("%s", accelerator.state)
    logger.info("mixed precision: %s (asked: %s)", args.mixed_precision, args.mixed_precision_requested)
    set_seed(args.seed)
    os.makedirs(args.output_dir, exist_ok=True)

    # ---- data
    try:
        source = args.train_file or args.dataset_name
        train_examples = load_examples(source, version_2=args.version_2_with_negative, split="train",
                                       config_name=args.dataset_config_name, max_samples=args.max_train_samples)
        eval_source = args.validation_file or (args.dataset_name if args.dataset_name else None)
        eval_examples = None
        if eval_source and args.do_eval != "no":
            eval_examples = load_examples(eval_source, version_2=args.version_2_with_negative, split="validation",
                                          config_name=args.dataset_config_name, require_answers=False,
                                          max_samples=args.max_eval_samples)
    except DataError as e:
        raise SystemExit(f"error: {e}") from None
    lang = args.lang if args.lang != "auto" else detect_language(train_examples)
    from .metrics import metric_name as _metric_name
    metric = _metric_name(lang, args.version_2_with_negative)

    model, tokenizer = model_for_training(args)
    with accelerator.main_process_first():
        train_features = prepare_features(train_examples, tokenizer, max_seq_length=args.max_seq_length,
                                          doc_stride=args.doc_stride, max_query_length=args.max_query_length,
                                          num_proc=args.preprocessing_num_workers)
        eval_features = None
        if eval_examples is not None:
            eval_features = prepare_features(eval_examples, tokenizer, max_seq_length=args.max_seq_length,
                                             doc_stride=args.doc_stride, max_query_length=args.max_query_length,
                                             num_proc=args.preprocessing_num_workers, desc="Building eval windows")
    logger.info("train: %d questions → %d windows; eval: %s; lang=%s metric=%s", len(train_examples),
                len(train_features), f"{len(eval_examples)} questions → {len(eval_features)} windows"
                if eval_examples is not None else "none", lang, metric)

    f1_table = None
    if args.objective != "multilabel":
        from .rewards import DEFAULT_F1_WINDOW, load_or_compute_f1_table

        window = args.f1_window if args.f1_window is not None else DEFAULT_F1_WINDOW
        cache_dir = args.cache_dir or os.path.join(os.path.dirname(os.path.abspath(args.output_dir)), ".gp_mrc_cache")
        with accelerator.main_process_first():  # the main process computes, the others read its cache
            f1_table = load_or_compute_f1_table(
                train_features, train_examples, cache_dir=cache_dir,
                data_key=content_key(train_features, train_examples, type(tokenizer).__name__),
                lang=lang, window=window, max_answer_length=args.max_answer_length,
                num_proc=args.preprocessing_num_workers or 1)

    cols = [c for c in TRAIN_COLUMNS if c in train_features.column_names]
    sampler = EpochPermutationSampler(len(train_features), args.seed)
    train_loader = DataLoader(train_features.select_columns(cols), batch_size=args.per_device_train_batch_size,
                              sampler=sampler, collate_fn=SpanCollator(tokenizer.pad_token_id or 0, f1_table,
                                                       band_width=args.max_answer_length))

    # ---- optimisation
    groups = param_groups(model, args.learning_rate, args.head_learning_rate, args.weight_decay)
    optimizer = torch.optim.AdamW(groups, lr=args.learning_rate)
    model, optimizer, train_loader = accelerator.prepare(model, optimizer, train_loader)
    steps_per_epoch = math.ceil(len(train_loader) / args.gradient_accumulation_steps)
    if args.max_train_steps is None:
        args.max_train_steps = max(1, int(args.num_train_epochs * steps_per_epoch))
    num_epochs = math.ceil(args.max_train_steps / steps_per_epoch)
    warmup = steps_of(args.num_warmup_steps, args.max_train_steps)
    objective = Objective.from_args(args, args.max_train_steps)
    scheduler = get_scheduler(args.lr_scheduler_type, optimizer, num_warmup_steps=warmup * accelerator.num_processes,
                              num_training_steps=args.max_train_steps * accelerator.num_processes)
    scheduler = accelerator.prepare(scheduler)
    if args.with_tracking:
        accelerator.init_trackers("gp_mrc", {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))})

    completed_steps, start_epoch, skip_batches = 0, 0, 0
    checkpoint = find_checkpoint(args)
    if checkpoint:
        accelerator.load_state(checkpoint)
        with open(os.path.join(checkpoint, STATE_FILE)) as f:
            st = json.load(f)
        completed_steps, start_epoch, skip_batches = st["completed_steps"], st["epoch"], st["batches_in_epoch"]
        if skip_batches >= len(train_loader):  # saved after the last batch of an epoch: start the next one
            start_epoch, skip_batches = start_epoch + 1, 0
        logger.info("resumed from %s at step %d (epoch %d, batch %d)", checkpoint, completed_steps, start_epoch,
                    skip_batches)
        if accelerator.is_main_process:
            for log_name in ("train_log.jsonl", "eval_log.jsonl"):
                if _truncate_log(os.path.join(args.output_dir, log_name), completed_steps):
                    logger.info("%s: dropped the records logged after step %d by the interrupted run", log_name,
                                completed_steps)

    total_batch = args.per_device_train_batch_size * accelerator.num_processes * args.gradient_accumulation_steps
    logger.info("***** training: %d windows, %d epochs, %d steps, batch %d (x%d processes x%d accumulation), "
                "objective %s (warm start %d steps) *****", len(train_features), num_epochs, args.max_train_steps,
                total_batch, accelerator.num_processes, args.gradient_accumulation_steps, args.objective, objective.warm_start_steps)
    log_path = os.path.join(args.output_dir, "train_log.jsonl")
    eval_log_path = os.path.join(args.output_dir, "eval_log.jsonl")
    progress = tqdm(total=args.max_train_steps, initial=completed_steps, disable=not accelerator.is_local_main_process,
                    desc="Training")

    eval_seconds = 0.0

    def run_eval(tag: str) -> dict:
        nonlocal eval_seconds
        t_eval = time.time()
        examples, features = eval_examples, eval_features
        if tag != "final" and args.intermediate_eval_samples and args.intermediate_eval_samples < len(eval_examples):
            examples = eval_examples.select(range(args.intermediate_eval_samples))
            features = eval_features.filter(lambda x: x < len(examples), input_columns="example_index")
        preds, nbest, null_diff = answer_features(
            model, examples, features, pad_token_id=tokenizer.pad_token_id or 0,
            batch_size=args.per_device_eval_batch_size, n_best_size=args.n_best_size,
            version_2_with_negative=args.version_2_with_negative,
            null_score_diff_threshold=args.null_score_diff_threshold, max_answer_length=args.max_answer_length,
            accelerator=accelerator, disable_progress=not accelerator.is_local_main_process,
            decoding=args.decoding, temperature=args.decoding_temperature, lang=lang)
        results: dict = {}
        if accelerator.is_main_process:
            if len(preds) != len(examples):
                raise RuntimeError(f"{len(preds)} predictions for {len(examples)} examples")
            results = score_predictions(preds, examples, metric)
            write_predictions(args.output_dir, preds, nbest, null_diff if args.version_2_with_negative else None,
                              prefix="" if tag == "final" else f"{tag}_")
        model.train()
        eval_seconds += time.time() - t_eval
        return results

    loss_sum, loss_n, t0 = 0.0, 0, time.time()
    model.train()
    # A checkpoint saved after the final step (killed before the model was written): nothing left to train.
    epochs = range(start_epoch, num_epochs) if completed_steps < args.max_train_steps else range(0)
    for epoch in epochs:
        sampler.set_epoch(epoch)
        train_loader.set_epoch(epoch)
        loader = train_loader
        batches_in_epoch = 0
        if epoch == start_epoch and skip_batches:
            loader = accelerator.skip_first_batches(train_loader, skip_batches)
            loader.set_epoch(epoch)
            batches_in_epoch = skip_batches
        for batch in _rng_neutral(loader):
            with accelerator.accumulate(model):
                loss, stats = objective(model(**batch), batch, completed_steps)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"non-finite loss at step {completed_steps} (epoch {epoch}); "
                                             "lower --learning_rate or use fp32")
                accelerator.backward(loss)
                if accelerator.sync_gradients and args.max_grad_norm:
                    accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                if accelerator.sync_gradients and not args.keep_optimizer_state and objective.switched(completed_steps):
                    reset_adam_moments(optimizer)
                    logger.info("step %d: objective switched; AdamW moments reset", completed_steps)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            batches_in_epoch += 1
            loss_sum, loss_n = loss_sum + loss.item(), loss_n + 1
            if not accelerator.sync_gradients:
                continue
            completed_steps += 1
            progress.update(1)
            record = {"step": completed_steps, "epoch": epoch, "loss": loss.item(),
                      "objective": "start_end_ce" if "start_end_ce" in stats else objective.phase(completed_steps - 1),
                      "lr": scheduler.get_last_lr()[0], **stats}
            if accelerator.is_main_process:
                _log_jsonl(log_path, record)
            if args.with_tracking:
                accelerator.log({k: v for k, v in record.items() if k not in ("step", "objective")}, step=completed_steps)
            if completed_steps % args.logging_steps == 0 or completed_steps == args.max_train_steps:
                progress.set_postfix(loss=f"{loss_sum / max(loss_n, 1):.4f}", obj=record["objective"],
                                     **({"eF1": f"{stats['expected_f1']:.3f}"} if "expected_f1" in stats else {}))
                loss_sum, loss_n = 0.0, 0
            if str(args.checkpointing_steps).isdigit() and completed_steps % int(args.checkpointing_steps) == 0:
                save_checkpoint(accelerator, args, {"completed_steps": completed_steps, "epoch": epoch,
                                                    "batches_in_epoch": batches_in_epoch})
            if args.eval_steps and eval_examples is not None and completed_steps % args.eval_steps == 0 \
                    and completed_steps < args.max_train_steps:
                res = run_eval(f"step_{completed_steps}")
                if accelerator.is_main_process:
                    _log_jsonl(eval_log_path, {"step": completed_steps, **res})
                    logger.info("step %d eval: %s", completed_steps, res)
            if completed_steps >= args.max_train_steps:
                break
        if args.checkpointing_steps == "epoch":
            save_checkpoint(accelerator, args, {"completed_steps": completed_steps, "epoch": epoch + 1,
                                                "batches_in_epoch": 0})
        if args.eval_every_epoch and eval_examples is not None and epoch < num_epochs - 1:
            res = run_eval(f"epoch_{epoch}")
            if accelerator.is_main_process:
                _log_jsonl(eval_log_path, {"step": completed_steps, "epoch": epoch, **res})
                logger.info("epoch %d eval: %s", epoch, res)
        if completed_steps >= args.max_train_steps:
            break
    progress.close()
    train_seconds = time.time() - t0 - eval_seconds
    if accelerator.is_main_process:  # as transformers' Trainer: timing of the training alone, eval or not
        write_json_atomic(os.path.join(args.output_dir, "train_results.json"), {
            "train_seconds": round(train_seconds, 1), "train_steps": completed_steps,
            "train_windows_per_second": round(completed_steps * total_batch / max(train_seconds, 1e-9), 2),
            "mixed_precision": args.mixed_precision})

    # ---- save, then evaluate
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model)
        # the folder answers later as it was evaluated here (Reader and predict.py read these settings)
        store_settings(unwrapped.config, settings_from_args(args, lang))
        unwrapped.save_pretrained(args.output_dir, tokenizer=tokenizer, state_dict=accelerator.get_state_dict(model))
        write_json_atomic(os.path.join(args.output_dir, "training_args.json"),
                          {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool, type(None)))})
    else:
        accelerator.get_state_dict(model)  # collective under FSDP/DeepSpeed
    results: dict[str, Any] = {}
    if eval_examples is not None:
        results = run_eval("final")
        if accelerator.is_main_process:
            results = {**results, "train_seconds": round(train_seconds, 1), "train_steps": completed_steps,
                       "train_windows": len(train_features), "eval_examples": len(eval_examples),
                       "train_windows_per_second": round(completed_steps * total_batch / max(train_seconds, 1e-9), 2),
                       "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
            write_json_atomic(os.path.join(args.output_dir, "eval_results.json"), results)
            _log_jsonl(eval_log_path, {"step": completed_steps, **results})
            logger.info("eval results: %s", json.dumps(results))
    if args.with_tracking:
        accelerator.end_training()
    return results
