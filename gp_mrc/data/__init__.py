"""Examples in, windows out: load and validate QA files (examples.py, layouts.py, json_files.py), cut examples into
token windows with their gold spans (features.py), and batch windows (collate.py). Importing this package imports
nothing heavy; each module imports what it needs."""
