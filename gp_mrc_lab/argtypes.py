"""Flag types the lab's benchmark commands share (the library's own are gp_mrc/argtypes.py)."""

from __future__ import annotations

import argparse


def named_model(value: str) -> tuple[str, str]:
    """--model NAME=MODEL_DIR → (name, path): the name labels the model's rows in a benchmark's results."""
    name, sep, path = value.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=MODEL_DIR, got {value!r}")
    return name, path
