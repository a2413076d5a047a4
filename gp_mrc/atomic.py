"""Atomic file writes: write a temporary file next to the target, fsync it, then os.replace() it.

A reader (or a run resumed after a kill) therefore sees either the old file or the whole new one, never a
half-written one. The temporary file lives in the target's folder because os.replace is only atomic within
one file system; it is named ``.<name>.<random>.tmp`` and removed again if the write fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from typing import Any


def _create_temp(path: str) -> str:
    """Create an empty, unique temporary file beside `path` and return its name.

    Opened with mode 0o666 (the umask applies), not tempfile.mkstemp's 0o600, so the final file gets the
    permissions a plain open() would have given it."""
    folder, name = os.path.split(path)
    while True:
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path to write `path`'s new content to; on success it is fsynced and moved onto `path`.

    The body writes the temporary file any way it likes (open(), np.savez, safetensors' save_file, ...) and
    must have closed it by the end of the block. On an exception the temporary file is removed and `path`
    is left as it was."""
    tmp = _create_temp(os.fspath(path))
    try:
        yield tmp
        _fsync(tmp)  # the data must be on disk before the rename makes it visible
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def write_text_atomic(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding=encoding) as f:
        f.write(text)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """JSON as UTF-8 (non-ASCII kept as is), indented by 2."""
    write_text_atomic(path, json.dumps(obj, ensure_ascii=False, indent=2))
