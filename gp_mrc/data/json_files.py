"""Reading a JSON or JSONL input file as text, with errors that name the file and the line (DataError)."""

from __future__ import annotations

import json
import os
from typing import Any

from ..errors import DataError


def read_text(path: str) -> str:
    """The file's text (UTF-8, an optional BOM dropped); a missing file, a folder or bad bytes is a DataError."""
    if not os.path.exists(path):
        raise DataError(f"{path}: file not found")
    if os.path.isdir(path):  # open() would say only "[Errno 21] Is a directory"
        raise DataError(f"{path}: is a directory; give a JSON or JSONL file")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(
            f"{path}: line {line}: not valid UTF-8 (byte {e.start}: {raw[e.start : e.start + 1]!r}); "
            "re-encode the file as UTF-8"
        ) from None


class JsonlRecords(list):
    """The records of a JSONL file, with the line each came from (`line_numbers`), for error messages."""

    line_numbers: list[int]


def looks_like_jsonl(text: str) -> bool:
    """JSONL by content, whatever the file is called: it starts with '{' and its first two non-blank lines
    each parse as a JSON object on their own (a pretty-printed JSON file's first line never does)."""
    lines = []
    for line in text.splitlines():
        if line.strip():
            lines.append(line)
            if len(lines) == 2:
                break
    if len(lines) < 2 or not lines[0].lstrip().startswith("{"):
        return False
    try:
        return all(isinstance(json.loads(line), dict) for line in lines)
    except json.JSONDecodeError:
        return False


def is_flat_record(obj: Any) -> bool:
    """One question record ({question, context(s), ...}) on its own: a one-line JSONL file."""
    return isinstance(obj, dict) and "question" in obj and ("context" in obj or "contexts" in obj) and "data" not in obj


def parse_json_or_jsonl(path: str, text: str, jsonl: bool | None = None) -> Any:
    """A JSON document, or the records of a JSONL file (`JsonlRecords`) — JSONL known by its name or its content;
    a file holding a single record object is read as one JSONL record."""
    if jsonl is None:
        jsonl = path.endswith(".jsonl") or looks_like_jsonl(text)
    if jsonl:
        records, lines = JsonlRecords(), []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DataError(f"{path}: line {n}: malformed JSON ({e.msg} at column {e.colno})") from None
            lines.append(n)
        records.line_numbers = lines
        return records
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        # A JSONL file with a .json name: try line by line before giving up.
        if e.msg == "Extra data":
            return parse_json_or_jsonl(path, text, jsonl=True)
        raise DataError(f"{path}: line {e.lineno}: malformed JSON ({e.msg} at column {e.colno})") from None
    if is_flat_record(obj):
        records = JsonlRecords([obj])
        records.line_numbers = [text[: len(text) - len(text.lstrip())].count("\n") + 1]
        return records
    return obj
