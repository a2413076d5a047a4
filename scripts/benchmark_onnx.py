#!/usr/bin/env python
"""ONNX Runtime fp32/int8 against torch fp32/bf16 and transformers' fp32 loop: questions/s and F1/agreement on the
same dev questions, for BENCHMARKS.md's "ONNX Runtime" section. The logic is gp_mrc_lab/onnx_speed.py."""

from gp_mrc.errors import run_script
from gp_mrc_lab.onnx_speed import main

if __name__ == "__main__":
    run_script(main)
