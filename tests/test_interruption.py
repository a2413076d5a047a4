"""A run killed with SIGKILL after a checkpoint resumes and continues exactly as the uninterrupted run:
same step count, same per-step losses and learning rates (optimizer, scheduler, RNG and data position
restored, no batch repeated or skipped); a half-written checkpoint never becomes `latest`."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from gp_mrc.training import find_checkpoint, parse_args, train
from test_train_e2e import ROOT, write_toy_data

STEPS, EVERY = 40, 10


def run_args(encoder, data, out, *extra):
    return ["--model_name_or_path", encoder, "--train_file", data, "--max_seq_length", "64", "--doc_stride", "16",
            "--per_device_train_batch_size", "4", "--max_train_steps", str(STEPS), "--learning_rate", "1e-3",
            "--num_warmup_steps", "10", "--output_dir", out, "--seed", "3", "--do_eval", "no",
            "--checkpointing_steps", str(EVERY), "--save_total_limit", "2", "--logging_steps", "1000", *extra]


def read_log(out):
    by_step = {}
    with open(os.path.join(out, "train_log.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            by_step[r["step"]] = r  # a step re-run after resume overwrites the killed run's record
    return by_step


@pytest.mark.slow
def test_sigkill_then_resume_continues_the_same_run(tiny_encoder_dir, tmp_path):
    data = write_toy_data(tmp_path / "toy.jsonl", n=60)
    killed = str(tmp_path / "killed")
    env = {**os.environ, "PYTHONPATH": ROOT}
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "train.py"),
                             *run_args(tiny_encoder_dir, data, killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    pointer = os.path.join(killed, "checkpoints", "latest")
    deadline = time.time() + 300
    while not os.path.exists(pointer) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed: " + proc.stderr.read().decode()[-2000:]
    with open(pointer) as f:
        resumed_from = int(f.read().strip().split("_")[1])
    assert resumed_from < STEPS
    # a kill during a later save would leave a temporary folder: it must never be taken for a checkpoint
    os.makedirs(os.path.join(killed, "checkpoints", f".tmp-step_{resumed_from + EVERY}"))
    assert find_checkpoint(parse_args(run_args(tiny_encoder_dir, data, killed, "--resume_from_checkpoint", "latest"))) \
        == os.path.join(killed, "checkpoints", f"step_{resumed_from}")

    train(parse_args(run_args(tiny_encoder_dir, data, killed, "--resume_from_checkpoint", "latest")))
    reference = str(tmp_path / "reference")
    train(parse_args(run_args(tiny_encoder_dir, data, reference)))

    got, want = read_log(killed), read_log(reference)
    assert sorted(got) == sorted(want) == list(range(1, STEPS + 1))  # the same final step count, no gap
    for step in range(resumed_from + 1, STEPS + 1):
        assert got[step]["lr"] == pytest.approx(want[step]["lr"], rel=1e-9), step
        assert got[step]["loss"] == pytest.approx(want[step]["loss"], rel=1e-4, abs=1e-6), step


def test_resume_from_an_incomplete_folder_is_refused(tiny_encoder_dir, tmp_path):
    broken = tmp_path / "checkpoints" / "step_5"
    broken.mkdir(parents=True)  # no trainer_state.json: the save never finished
    args = parse_args(["--model_name_or_path", tiny_encoder_dir, "--output_dir", str(tmp_path),
                       "--resume_from_checkpoint", str(broken)])
    with pytest.raises(SystemExit, match="not a complete checkpoint"):
        find_checkpoint(args)
