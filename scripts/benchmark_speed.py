#!/usr/bin/env python
"""Speed side by side (step | predict | train | profile | attention | zh_decoding) for BENCHMARKS.md's
"Speed" section. The logic is gp_mrc_lab/speed.py (one training step: gp_mrc_lab/step.py)."""

from gp_mrc.errors import run_script
from gp_mrc_lab.speed import main

if __name__ == "__main__":
    run_script(main)
