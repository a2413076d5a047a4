"""The names the command line, the settings and the library share (torch-free, so the parsers can import them)."""

OBJECTIVES = ("multilabel", "f1", "mixed")  # losses.objective_weights
REWARDS = ("expected_f1", "soft_f1")  # objective.Objective
DECODINGS = ("argmax", "expected_f1")  # decoding.choose
