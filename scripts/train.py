#!/usr/bin/env python
"""Fine-tune a GlobalPointer reader. `accelerate launch scripts/train.py --help` lists the flags.

With no data named it trains the packaged all-MiniLM-L6-v2 on data/sample_train.json and evaluates on
data/sample_dev.json (a few minutes on 2 CPU cores).
"""

from gp_mrc.training import parse_args, train

if __name__ == "__main__":
    train(parse_args())
