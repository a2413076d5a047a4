#!/usr/bin/env python
"""Which reader ranks passages better: one question over the gold passage and 4 others, for BENCHMARKS.md's
"Passage ranking". The logic is gp_mrc_lab/passages_bench.py."""

from gp_mrc.errors import run_script
from gp_mrc_lab.passages_bench import main

if __name__ == "__main__":
    run_script(main)
