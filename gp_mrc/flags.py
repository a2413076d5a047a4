"""Configuration fields that are command-line flags: a setting's type, default and help are written once, on its
field (`setting(...)`), and the parsers are built from the fields (`add_flags`). Torch-free.

    max_seq_length: int = setting(384, "tokens per window", type=positive_int)

is the field `max_seq_length` (default 384) of a frozen configuration part and the flag `--max_seq_length`
(default 384, the help above). A flag whose default depends on something else (the built-in sample's recipe, the
architecture, a model folder) is declared with `depends="..."` (its help; "{default}" names the field's default):
its parser default is None and the resolver that builds the configuration decides it (training/arguments.resolve);
the field keeps the plain default. A `research=True` flag is left out of the product's command line (train.py)
and offered by gp_mrc_lab's (gp_mrc_lab/train_variant.py).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

FLAG = "flag"  # the metadata key of a field that is a flag


def setting(
    default: Any,
    help: str | None = None,
    *,
    research: bool = False,
    depends: str | None = None,
    **argparse_keywords: Any,
) -> Any:
    """A dataclass field that is also the flag --<field name>: `argparse_keywords` (type, choices, nargs, metavar)
    go to add_argument; a bool field is a switch (store_true, or --name/--no-name when its default is True)."""
    meta = {"help": help, "research": research, "depends": depends, "argparse": argparse_keywords}
    return dataclasses.field(default=default, metadata={FLAG: meta})


def flag_fields(part: Any) -> list[dataclasses.Field]:
    """The fields of a configuration part (class or instance) that are flags, in declaration order."""
    return [f for f in dataclasses.fields(part) if FLAG in f.metadata]


def parser_default(field: dataclasses.Field) -> Any:
    """What the parser puts when the flag is not given: the field's default, or None when it depends."""
    return None if field.metadata[FLAG]["depends"] else field.default


def add_flags(
    group: Any,
    part: Any,
    *,
    research: bool | None = False,
    folder_default: bool = False,
    only: tuple[str, ...] | None = None,
    resolved: bool = False,
) -> None:
    """Add a part's flags (or the `only` ones) to a parser or argument group. research: False the product's flags
    only, True the research ones only, None both. folder_default: every default None ("the model folder's
    value": predict.py); switches are then left out (the caller words them itself). resolved: the field's default
    even where it depends (a command without the dependency, e.g. precompute_f1.py)."""
    for f in flag_fields(part):
        meta = f.metadata[FLAG]
        if (only is not None and f.name not in only) or (research is not None and meta["research"] != research):
            continue
        switch = isinstance(f.default, bool)
        if switch and folder_default:
            continue
        help_text = meta["help"]
        if meta["depends"] and not (folder_default or resolved):
            depends = "default: " + meta["depends"].format(default=f.default)
            help_text = f"{help_text}; {depends}" if help_text else depends
        default = None if folder_default else f.default if resolved else parser_default(f)
        keywords = dict(meta["argparse"])
        if switch:
            keywords["action"] = argparse.BooleanOptionalAction if f.default else "store_true"
        group.add_argument(f"--{f.name}", default=default, help=help_text, **keywords)
