"""Interruption: a training run killed with SIGKILL resumes from its last checkpoint and ends exactly where the
uninterrupted run ends — same per-step losses (optimizer, scheduler, RNG and data position restored; no
batch repeated or skipped), each step logged once. Checkpoints are atomic: a `.tmp-step_N` folder left by a
kill during a save is never taken for a checkpoint."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from gp_mrc.errors import UsageError
from gp_mrc.training.arguments import parse_args
from gp_mrc.training.checkpointing import STATE_FILE, find_checkpoint
from gp_mrc.training.loop import train

from conftest import research_parse_args, tiny_train_args, write_toy_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_SCRIPT = os.path.join(ROOT, "scripts", "train.py")
STEPS, EVERY, PAUSE_AT = 12, 4, 6  # 24 windows / batch 4 = 6 steps an epoch: checkpoints mid-epoch and at its end

# scripts/train.py, run as is, except that after logging step PAUSE_AT it signals the test and waits to be killed
# (so the kill lands after the step-4 checkpoint and after two more logged steps, every time).
PAUSING_RUNNER = """
import os, runpy, sys, time
import gp_mrc.training.loop as training
log = training.log_jsonl
def log_then_wait(path, record):
    log(path, record)
    if path.endswith("train_log.jsonl") and record["step"] == int(os.environ["PAUSE_AT_STEP"]):
        open(os.environ["PAUSE_FLAG"], "w").close()
        time.sleep(600)
training.log_jsonl = log_then_wait
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def train_args(encoder, data, out, *extra):
    """The runs of this module: batches of 4, checkpoints every EVERY steps, the multilabel objective unless
    `extra` names one."""
    flags = f"--per_device_train_batch_size 4 --max_train_steps {STEPS} --learning_rate 1e-3 --seed 7"
    flags += f" --checkpointing_steps {EVERY} --logging_steps 1"
    objective = () if "--objective" in extra else ("--objective", "multilabel")
    return tiny_train_args(encoder, data, out, flags, *objective, *extra)


def losses(out):
    with open(os.path.join(out, "train_log.jsonl")) as f:
        records = [json.loads(line) for line in f]
    return [r["step"] for r in records], {r["step"]: r["loss"] for r in records}


def weights(out):
    return load_file(os.path.join(out, "model.safetensors"))


def assert_same_weights(a, b, atol):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=0, atol=atol, msg=k)


@contextlib.contextmanager
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def env():
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")


