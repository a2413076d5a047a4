"""`gp-mrc convert OLD NEW`: write a model folder of an older gp_mrc layout as the current layout, once, so it loads
without being converted in memory (and without the warning that says so) at every load.

    gp-mrc convert runs/old_reader runs/old_reader_v2

NEW gets every file of OLD (weights and tokenizer unchanged) with config.json in the current layout, and without
the old layout's extra files (gp_mrc_config.json); OLD is left as it is. NEW must be absent or an empty folder:
nothing is overwritten. A folder already in the current layout is copied as it is. Reads and writes JSON and
files only (gp_mrc/models/folders.py): nothing heavy loads. Problems are one line `error: ...`, exit 2.
"""

from __future__ import annotations

import argparse
import sys

from ..argtypes import Parser
from ..errors import first_line


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    p = Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("old", help="the model folder to convert (left as it is)")
    p.add_argument("new", help="the folder to write: absent, or an empty folder")
    return p


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    args = build_parser(prog).parse_args(argv)
    from .folders import CURRENT, convert_folder

    try:
        kind = convert_folder(args.old, args.new)
    except (OSError, ValueError) as e:
        print(f"error: {first_line(e)}", file=sys.stderr)
        return 2
    done = "copied (already in the current layout)" if kind.layout == CURRENT else "converted to the current layout"
    print(f"{args.old} → {args.new}: {kind.architecture} reader {done}", file=sys.stderr)
    return 0
