"""The study's training entry: scripts/train.py's command line plus the research flags (the recipe's parts the
study varies, and the rejected variants of gp_mrc_lab/objectives.py), built from the same configuration fields;
the TrainConfig it resolves runs the same training (gp_mrc.training.loop.train).

    python -m gp_mrc_lab.train_variant --help
    python -m gp_mrc_lab.train_variant --objective f1 --reward soft_f1 --soft_f1_tau 0.3 --output_dir runs/x
"""

from __future__ import annotations

import argparse

from gp_mrc.errors import UsageError, run_script
from gp_mrc.training import arguments
from gp_mrc.training.config import TrainConfig

from .objectives import LAB_PARTS, check, lab_batch_loss, lab_model_fn


def build_parser() -> argparse.ArgumentParser:
    return arguments.build_parser(
        research=True, parts=LAB_PARTS, description="Train a study variant: train.py's flags and the research flags."
    )


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    parser = build_parser()
    try:
        config = arguments.resolve(vars(parser.parse_args(argv)), LAB_PARTS)
        check(config)
        return config
    except (ValueError, UsageError) as e:
        parser.error(str(e))


def train(config: TrainConfig) -> dict:
    """The product's training recipe with the lab's components (its model switches and its variants' loss)."""
    from gp_mrc.training.loop import train as recipe

    return recipe(config, model_fn=lab_model_fn, loss_fn=lab_batch_loss)


def main(argv: list[str] | None = None) -> int:
    train(parse_args(argv))
    return 0


if __name__ == "__main__":
    run_script(main)
