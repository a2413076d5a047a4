#!/usr/bin/env python
"""Serve a model folder over HTTP (`--help` lists the flags); the same command as `gp-mrc serve`.

    python scripts/serve.py --model runs/sample_gp --port 8000     # then open http://127.0.0.1:8000/

The logic lives in gp_mrc/serving/command.py (needs `pip install -e ".[serve]"`).
"""

from gp_mrc.errors import run_script
from gp_mrc.serving.command import main

if __name__ == "__main__":
    run_script(main)
