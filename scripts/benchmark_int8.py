#!/usr/bin/env python
"""CPU inference in fp32, bf16 and dynamic int8, side by side, for BENCHMARKS.md's "CPU int8" section.
The logic is gp_mrc_lab/int8.py."""

from gp_mrc.errors import run_script
from gp_mrc_lab.int8 import main

if __name__ == "__main__":
    run_script(main)
