"""Command-line arguments of scripts/train.py: the flags of the transformers question-answering examples, plus the
method's own (architecture, objective, decoding, reward weight, the seed's recipe `--objective f1` with
--entropy_lambda and --warm_start_steps). Every flag is a field of the configuration (training/config.py), which
holds its type, default and help; this module builds the parser from the fields and resolves the defaults that
depend on something (`resolve`). The research flags are gp_mrc_lab's (gp_mrc_lab/train_variant.py). Imports
nothing heavy, so `--help` and argument errors come back at once."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..argtypes import Parser, check_output_dir
from ..defaults import SAMPLE_DEV_FILE, SAMPLE_TRAIN_FILE, default_encoder_path
from ..errors import UsageError
from ..flags import add_flags, architecture_defaults
from .config import PARTS, ModelConfig, TrainConfig, folder_architecture

# the built-in sample's recipe (README: time and EM/F1 measured)
SAMPLE_EPOCHS, SAMPLE_LEARNING_RATE, SAMPLE_MAX_SEQ_LENGTH = 3, 1e-4, 256
# half the sample's questions also asked over another article's passage: its passages fit one window, so without
# them the null span never learns and the reader cannot rank passages (3 epochs keep the run ~2.5 minutes)
SAMPLE_NEGATIVE_PASSAGES = 0.5
GROUPS = {
    "data": "data",
    "inference": "windows and decoding (saved with the model)",
    "model": "model",
    "objective": "objective",
    "optim": "optimization",
    "eval": "evaluation",
    "run": "run",
}


def build_parser(
    research: bool = False,
    description: str = "Fine-tune a GlobalPointer reader on SQuAD-style data.",
    prog: str | None = None,
) -> argparse.ArgumentParser:
    """train.py's parser, one group per configuration part. research=True (gp_mrc_lab): the research flags too, in
    a group of their own; `prog`: the command the usage lines name (gp-mrc train)."""
    # no abbreviations: a research flag given to train.py (e.g. --reward) is unknown, not another flag's prefix
    p = Parser(prog=prog, description=description, allow_abbrev=False)
    for name, part in PARTS.items():
        add_flags(p.add_argument_group(GROUPS[name]), part)
    if research:
        group = p.add_argument_group(
            "research",
            "the recipe's parts, as the study (scripts/study.py) and the "
            "benchmarks vary them; the defaults are the best recipe measured (BENCHMARKS.md)",
        )
        for part in PARTS.values():
            add_flags(group, part, research=True)
    return p


def parse_args(argv: list[str] | None = None, prog: str | None = None) -> TrainConfig:
    """The run's configuration (see gp_mrc/training/config.py); errors are one line, exit 2."""
    parser = build_parser(prog=prog)
    try:
        return resolve(vars(parser.parse_args(argv)))
    except (ValueError, UsageError) as e:
        parser.error(str(e))


def resolve(given: dict[str, Any]) -> TrainConfig:
    """Flag values (None: not given) → the configuration: the defaults that depend on other flags or on the model
    folder (decided here, once; the rest are the fields'), then the checks that span several flags."""
    v = dict(given)
    on_sample = v["train_file"] is None and v["dataset_name"] is None
    if on_sample:
        v["train_file"] = [SAMPLE_TRAIN_FILE]
        v["validation_file"] = v["validation_file"] or SAMPLE_DEV_FILE
        if v["negative_passages"] is None:
            v["negative_passages"] = SAMPLE_NEGATIVE_PASSAGES
    # the built-in sample's recipe, unless its length is given: short passages, a few minutes on 2 CPU cores
    if on_sample and v["num_train_epochs"] is None and v["max_train_steps"] is None:
        for flag, value in (
            ("num_train_epochs", SAMPLE_EPOCHS),
            ("learning_rate", SAMPLE_LEARNING_RATE),
            ("max_seq_length", SAMPLE_MAX_SEQ_LENGTH),
        ):
            v[flag] = value if v[flag] is None else v[flag]
    v["train_file"] = tuple(v["train_file"]) if v["train_file"] else None
    v["model_name_or_path"] = v["model_name_or_path"] or default_encoder_path()
    v["architecture"] = v["architecture"] or folder_architecture(v["model_name_or_path"]) or ModelConfig.architecture
    if v["architecture"] == "start_end" and v["objective"] not in (None, "multilabel"):
        raise UsageError(
            "--architecture start_end trains with its own start/end cross-entropy; leave --objective at its default"
        )
    for part in PARTS.values():  # the defaults by architecture, written on their fields (e.g. decoding)
        for flag, value in architecture_defaults(part, v["architecture"]).items():
            v[flag] = value if v.get(flag) is None else v[flag]
    for flag, path in [("--train_file", f) for f in v["train_file"] or ()] + [
        ("--validation_file", v["validation_file"])
    ]:
        if path and os.path.isdir(path):  # else a raw "[Errno 21] Is a directory" once loading starts
            raise UsageError(f"{flag} {path}: is a directory; give a JSON or JSONL file")
    check_output_dir(v["output_dir"])
    return TrainConfig.from_values(v)
