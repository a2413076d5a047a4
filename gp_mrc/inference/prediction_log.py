"""predictions.jsonl: a corpus run's answers, written as they are made, so a killed run loses nothing it wrote and
`--resume` continues it; and the JSON files made from it at the end.

One line per question, in the input's order: `{"id", "prediction" (the answer, "" for none), "answers" (the
ranked answers, as Reader returns them)[, "null_odds"]}`. Lines are appended a chunk at a time, flushed and
fsynced; a kill can leave only a last line without its newline, which resuming cuts off. Resuming reads the ids of
the complete lines: they must be the input's first ids, in order (else the folder holds another input's run), and
those questions are not answered again, so every id is in the files once. predictions.json ({id: prediction}),
nbest_predictions.json ({id: answers}) and, for an evaluation, null_odds.json ({id: null odds}) are written from
the lines at the end, streamed (atomically: gp_mrc/atomic.py), so memory does not grow with the questions either.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from typing import Any, Iterable, Iterator

from ..atomic import atomic_path
from ..errors import DataError, UsageError

LOG_NAME = "predictions.jsonl"
FINAL_FILES = {"prediction": "predictions.json", "answers": "nbest_predictions.json", "null_odds": "null_odds.json"}


def check_fresh(out: str, resume: bool, names: tuple[str, ...]) -> None:
    """Without `resume`, an output folder that already holds one of `names` (or predictions.jsonl) is refused:
    nothing a run wrote before is overwritten."""
    if resume:
        return
    for name in (LOG_NAME, *names):
        if os.path.exists(os.path.join(out, name)):
            raise UsageError(
                f"{out} already holds {name} (an earlier run's); give another --output_dir, or --resume to "
                "continue that run"
            )


def complete_lines(path: str) -> int:
    """How many lines of the file end with a newline (a kill can leave the last one without)."""
    if not os.path.exists(path):
        return 0
    with open(path, "rb") as f:
        return sum(1 for line in f if line.endswith(b"\n"))


def logged_ids(path: str, n: int) -> Iterator[str]:
    """The ids of the first `n` lines of predictions.jsonl (a line that is no prediction: DataError)."""
    if not n:
        return
    with open(path, "rb") as f:
        for k, line in enumerate(itertools.islice(f, n), 1):
            try:
                yield str(json.loads(line)["id"])
            except (ValueError, KeyError, TypeError):
                raise DataError(f"{path}: line {k} is not a prediction line; give another --output_dir") from None


def check_resumable(out: str, records: Iterable[tuple[str, dict]]) -> None:
    """The complete lines of `out`/predictions.jsonl are the first of the input's (where, record) pairs, in order:
    else a DataError, before any work (the folder holds the run of another input)."""
    log = os.path.join(out, LOG_NAME)
    logged = logged_ids(log, complete_lines(log))
    for (where, rec), done in zip(records, logged):
        if done != rec["id"]:
            raise DataError(
                f"{log} holds id {done!r} where {where} has {rec['id']!r}: it is the run of another input; "
                "give another --output_dir"
            )
    if next(logged, None) is not None:
        raise DataError(f"{log} holds more lines than the input has questions: it is the run of another input")


def cut_torn_line(path: str) -> None:
    """Truncate the file after its last newline (what a kill mid-write leaves past it)."""
    if not os.path.exists(path):
        return
    with open(path, "rb+") as f:
        end = pos = f.seek(0, os.SEEK_END)
        while pos > 0:
            start = max(pos - 65536, 0)
            f.seek(start)
            at = f.read(pos - start).rfind(b"\n")
            if at >= 0:
                pos = start + at + 1
                break
            pos = start
        if pos != end:
            f.truncate(pos)


def append_lines(path: str, lines: list[dict[str, Any]]) -> None:
    """Append prediction lines, on disk before this returns."""
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
        f.flush()
        os.fsync(f.fileno())


def read_lines(path: str) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def _entry(key: str, value: Any, first: bool) -> str:
    """One `"key": value` of a JSON object, formatted as json.dumps(obj, indent=2) would."""
    text = json.dumps(value, ensure_ascii=False, indent=2).replace("\n", "\n  ")
    return ("" if first else ",") + f"\n  {json.dumps(key, ensure_ascii=False)}: {text}"


def write_final_files(out: str, keys: tuple[str, ...] = ("prediction", "answers")) -> int:
    """predictions.json, nbest_predictions.json (and null_odds.json with "null_odds" in `keys`) from
    predictions.jsonl, one pass, without holding the answers; returns the number of questions."""
    n = 0
    with contextlib.ExitStack() as stack:
        files = {}
        for key in keys:
            tmp = stack.enter_context(atomic_path(os.path.join(out, FINAL_FILES[key])))
            files[key] = stack.enter_context(open(tmp, "w", encoding="utf-8"))
            files[key].write("{")
        for line in read_lines(os.path.join(out, LOG_NAME)):
            for key, f in files.items():
                f.write(_entry(line["id"], line.get(key), n == 0))
            n += 1
        for f in files.values():
            f.write("\n}" if n else "}")
            f.close()
    return n
