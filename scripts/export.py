#!/usr/bin/env python
"""Export a model folder for ONNX Runtime (`--help` lists the flags); the same command as `gp-mrc export`.

    python scripts/export.py runs/sample_gp exported/ --format onnx [--quantize int8]

The logic lives in gp_mrc/inference/export_command.py.
"""

from gp_mrc.errors import run_script
from gp_mrc.inference.export_command import main

if __name__ == "__main__":
    run_script(main)
