#!/usr/bin/env python
"""Speed side by side (step | predict | train | profile | attention | zh_decoding) for BENCHMARKS.md's
"Speed" section. The logic is gp_mrc_lab/speed.py and the modules it names: speed_step.py (one training step:
gp_mrc_lab/step.py; attention), speed_predict.py (predict, zh_decoding), speed_train.py (train, profile)."""

from gp_mrc.errors import run_script
from gp_mrc_lab.speed import main

if __name__ == "__main__":
    run_script(main)
