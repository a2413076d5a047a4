"""Reading a JSON or JSONL input file as text, with errors that name the file and the line (DataError)."""

from __future__ import annotations

import json
import os
from typing import Any

from ..errors import DataError


def read_text(path: str) -> str:
    if not os.path.exists(path):
        raise DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(f"{path}: line {line}: not valid UTF-8 (byte {e.start}: {raw[e.start:e.start + 1]!r}); "
                        "re-encode the file as UTF-8") from None


class JsonlRecords(list):
    """The records of a JSONL file, with the line each came from (`line_numbers`), for error messages."""

    line_numbers: list[int]


def parse_json_or_jsonl(path: str, text: str, jsonl: bool | None = None) -> Any:
    stripped = text.lstrip()
    if jsonl is None:
        jsonl = path.endswith(".jsonl") or (stripped[:1] == "{" and "\n{" in stripped and not path.endswith(".json"))
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
        return json.loads(text)
    except json.JSONDecodeError as e:
        # A JSONL file with a .json name: try line by line before giving up.
        if e.msg == "Extra data":
            return parse_json_or_jsonl(path, text, jsonl=True)
        raise DataError(f"{path}: line {e.lineno}: malformed JSON ({e.msg} at column {e.colno})") from None
