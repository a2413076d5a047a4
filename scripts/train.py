#!/usr/bin/env python
"""Fine-tune a GlobalPointer reader. `accelerate launch scripts/train.py --help` lists the flags.

With no data named it trains the packaged all-MiniLM-L6-v2 on data/sample_train.json and evaluates on
data/sample_dev.json (a few minutes on 2 CPU cores).
"""

from gp_mrc.arguments import parse_args
from gp_mrc.errors import run_script


def main() -> None:
    args = parse_args()  # --help and argument errors before torch and transformers load
    from gp_mrc.training import train

    train(args)


if __name__ == "__main__":
    run_script(main)
