"""The training command of one run of a study (variant, seed) and where its folders and result file go. Runs
train through gp_mrc_lab/train_variant.py (scripts/train.py's flags and the research ones), `python -m
gp_mrc_lab.train_variant ...` from the project root; runs before it used scripts/train.py with the same flags."""

from __future__ import annotations

import os

from .paths import RESULTS, ROOT, RUNS
from .studies import STUDIES, Study
from .variants import VARIANTS, Variant

ENTRY = ["-m", "gp_mrc_lab.train_variant"]  # what `python` runs (the same flags as scripts/train.py, and more)
LEGACY_ENTRY = ["scripts/train.py"]  # what it ran before the research flags left train.py


def run_dir(study: str, variant: str, seed: int) -> str:
    return os.path.join(RUNS, study, f"{variant}-seed{seed}")


def result_path(study: str, variant: str, seed: int) -> str:
    return os.path.join(RESULTS, study, f"{variant}-seed{seed}.json")


def steps_of(study: Study) -> int:
    if study.steps:
        return study.steps
    raise SystemExit("this study's step count is not fixed yet: run its trunk once and set Study.steps")


def branch_step(study: Study, v: Variant) -> int:
    quarter = steps_of(study) // 4
    return int(round(v.at * 4)) * quarter


def command(study_name: str, variant: str, seed: int) -> list[str]:
    """The argument list of `python` for one run (paths relative to the project root)."""
    study, v = STUDIES[study_name], VARIANTS[variant]
    train_files = (study.train_file,) if isinstance(study.train_file, str) else study.train_file
    cmd = [
        *ENTRY,
        *encoder_flags(study),
        *init_flags(study, v, variant, seed),
        "--train_file",
        *(os.path.relpath(f, ROOT) for f in train_files),
        "--validation_file",
        os.path.relpath(study.validation_file, ROOT),
        *(["--max_train_samples", str(study.max_train_samples)] if study.max_train_samples else []),
        *study.flags,
        "--seed",
        str(seed),
        *v.flags,
    ]
    if v.trunk:
        cmd += ["--checkpointing_steps", str(steps_of(study) // 4), "--save_total_limit", "4"]
    if v.parent:
        step = branch_step(study, v)
        ckpt = os.path.join(run_dir(study_name, v.parent, seed), "checkpoints", f"step_{step}")
        cmd += ["--warm_start_steps", str(step), "--resume_from_checkpoint", os.path.relpath(ckpt, ROOT)]
    return cmd + ["--output_dir", os.path.relpath(run_dir(study_name, variant, seed), ROOT)]


def init_folder(study: Study, v: Variant, variant: str, seed: int) -> str | None:
    """The model folder a run of a study with `init_from` starts from: that study's run of the same variant (a
    branch: of its trunk, whose checkpoint it resumes) and seed."""
    return run_dir(study.init_from, v.parent or variant, seed) if study.init_from else None


def encoder_flags(study: Study) -> list[str]:
    if not study.encoder:
        return []
    from .encoders import OPTIONAL_ENCODERS, optional_encoder_path

    if study.encoder not in OPTIONAL_ENCODERS:  # a folder, relative to the repository root
        if not os.path.isdir(os.path.join(ROOT, study.encoder)):
            raise SystemExit(f"error: {study.encoder}: no such encoder folder (studies.py says how to write it)")
        return ["--model_name_or_path", study.encoder]
    try:
        return ["--model_name_or_path", optional_encoder_path(study.encoder)]
    except FileNotFoundError as e:
        raise SystemExit(f"error: {e}") from None


def init_flags(study: Study, v: Variant, variant: str, seed: int) -> list[str]:
    folder = init_folder(study, v, variant, seed)
    return ["--model_name_or_path", os.path.relpath(folder, ROOT)] if folder else []
