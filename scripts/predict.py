#!/usr/bin/env python
"""Answer questions with a model folder (`--help` lists the flags); the same command as `gp-mrc predict`.

    python scripts/predict.py --model runs/gp_mrc --question "Who ...?" --context "..."
    python scripts/predict.py --model runs/gp_mrc --input questions.jsonl --output_dir preds/

The logic lives in gp_mrc/inference/command.py.
"""

from gp_mrc.errors import run_script
from gp_mrc.inference.command import main

if __name__ == "__main__":
    run_script(main)
