#!/usr/bin/env python
"""Answering a file of any size: memory growth with the number of questions, questions/s in 1 and 2 processes,
for BENCHMARKS.md's "Files of any size". The logic is gp_mrc_lab/corpus_bench.py."""

from gp_mrc.errors import run_script
from gp_mrc_lab.corpus_bench import main

if __name__ == "__main__":
    run_script(main)
