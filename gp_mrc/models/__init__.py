"""The readers and their folders: the GlobalPointer model and its config (modeling.py, configuration.py), the
start/end baseline (baseline.py), the span distribution both train and answer on (span_probs.py), and the loader
of every folder layout (loading.py; layouts written before in legacy.py). The models do not import the loader.
Importing this package imports nothing heavy."""
