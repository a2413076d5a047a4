#!/usr/bin/env python
"""Precompute (and cache) the per-span F1 rewards of a training file, as training would.

Same data flags as scripts/train.py; the cache file it writes is the one training then loads (same cache_dir
default, same data_key: gp_mrc.rewards.reward_table_inputs). Prints throughput and cache size; --inspect N prints
N sampled rewarded spans as JSON lines. The logic: gp_mrc/rewards/command.py.
"""

from gp_mrc.errors import run_script
from gp_mrc.rewards.command import precompute_main as main

if __name__ == "__main__":
    run_script(main)
