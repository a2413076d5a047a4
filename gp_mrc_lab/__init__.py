"""gp_mrc_lab: the research tooling around gp_mrc, kept out of the library — the quality study (its protocols and
variants, running, result files, report and plots) and the benchmarks (side by side, speed, one training step,
int8, calibration, the service's load test). scripts/*.py are their command lines. Importing it imports nothing."""
