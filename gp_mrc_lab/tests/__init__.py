"""The lab's tests (the study, the benchmarks, the research objective and command line): a package, so that their
module names never meet the product's tests' (tests/, which run without gp_mrc_lab)."""
