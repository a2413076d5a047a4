"""What a script tells its user when it cannot go on: one line, an exit code, no traceback.

`UsageError` is a bad argument or a run that cannot start as asked (a flag out of range, an output path that is
a file, a checkpoint of another model); `DataError` (gp_mrc.data.examples) a bad input record, and missing or unreadable
files are `FileNotFoundError` / `OSError`. `run_script` is the one top-level handler every script uses: those
become `error: <message>` and exit 2, Ctrl-C becomes `interrupted` and exit 130 (the shell's code for SIGINT;
every file the package writes is written atomically, so nothing is left half-written). Anything else is a bug
and keeps its traceback. Imports nothing heavy: the parsers use it before torch loads.
"""

from __future__ import annotations

import sys
from typing import Callable, NoReturn

USAGE_EXIT, INTERRUPT_EXIT = 2, 130


class UsageError(ValueError):
    """A bad argument, or a run that cannot start as asked; the message names the flag or path and the fix."""


class DataError(UsageError):
    """An input record that cannot be used; the message names the file and the record (raised by gp_mrc.data.examples)."""


# DataError is a UsageError; FileNotFoundError, PermissionError, IsADirectoryError are OSErrors (a path given)
ONE_LINE_ERRORS: tuple[type[BaseException], ...] = (UsageError, OSError)


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def run_script(main: Callable[[], int | None]) -> NoReturn:
    """`sys.exit(main())`, with the user's errors and Ctrl-C as one line on stderr (exit 2 / 130)."""
    try:
        code = main()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(INTERRUPT_EXIT)
    except Exception as e:  # noqa: BLE001  (re-raised unless it is the user's error)
        if not isinstance(e, ONE_LINE_ERRORS):
            raise
        print(f"error: {first_line(e)}", file=sys.stderr)
        sys.exit(USAGE_EXIT)
    sys.exit(code or 0)
