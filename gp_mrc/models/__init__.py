"""The readers and their folders: the GlobalPointer model and its config (modeling.py, configuration.py), the
start/end baseline (baseline.py), token types an encoder never trained (token_types.py), the span distribution
both train and answer on (gp_mrc/method.py), what a folder holds (folders.py, JSON only; older layouts as fix-ups in
legacy.py; `gp-mrc convert` in convert_command.py) and the loader (loading.py). The models do not import the
loader.
Importing this package imports nothing heavy."""
