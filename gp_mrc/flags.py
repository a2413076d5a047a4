"""Configuration fields that are command-line flags: a setting's type, default and help are written once, on its
field (`setting(...)`), and the parsers are built from the fields (`add_flags`). Torch-free.

    max_seq_length: int = setting(384, "tokens per window", type=positive_int)

is the field `max_seq_length` (default 384) of a frozen configuration part and the flag `--max_seq_length`
(the help above, then "default: 384"). Every command (train, predict, serve, export, precompute_f1) builds its
parser this way from its parts; a setting two commands offer is one field of one part (e.g. settings.Runtime's
--mixed_precision, which training's RunConfig inherits).

A flag whose default depends on something else (the built-in sample's recipe, the architecture, a model folder,
the machine) is declared with `depends="..."` (the help's "default: ..."; "{default}" names the field's default):
its parser default is None and whoever builds the configuration decides it (training/arguments.resolve, the
Reader); the field keeps the plain default. A default that depends on the reader's architecture is written on the
field too, `by_architecture={"globalpointer": ...}` ("{globalpointer}" in `depends` names it), and training
resolves it (`architecture_defaults`). A `research=True` flag is left out of the product's command line
(train.py) and offered by gp_mrc_lab's (gp_mrc_lab/train_variant.py).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Mapping

FLAG = "flag"  # the metadata key of a field that is a flag


def setting(
    default: Any,
    help: str | None = None,
    *,
    research: bool = False,
    depends: str | None = None,
    by_architecture: dict[str, Any] | None = None,
    **argparse_keywords: Any,
) -> Any:
    """A dataclass field that is also the flag --<field name>: `argparse_keywords` (type, choices, nargs, metavar,
    required) go to add_argument; a bool field is a switch (store_true, or --name/--no-name when its default is
    True, unless an `action` is given)."""
    if by_architecture and not depends:
        raise ValueError("a default by architecture says so in the help: give depends=")
    meta = {
        "help": help,
        "research": research,
        "depends": depends,
        "by_architecture": dict(by_architecture or {}),
        "argparse": argparse_keywords,
    }
    return dataclasses.field(default=default, metadata={FLAG: meta})


def flag_fields(part: Any) -> list[dataclasses.Field]:
    """The fields of a configuration part (class or instance) that are flags, in declaration order."""
    return [f for f in dataclasses.fields(part) if FLAG in f.metadata]


def parser_default(field: dataclasses.Field) -> Any:
    """What the parser puts when the flag is not given: the field's default, or None when it depends."""
    return None if field.metadata[FLAG]["depends"] else field.default


def architecture_defaults(part: Any, architecture: str) -> dict[str, Any]:
    """{field: default} of a part's fields whose default differs for `architecture` (their `by_architecture`)."""
    return {
        f.name: f.metadata[FLAG]["by_architecture"][architecture]
        for f in flag_fields(part)
        if architecture in f.metadata[FLAG]["by_architecture"]
    }


def part_from(part: type, values: Mapping[str, Any] | argparse.Namespace) -> Any:
    """The part built from flag values ({name: value} or a parsed Namespace): a value absent or None is the
    field's default."""
    given = vars(values) if isinstance(values, argparse.Namespace) else values
    return part(**{f.name: given[f.name] for f in flag_fields(part) if given.get(f.name) is not None})


def _help(field: dataclasses.Field, folder_default: bool, resolved: bool) -> str | None:
    """The flag's help: the field's, then its default ("default: ..."; what it depends on, where it does)."""
    meta = field.metadata[FLAG]
    if folder_default or isinstance(field.default, bool):  # a switch is off unless given (or says --no-)
        return meta["help"]
    if meta["depends"] and not resolved:
        default = meta["depends"].format(default=field.default, **meta["by_architecture"])
    elif field.default is not None:
        default = str(field.default)
    else:
        return meta["help"]
    return f"{meta['help']}; default: {default}" if meta["help"] else f"default: {default}"


def add_flags(
    group: Any,
    part: Any,
    *,
    research: bool | None = False,
    folder_default: bool = False,
    only: tuple[str, ...] | None = None,
    resolved: bool = False,
) -> None:
    """Add a part's flags (or the `only` ones) to a parser or argument group, each help ending with its default.
    research: False the product's flags only, True the research ones only, None both. folder_default: every
    default None ("the model folder's value": predict.py); switches are then left out (the caller words them
    itself). resolved: the field's default even where it depends (a command without the dependency, e.g.
    precompute_f1.py)."""
    for f in flag_fields(part):
        meta = f.metadata[FLAG]
        if (only is not None and f.name not in only) or (research is not None and meta["research"] != research):
            continue
        switch = isinstance(f.default, bool)
        if switch and folder_default:
            continue
        default = None if folder_default else f.default if resolved else parser_default(f)
        keywords = dict(meta["argparse"])
        if switch:
            keywords.setdefault("action", argparse.BooleanOptionalAction if f.default else "store_true")
        group.add_argument(f"--{f.name}", default=default, help=_help(f, folder_default, resolved), **keywords)
