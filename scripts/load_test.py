#!/usr/bin/env python
"""A load test of the HTTP service (scripts/serve.py): N concurrent clients per level, latency percentiles and
throughput. The logic is gp_mrc_lab/load_test.py."""

from gp_mrc.errors import run_script
from gp_mrc_lab.load_test import main

if __name__ == "__main__":
    run_script(main)
