"""gp_mrc_lab: the research tooling around gp_mrc, kept out of the library — the quality study (its protocols and
variants, running, result files, report and plots) and the benchmarks (side by side, speed, one training step,
int8, calibration, the service's load test). scripts/*.py are their command lines. A project of its own
(pyproject.toml here), never in gp_mrc's wheel. Importing it imports nothing heavy."""

import os

# The product's tests run with the lab out of reach (.ci/run): with GP_MRC_WITHOUT_LAB=1 every import of gp_mrc_lab
# fails as if it were not installed — in the test process and in every script it starts, whatever their PYTHONPATH.
if os.environ.get("GP_MRC_WITHOUT_LAB") == "1":
    raise ModuleNotFoundError("No module named 'gp_mrc_lab' (GP_MRC_WITHOUT_LAB=1)", name="gp_mrc_lab")
