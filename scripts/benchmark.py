#!/usr/bin/env python
"""Side by side: the start/end reader against GlobalPointer, trained alike, then timed; `--report`: the quality
study's tables. The logic is gp_mrc_lab/benchmark.py (run with --help for the flags)."""

from gp_mrc.errors import run_script
from gp_mrc_lab.benchmark import main

if __name__ == "__main__":
    run_script(main)
