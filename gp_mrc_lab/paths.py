"""Where the study reads data and writes runs and result files (each overridable by an environment variable)."""

from __future__ import annotations

import os

# the repository root: the study's commands name paths relative to it
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("GP_MRC_SHARED_DATA", os.path.join(os.path.dirname(ROOT), "shared", "data"))
# overridable so that a frozen copy of the code (a git worktree) can run the study into this checkout
RESULTS = os.environ.get("GP_MRC_STUDY_RESULTS", os.path.join(ROOT, "benchmarks", "results"))
RUNS = os.environ.get("GP_MRC_STUDY_RUNS", os.path.join(ROOT, "runs", "study"))
