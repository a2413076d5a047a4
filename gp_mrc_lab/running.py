"""Running a study: each run is gp_mrc_lab/train_variant.py (train.py with the research flags) in a subprocess,
trunks before their branches, a finished run stamped with its command so that it is never trained twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from gp_mrc.atomic import write_text_atomic

from .commands import ENTRY, LEGACY_ENTRY, branch_step, command, init_folder, result_path, run_dir
from .paths import ROOT
from .results import collect_one
from .studies import STUDIES
from .variants import VARIANTS


def run(study_name: str, variant: str, seed: int) -> None:
    """Train one run unless its result file exists (parents first); then write its result file."""
    if os.path.exists(result_path(study_name, variant, seed)):
        print(f"[{variant} seed {seed}] result exists", flush=True)
        return
    v = VARIANTS[variant]
    study = STUDIES[study_name]
    folder = init_folder(study, v, variant, seed)
    if folder and not os.path.exists(os.path.join(folder, "config.json")):
        run(study.init_from, v.parent or variant, seed)
        if not os.path.exists(os.path.join(folder, "config.json")):
            raise SystemExit(
                f"[{variant} seed {seed}] the model folder {folder} to start from is missing (run on "
                f"another machine?): delete its result file in {study.init_from} and rerun it here"
            )
    if v.parent:
        parent_ckpt = os.path.join(run_dir(study_name, v.parent, seed), "checkpoints", f"step_{branch_step(study, v)}")
        if not os.path.isdir(parent_ckpt):
            run(study_name, v.parent, seed)
        if not os.path.isdir(parent_ckpt):
            raise SystemExit(
                f"[{variant} seed {seed}] the trunk checkpoint {parent_ckpt} is missing (trunk run "
                "on another machine?): delete the trunk's result file and rerun it here"
            )
    out = run_dir(study_name, variant, seed)
    cmd = command(study_name, variant, seed)
    if not finished(out, STAMP, cmd):
        # a killed trunk resumes from its own checkpoints; a branch restarts from its trunk's
        cmd_run = cmd + (["--resume_from_checkpoint", "latest"] if v.trunk else [])
        train_in_subprocess(
            cmd_run, out, f"[{variant} seed {seed}]", fresh_logs=bool(v.parent), log_mode="a", stamp=(STAMP, cmd)
        )
    collect_one(study_name, variant, seed)


STAMP = "study_command.json"  # written last: the run finished with exactly this command
LOG_FILES = ("eval_log.jsonl", "train_log.jsonl")


def finished(out: str, stamp: str, argv: list[str]) -> bool:
    """A run folder that holds eval_results.json and a stamp equal to `argv` (the training command's arguments;
    a run stamped with scripts/train.py and the same flags counts: the same configuration)."""
    path = os.path.join(out, stamp)
    if not (os.path.exists(os.path.join(out, "eval_results.json")) and os.path.exists(path)):
        return False
    with open(path) as f:
        stamped = json.load(f)
    return stamped in (argv, LEGACY_ENTRY + argv[len(ENTRY) :])


def train_in_subprocess(
    argv: list[str],
    out: str,
    label: str,
    *,
    fresh_logs: bool,
    log_mode: str,
    stamp: tuple[str, list[str]],
    cwd: str = ROOT,
) -> None:
    """`python <argv>` (the training entry and its flags) with its output in <out>/train.log; on success the stamp
    file (name, content) is written. fresh_logs: drop the jsonl logs a previous attempt left."""
    os.makedirs(out, exist_ok=True)
    if fresh_logs:
        for stale in LOG_FILES:
            if os.path.exists(os.path.join(out, stale)):
                os.remove(os.path.join(out, stale))
    print(f"{label} python {' '.join(argv)}", flush=True)
    t = time.time()
    with open(os.path.join(out, "train.log"), log_mode) as log:
        r = subprocess.run([sys.executable, *argv], cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    if r.returncode:
        raise SystemExit(f"{label} failed (exit {r.returncode}); see {out}/train.log")
    write_text_atomic(os.path.join(out, stamp[0]), json.dumps(stamp[1]))
    print(f"{label} trained in {time.time() - t:.0f}s", flush=True)
