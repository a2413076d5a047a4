#!/usr/bin/env python
"""Check cached per-span F1 rewards against the metric itself on >= N sampled (feature, span) pairs.

Takes the data flags of scripts/precompute_f1.py, loads (or computes) the cached table, then compares the stored
reward of random spans inside the pruning window (zero-valued ones included) with scoring.f1_score of the decoded
text. Exits 1 on any difference above --tol. The logic: gp_mrc/rewards/command.py.
"""

from gp_mrc.errors import run_script
from gp_mrc.rewards.command import check_main as main

if __name__ == "__main__":
    run_script(main)
