#!/usr/bin/env python
"""Fine-tune a GlobalPointer reader. `accelerate launch scripts/train.py --help` lists the flags.

With no data named it trains the packaged all-MiniLM-L6-v2 on data/sample_train.json and evaluates on
data/sample_dev.json (a few minutes on 2 CPU cores). The same command as `gp-mrc train` (gp_mrc/cli.py).
"""

import sys

from gp_mrc.cli import train_main

if __name__ == "__main__":
    sys.exit(train_main())
