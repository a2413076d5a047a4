#!/usr/bin/env python
"""Calibration of readers' top-1 scores, side by side, for BENCHMARKS.md's "Calibration" section. The logic is
gp_mrc_lab/calibration.py."""

from gp_mrc.errors import run_script
from gp_mrc_lab.calibration import main

if __name__ == "__main__":
    run_script(main)
