#!/usr/bin/env python
"""Score a model folder on a labelled file (`--help` lists the flags); the same command as `gp-mrc evaluate`.

    python scripts/evaluate.py --model runs/gp_mrc --file dev-v1.1.json --output_dir eval/
    accelerate launch --multi_gpu scripts/evaluate.py --model runs/gp_mrc --file dev-v1.1.json --output_dir eval/

The logic lives in gp_mrc/inference/evaluate_command.py.
"""

import os
import sys

# Python puts this file's folder first on the path, where this file would stand in for the `evaluate` package
# (Hugging Face's metrics library) that scoring imports: take the folder off.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]

from gp_mrc.errors import run_script  # noqa: E402
from gp_mrc.inference.evaluate_command import main  # noqa: E402

if __name__ == "__main__":
    run_script(main)
