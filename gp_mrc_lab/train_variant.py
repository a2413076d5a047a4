"""The study's training entry: scripts/train.py's command line plus the research flags (the recipe's parts the
study varies, and the rejected variants of gp_mrc_lab/objectives.py), built from the same configuration fields;
the TrainConfig it resolves runs the same training (gp_mrc.training.loop.train).

    python -m gp_mrc_lab.train_variant --help
    python -m gp_mrc_lab.train_variant --objective f1 --reward soft_f1 --soft_f1_tau 0.3 --output_dir runs/x
"""

from __future__ import annotations

import argparse
import dataclasses

from gp_mrc.errors import UsageError, run_script
from gp_mrc.training import arguments
from gp_mrc.flags import add_flags
from gp_mrc.training.config import PARTS, TrainConfig

from .objectives import LAB_PARTS, check, lab_batch_loss, lab_model_fn


def build_parser() -> argparse.ArgumentParser:
    """train.py's parser with the research flags, plus the lab's own fields (the rejected variants' switches)."""
    p = arguments.build_parser(
        research=True, description="Train a study variant: train.py's flags and the research flags."
    )
    group = p.add_argument_group("the lab's variants (gp_mrc_lab/objectives.py)")
    for name, part in LAB_PARTS.items():
        add_flags(group, part, research=None, only=lab_fields(name))
    return p


def lab_fields(name: str) -> tuple[str, ...]:
    """The fields the lab's part `name` adds to the product's."""
    product = {f.name for f in dataclasses.fields(PARTS[name])}
    return tuple(f.name for f in dataclasses.fields(LAB_PARTS[name]) if f.name not in product)


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """The product's configuration of the flags, its parts replaced by the lab's with the lab's fields."""
    parser = build_parser()
    try:
        values = vars(parser.parse_args(argv))
        config = arguments.resolve(values)
        lab = {
            name: part(
                **dataclasses.asdict(getattr(config, name)),
                **{f: values[f] for f in lab_fields(name) if values.get(f) is not None},
            )
            for name, part in LAB_PARTS.items()
        }
        config = dataclasses.replace(config, **lab)
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
