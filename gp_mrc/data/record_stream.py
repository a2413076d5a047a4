"""An input file's question records, one at a time, for answering a corpus of any size (predict.py --input,
evaluate): a JSONL file (known by its name or its content) is read line by line, so memory does not grow with the
number of questions; a JSON document (SQuAD layout, a list of records) is parsed whole, as json can only read it.

Each record comes as (where, record) with `where` naming it for error messages (its JSONL line, its place in the
SQuAD tree) and `record` as gp_mrc.data.layouts gives it (id, title, question, context, answers {text,
answer_start}, is_impossible), plus "contexts" for a many-passage record; a record without an id gets its
position in the file, from 0. A line that is not JSON or not UTF-8 is a DataError naming the line. `SeenIds`
refuses a repeated id in 8 bytes per question.
"""

from __future__ import annotations

import hashlib
import json
from typing import Iterator

import numpy as np

from ..errors import DataError
from .json_files import JsonlRecords, looks_like_jsonl, parse_json_or_jsonl, read_text
from .layouts import flat_records, squad_records

HEAD_BYTES = 1 << 16  # enough of a file to tell JSONL by its first two lines


def is_jsonl(path: str) -> bool:
    """JSONL by name, or by its first two non-blank lines (json_files.looks_like_jsonl)."""
    if path.endswith(".jsonl"):
        return True
    read_text(path)  # a missing file, a folder, bad bytes: the one DataError of every reader
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES).decode("utf-8-sig", errors="ignore")
    return looks_like_jsonl("\n".join(head.splitlines()[:-1]) if len(head) == HEAD_BYTES else head)


def _jsonl_lines(path: str) -> Iterator[tuple[int, dict]]:
    """(line number, parsed object) of each non-blank line, read one at a time."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise DataError(
                    f"{path}: line {n}: not valid UTF-8 (byte {e.start}: {raw[e.start : e.start + 1]!r}); "
                    "re-encode the file as UTF-8"
                ) from None
            if not line.strip():
                continue
            try:  # without its newline: an error's column is on this line, as json_files reports it
                yield n, json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as e:
                raise DataError(f"{path}: line {n}: malformed JSON ({e.msg} at column {e.colno})") from None


def _with_contexts(path: str, records: list, raw: list) -> Iterator[tuple[str, dict]]:
    """layouts.flat_records' records, keeping a many-passage record's "contexts"."""
    for (where, rec), r in zip(flat_records(path, records), raw):
        if isinstance(r, dict) and "contexts" in r:
            rec["contexts"] = r["contexts"]
        yield where, rec


def _document_records(path: str) -> Iterator[tuple[str, dict]]:
    obj = parse_json_or_jsonl(path, read_text(path))
    if isinstance(obj, dict) and isinstance(obj.get("data"), list):
        first = obj["data"][0] if obj["data"] else None
        if isinstance(first, dict) and "paragraphs" in first:
            return squad_records(path, obj)
        obj = obj["data"]
    if not isinstance(obj, list):
        raise DataError(
            f"{path}: neither SQuAD layout ({{'data': [{{'paragraphs': ...}}]}}) nor a list of flat records"
        )
    return _with_contexts(path, obj, obj)


def _streamed_records(path: str) -> Iterator[tuple[str, dict]]:
    for n, obj in _jsonl_lines(path):
        one = JsonlRecords([obj])
        one.line_numbers = [n]
        yield from _with_contexts(path, one, one)


def stream_records(path: str) -> Iterator[tuple[str, dict]]:
    """(where, record) for every question of the file, in order (see the module doc)."""
    records = _streamed_records(path) if is_jsonl(path) else _document_records(path)
    for k, (where, rec) in enumerate(records):
        if rec.get("id") is None:
            rec["id"] = str(k)
        yield where, rec


def count_records(path: str) -> int:
    """How many records stream_records will give (JSONL: its non-blank lines, counted without parsing them)."""
    if is_jsonl(path):
        with open(path, "rb") as f:
            return sum(1 for line in f if line.strip())
    return sum(1 for _ in _document_records(path))


def id_hash(record_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(record_id.encode("utf-8"), digest_size=8).digest(), "little")


class SeenIds:
    """The ids met so far, as a sorted array of 64-bit hashes (8 bytes each: a million ids take 8 MB), to refuse a
    repeated id wherever it comes (predictions are keyed by id)."""

    def __init__(self) -> None:
        self.hashes = np.empty(0, dtype=np.uint64)

    def add(self, records: list[tuple[str, dict]]) -> None:
        """Add a chunk's ids; a DataError naming the record whose id came before (in this chunk or earlier)."""
        first: dict[str, str] = {}
        for where, rec in records:
            if rec["id"] in first:
                raise DataError(f"{where}: duplicate id {rec['id']!r} (first seen at {first[rec['id']]})")
            first[rec["id"]] = where
        new = np.fromiter((id_hash(r["id"]) for _, r in records), dtype=np.uint64, count=len(records))
        at = np.minimum(np.searchsorted(self.hashes, new), max(len(self.hashes) - 1, 0))
        seen = self.hashes[at] == new if len(self.hashes) else np.zeros(len(new), dtype=bool)
        if seen.any():
            where, rec = records[int(np.argmax(seen))]
            raise DataError(f"{where}: duplicate id {rec['id']!r} (an earlier record has it)")
        self.hashes = np.sort(np.concatenate([self.hashes, new]), kind="stable")  # two sorted runs: merged in O(n)
