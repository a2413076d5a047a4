"""The `gp-mrc` console command: `gp-mrc train | predict | evaluate | serve | export | convert [flags]`, the same
functions as scripts/train.py, scripts/predict.py, scripts/evaluate.py, scripts/serve.py and scripts/export.py
(`gp-mrc COMMAND --help` lists a command's flags); `convert` rewrites a model folder of an older layout as the
current one.

Torch and transformers load only once a command runs, so `--help` and flag errors answer at once.
"""

from __future__ import annotations

import argparse
import sys

COMMANDS = {
    "train": "fine-tune a reader (one process; `accelerate launch scripts/train.py` for several)",
    "predict": "answer questions with a model folder, from the command line or a file",
    "evaluate": "score a model folder on a labelled file (EM/F1 as the official scripts)",
    "serve": "serve a model folder over HTTP: the Inference API's question-answering schema and a page",
    "export": "write a model folder as an ONNX Runtime folder (fp32, or int8 with --quantize int8)",
    "convert": "write a model folder of an older gp_mrc layout in the current one (OLD NEW)",
}


def train_main(argv: list[str] | None = None, prog: str | None = None) -> int:
    from .training.arguments import parse_args

    args = parse_args(argv, prog)  # --help and argument errors before torch and transformers load
    from .training.loop import train

    train(args)
    return 0


def predict_main(argv: list[str] | None = None, prog: str | None = None) -> int:
    from .inference.command import main

    return main(argv, prog)


def evaluate_main(argv: list[str] | None = None, prog: str | None = None) -> int:
    from .inference.evaluate_command import main

    return main(argv, prog)


def serve_main(argv: list[str] | None = None, prog: str | None = None) -> int:
    from .serving.command import main

    return main(argv, prog)


def export_main(argv: list[str] | None = None, prog: str | None = None) -> int:
    from .inference.export_command import main

    return main(argv, prog)


def convert_main(argv: list[str] | None = None, prog: str | None = None) -> int:
    from .models.convert_command import main

    return main(argv, prog)


MAINS = {
    "train": train_main,
    "predict": predict_main,
    "evaluate": evaluate_main,
    "serve": serve_main,
    "export": export_main,
    "convert": convert_main,
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gp-mrc",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Extractive reading comprehension with a GlobalPointer span head.",
        epilog="commands:\n"
        + "\n".join(f"  {name:<9}{text}" for name, text in COMMANDS.items())
        + "\n\n`gp-mrc COMMAND --help` lists a command's flags; `gp-mrc --version` the version.",
    )
    p.add_argument("command", choices=list(COMMANDS), metavar="COMMAND", help=" | ".join(COMMANDS))
    p.add_argument("args", nargs=argparse.REMAINDER, help="the command's flags")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = build_parser()
    if argv and argv[0] in ("-V", "--version"):
        from . import __version__

        print(f"gp-mrc {__version__}")
        return 0
    if not argv or argv[0] in ("-h", "--help"):
        p.print_help(sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] not in COMMANDS:
        p.error(f"unknown command {argv[0]!r} (choose from {', '.join(COMMANDS)})")
    return MAINS[argv[0]](argv[1:], prog=f"gp-mrc {argv[0]}")


def console() -> None:
    """The installed `gp-mrc` command: the scripts' top-level handling (a user's error is one line, exit 2;
    Ctrl-C → "interrupted", exit 130)."""
    from .errors import run_script

    run_script(main)


if __name__ == "__main__":
    console()