@pytest.fixture(scope="module")
def uninterrupted(tiny_encoder_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("resume")
    data = write_toy_data(d / "toy.jsonl", n=24)
    out = d / "uninterrupted"
    with one_thread():  # as in the subprocesses, so that float sums are done in the same order
        train(parse_args(train_args(tiny_encoder_dir, data, out)))
    steps, loss = losses(out)
    assert steps == list(range(1, STEPS + 1))
    return SimpleNamespace(dir=d, data=data, out=out, loss=loss)


@pytest.mark.slow
def test_killed_run_resumes_from_latest_with_the_same_losses(tiny_encoder_dir, uninterrupted):
    d, out = uninterrupted.dir, uninterrupted.dir / "killed"
    flag, stderr_path = d / "paused", d / "killed.stderr"
    runner = d / "pausing_runner.py"
    runner.write_text(PAUSING_RUNNER)
    with open(stderr_path, "w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(runner), TRAIN_SCRIPT, *train_args(tiny_encoder_dir, uninterrupted.data, out)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=dict(env(), PAUSE_AT_STEP=str(PAUSE_AT), PAUSE_FLAG=str(flag)),
        )
        try:
            deadline = time.time() + 300
            while not flag.exists():
                assert proc.poll() is None, stderr_path.read_text()[-3000:]
                assert time.time() < deadline, "the run never reached step %d" % PAUSE_AT
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    root = out / "checkpoints"
    assert (root / "latest").read_text() == "step_4" and sorted(os.listdir(root)) == ["latest", "step_4"]
    assert losses(out)[0] == list(range(1, PAUSE_AT + 1))  # steps 5 and 6 were done, then lost
    # a kill during the next save would have left this behind: it must not be taken for a checkpoint
    (root / ".tmp-step_8").mkdir()
    (root / ".tmp-step_8" / "model.safetensors").write_bytes(b"half-written")

    resume = train_args(tiny_encoder_dir, uninterrupted.data, out, "--resume_from_checkpoint", "latest")
    r = subprocess.run(
        [sys.executable, TRAIN_SCRIPT, *resume],
        capture_output=True,
        text=True,
        env=env(),
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resumed from" in r.stderr and "step_4 at step 4 (epoch 0, batch 4)" in r.stderr
    steps, loss = losses(out)
    assert steps == list(range(1, STEPS + 1))  # every step logged exactly once: 5 and 6 are not doubled
    for step in range(1, STEPS + 1):
        assert loss[step] == pytest.approx(uninterrupted.loss[step], rel=1e-4, abs=1e-5), step
    assert_same_weights(out, uninterrupted.out, atol=1e-5)
    assert not any(name.startswith(".tmp") for name in os.listdir(root))  # the leftover was cleaned up
    assert (root / "latest").read_text() == f"step_{STEPS}"


def test_resume_from_a_checkpoint_path(tiny_encoder_dir, uninterrupted):
    """--resume_from_checkpoint <folder> (step 8: epoch 1, batch 2) into a fresh output folder: steps 9-12
    repeat the uninterrupted run's losses exactly (same process, same threads)."""
    out = uninterrupted.dir / "from_path"
    step_8 = str(uninterrupted.out / "checkpoints" / "step_8")
    with one_thread():
        train(parse_args(train_args(tiny_encoder_dir, uninterrupted.data, out, "--resume_from_checkpoint", step_8)))
    steps, loss = losses(out)
    assert steps == [9, 10, 11, 12]
    assert [loss[s] for s in steps] == pytest.approx([uninterrupted.loss[s] for s in steps], rel=1e-6)
    assert_same_weights(out, uninterrupted.out, atol=1e-6)


def test_resume_after_the_last_step_trains_no_further(tiny_encoder_dir, uninterrupted):
    """A run of 8 steps killed after its final checkpoint (mid-epoch) but before the model was written:
    resuming trains no further step and writes the checkpoint's model."""
    out = uninterrupted.dir / "after_last"
    step_8 = uninterrupted.out / "checkpoints" / "step_8"
    args = train_args(tiny_encoder_dir, uninterrupted.data, out, "--resume_from_checkpoint", str(step_8))
    args[args.index("--max_train_steps") + 1] = "8"
    train(parse_args(args))
    assert not os.path.exists(out / "train_log.jsonl")
    saved, checkpointed = weights(out), load_file(os.path.join(step_8, "model.safetensors"))
    assert saved.keys() == checkpointed.keys()
    assert all(torch.equal(saved[k], checkpointed[k]) for k in saved)


def make_checkpoint(root, name, complete=True):
    os.makedirs(root / name)
    if complete:
        (root / name / STATE_FILE).write_text("{}")


def test_latest_ignores_temporary_and_incomplete_folders(tmp_path):
    root = tmp_path / "checkpoints"
    args = SimpleNamespace(output_dir=str(tmp_path), resume_from_checkpoint="latest")
    assert find_checkpoint(args) is None  # nothing yet: start from scratch
    make_checkpoint(root, "step_4")
    make_checkpoint(root, ".tmp-step_8")  # killed after writing its state, before the rename
    make_checkpoint(root, "step_12", complete=False)  # cannot happen with renames; must not be trusted anyway
    (root / "latest").write_text("step_4")
    assert find_checkpoint(args) == str(root / "step_4")
    (root / "latest").unlink()  # killed between the rename and the pointer write
    assert find_checkpoint(args) == str(root / "step_4")
    make_checkpoint(root, "step_10")
    assert find_checkpoint(args) == str(root / "step_10")  # the newest complete one
    (root / "latest").write_text("step_99")  # a pointer to a folder that is gone
    assert find_checkpoint(args) == str(root / "step_10")
    with pytest.raises(UsageError, match="not a complete checkpoint"):
        find_checkpoint(
            SimpleNamespace(output_dir=str(tmp_path), resume_from_checkpoint=str(root / ".tmp-step_8") + "-missing")
        )
    with pytest.raises(UsageError, match="not a complete checkpoint"):
        find_checkpoint(SimpleNamespace(output_dir=str(tmp_path), resume_from_checkpoint=str(root / "step_12")))


def test_a_branch_from_a_warm_start_checkpoint_equals_the_whole_run(tiny_encoder_dir, uninterrupted):
    """The study's branching: resuming the multilabel run's step-8 checkpoint with a reward objective that starts
    at step 8 gives exactly the losses of one run trained with that objective from the start (the warm start is
    the same multilabel loss, the data order, schedule and RNG continue)."""
    branch_flags = ["--objective", "f1", "--warm_start_steps", "8"]
    whole, branch = uninterrupted.dir / "whole_f1", uninterrupted.dir / "branch_f1"
    step_8 = str(uninterrupted.out / "checkpoints" / "step_8")
    with one_thread():
        train(parse_args(train_args(tiny_encoder_dir, uninterrupted.data, whole, *branch_flags)))
        resumed = train_args(
            tiny_encoder_dir, uninterrupted.data, branch, *branch_flags, "--resume_from_checkpoint", step_8
        )
        train(parse_args(resumed))
    _, loss_whole = losses(whole)
    steps, loss_branch = losses(branch)
    assert steps == list(range(9, STEPS + 1))
    assert [loss_branch[s] for s in steps] == pytest.approx([loss_whole[s] for s in steps], rel=1e-6)
    assert [loss_whole[s] for s in range(1, 9)] == pytest.approx([uninterrupted.loss[s] for s in range(1, 9)], rel=1e-6)
    assert_same_weights(branch, whole, atol=1e-6)


def test_a_checkpoint_of_another_model_is_one_clear_error(tiny_encoder_dir, uninterrupted):
    """A GlobalPointer run's checkpoint resumed as a start/end run, or with another head: a UsageError naming the
    difference (scripts/train.py prints it as one line, exit 2), before any weight is loaded."""
    resume = ("--resume_from_checkpoint", str(uninterrupted.out / "checkpoints" / "step_8"))
    for extra, fragment in (
        (("--architecture", "start_end"), "StartEndForQuestionAnswering"),
        (("--head_size", "8"), "head"),
    ):
        with pytest.raises(UsageError, match=f"belongs to another model .*{fragment}"):
            train(
                research_parse_args(
                    train_args(tiny_encoder_dir, uninterrupted.data, uninterrupted.dir / "other", *resume, *extra)
                )
            )


def test_an_old_checkpoint_that_does_not_fit_is_one_clear_error(tiny_encoder_dir, uninterrupted):
    """A checkpoint saved before signatures were (no "model" in its state file) whose weights do not fit: the
    state_dict RuntimeError becomes one UsageError line."""
    old = uninterrupted.dir / "old_checkpoint"
    shutil.copytree(uninterrupted.out / "checkpoints" / "step_8", old)
    state = json.loads((old / STATE_FILE).read_text())
    del state["model"]
    (old / STATE_FILE).write_text(json.dumps(state))
    resume = ("--resume_from_checkpoint", str(old), "--head_size", "8")
    with pytest.raises(UsageError, match="its weights do not fit this run's model"):
        train(research_parse_args(train_args(tiny_encoder_dir, uninterrupted.data, uninterrupted.dir / "old", *resume)))


def test_an_evaluation_at_a_checkpoint_does_not_change_the_resumed_run(tiny_encoder_dir, tmp_path):
    """--eval_steps at the checkpointed steps: the evaluation's loader draws its seed from torch's global generator,
    so unless the evaluation leaves that generator as it found it, a run resumed from step 4 (which does not repeat
    step 4's evaluation) trains on with other dropout masks than the uninterrupted run."""
    data = write_toy_data(tmp_path / "toy.jsonl", n=24)
    flags = f"--per_device_train_batch_size 4 --max_train_steps 8 --learning_rate 1e-3 --seed 7 --checkpointing_steps {EVERY}"
    flags += f" --logging_steps 1 --eval_steps {EVERY} --objective multilabel"
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    with one_thread():
        train(research_parse_args(tiny_train_args(tiny_encoder_dir, data, whole, flags, validate=True)))
        step_4 = str(whole / "checkpoints" / "step_4")
        resume = tiny_train_args(
            tiny_encoder_dir, data, resumed, flags, "--resume_from_checkpoint", step_4, validate=True
        )
        train(research_parse_args(resume))
    with open(whole / "eval_log.jsonl") as f:
        assert [json.loads(line)["step"] for line in f] == [4, 8]  # at the checkpoint, and the final one
    steps, loss = losses(resumed)
    assert steps == [5, 6, 7, 8]
    assert [loss[s] for s in steps] == pytest.approx([losses(whole)[1][s] for s in steps], rel=1e-6)
