#!/usr/bin/env python
"""Fine-tune a GlobalPointer reader. `accelerate launch scripts/train.py --help` lists the flags.

With no data named it trains the packaged all-MiniLM-L6-v2 on data/sample_train.json and evaluates on
data/sample_dev.json (a few minutes on 2 CPU cores). The same command as `gp-mrc train` (gp_mrc/cli.py).
"""

from gp_mrc.cli import train_main
from gp_mrc.errors import run_script

if __name__ == "__main__":
    run_script(train_main)
