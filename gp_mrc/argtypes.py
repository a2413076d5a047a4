"""Checked command-line values: every number in range and every output path usable at parse time, so a bad flag
is one line and exit 2 before anything loads (torch-free). The parser prints its errors as one line too."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, NoReturn

from .errors import USAGE_EXIT, UsageError


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (`prog: error: ...; see --help`), exit 2 as argparse's own."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(USAGE_EXIT)


class NoUnderscoreSwitch(argparse.Action):
    """A switch on by default: --name (no-op) and --no_name (off), spelled as gp_mrc's other flags (predict.py's
    --align_to_words / --no_align_to_words)."""

    def __init__(self, option_strings: list[str], dest: str, default: bool = True, help: str | None = None) -> None:
        negated = [f"--no_{s[2:]}" for s in option_strings if s.startswith("--")]
        super().__init__([*option_strings, *negated], dest, nargs=0, default=default, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, not (option_string or "").startswith("--no_"))

    def format_usage(self) -> str:
        return " | ".join(self.option_strings)


def _number(kind: Callable[[str], float], test: Callable[[float], bool], what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


positive_int = _number(int, lambda v: v >= 1, "a positive integer")
non_negative_int = _number(int, lambda v: v >= 0, "an integer ≥ 0")
positive_float = _number(float, lambda v: v > 0, "a number > 0")
non_negative_float = _number(float, lambda v: v >= 0, "a number ≥ 0")
probability = _number(float, lambda v: 0 <= v <= 1, "a probability in [0, 1]")
finite_float = _number(float, lambda v: abs(v) != float("inf") and v == v, "a finite number")
# an int (steps), or a fraction (0 < value < 1) of the training steps (objective.steps_of)
steps_or_fraction = _number(
    float, lambda v: v >= 0 and (v < 1 or v == int(v)), "a whole number of steps ≥ 0 or a fraction below 1"
)


def probability_or_encoder(text: str) -> float | str:
    """--attention_dropout: 'encoder' or a probability in [0, 1)."""
    if text == "encoder":
        return text
    try:
        p = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'encoder' or a probability, got {text!r}") from None
    if not 0.0 <= p < 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {text}")
    return p


def steps_or_epoch(text: str) -> int | str:
    """--checkpointing_steps: a positive integer or 'epoch'."""
    if text == "epoch":
        return text
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'epoch', got {text!r}")
    return int(text)


def check_output_dir(path: str, flag: str = "--output_dir") -> None:
    """A folder that exists or can be made: not a file, under a folder we may write in."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{flag} {path} is a file, not a folder")
    ancestor = os.path.abspath(path)
    while not os.path.exists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise UsageError(f"{flag} {path}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: no permission to write in {ancestor}")


def make_output_dir(path: str, flag: str = "--output_dir") -> None:
    """check_output_dir, then create it (one line naming the flag if the system refuses)."""
    check_output_dir(path, flag)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise UsageError(f"{flag} {path}: cannot create the folder ({e.strerror or e})") from None
