"""Answer an input file of any size with a Reader, in one process or many: predict.py --input and evaluate.

The file's records are read as a stream (gp_mrc/data/record_stream.py) in chunks of CHUNK_PER_PROCESS questions per
process. Every process reads and checks every record (so a bad one stops them all with the same one-line error),
answers its share of the chunk's usable questions — whole questions, dealt round-robin, never windows — and the
answers are gathered; the main process writes them to predictions.jsonl in the input's order
(gp_mrc/inference/prediction_log.py). Under `torchrun` or `accelerate launch` the processes are torch.distributed's
(Accelerate's `PartialState`: gloo on CPUs, nccl on GPUs, each process on its own device); alone, there is one.

An answer does not depend on the other questions of its batch (length-bucketed batches:
gp_mrc/inference/predict.py), so the chunks and the shares change no answer: a run in N processes writes the
lines one process writes (on CPUs with the same torch threads per process: a GEMM's sums may be ordered by its
thread count). A question is answered as predict.py answers it: Reader.answer's ranked answers (those under
`min_score` dropped), or, for a record with "contexts" (and every record of a file whose first record has them),
`answer_passages` across its passages. An unusable record (an empty question or passage) gets "" and is named in
one warning at the end.
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import torch
from accelerate import PartialState
from accelerate.utils import gather_object, parse_flag_from_env
from tqdm.auto import tqdm

from ..data.examples import LoadReport, log_report, validate_record
from ..data.record_stream import SeenIds, count_records, stream_records
from ..errors import DataError
from ..settings import N_BEST_SIZE
from .passages import answer_passages, check_inputs
from .prediction_log import LOG_NAME, append_lines, complete_lines, cut_torn_line
from .reader import PROGRESS_MIN_RECORDS

CHUNK_PER_PROCESS = 256  # questions a process answers between two writes: enough for full length buckets


@dataclass(frozen=True)
class AnswerRequest:
    """How each question is answered and what its line keeps."""

    top_k: int = 1
    n_best_size: int = N_BEST_SIZE
    align_to_words: bool = True
    min_score: float = 0.0
    null_odds: bool = False  # evaluation: each line keeps its question's null odds (SQuAD v2's best_f1)


class Processes:
    """This process among the run's: torch.distributed's under torchrun / accelerate launch (WORLD_SIZE > 1, set by
    both), else the only one (no process group, no global state)."""

    def __init__(self, device: str | None = None):
        self.state, self.rank, self.world, self.is_main, self.device = None, 0, 1, True, device
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            cpu = device == "cpu" or parse_flag_from_env("ACCELERATE_USE_CPU") or not torch.cuda.is_available()
            self.state = PartialState(cpu=cpu)
            self.rank, self.world = self.state.process_index, self.state.num_processes
            self.is_main = self.state.is_main_process
            # each process on its own device (cuda:LOCAL_RANK), unless one was named
            self.device = device if device is not None else str(self.state.device)

    def gather(self, items: list) -> list:
        """Every process's items, concatenated, in every process."""
        return gather_object(items) if self.world > 1 else items

    def wait(self) -> None:
        if self.state is not None:
            self.state.wait_for_everyone()


@dataclass
class RunCounts:
    resumed: int = 0  # lines an earlier run had written
    written: int = 0  # lines this run wrote
    answered: int = 0  # questions of this run with at least one answer
    seconds: float = 0.0  # reading and answering them, the model loaded
    report: LoadReport = field(default_factory=LoadReport)


def chunks(items: Iterable, size: int) -> Iterator[list]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def prepare(where: str, rec: dict, report: LoadReport, passages_file: bool) -> tuple[str, dict] | None:
    """("context" | "passages", the record checked) or None for an unusable one (counted in `report`);
    a malformed record is a DataError naming it."""
    if "contexts" in rec or passages_file:
        contexts = rec.get("contexts", [rec["context"]] if rec.get("context") is not None else None)
        try:
            contexts = check_inputs(rec.get("question"), contexts)
        except ValueError as e:
            raise DataError(f"{where}: {e}") from None
        return "passages", {**rec, "contexts": contexts}
    rec = validate_record(where, rec, True, report, require_answers=False)
    return None if rec is None else ("context", rec)


def _line(record_id: str, answers: list[dict], request: AnswerRequest, null_odds: float | None) -> dict:
    line: dict[str, Any] = {"id": record_id, "prediction": answers[0]["answer"] if answers else "", "answers": answers}
    if request.null_odds:
        line["null_odds"] = null_odds
    return line


def answer_share(
    reader: Any, share: list[tuple[int, str, dict]], request: AnswerRequest
) -> list[tuple[int, dict, bool]]:
    """[(position in the chunk, line, whether the model found any answer before min_score)] for this process's
    (position, kind, record) triples."""
    out = []
    single = [(k, rec) for k, kind, rec in share if kind == "context"]
    if single:
        answers, odds = reader.answer(
            [{"id": r["id"], "question": r["question"], "context": r["context"]} for _, r in single],
            top_k=request.top_k,
            n_best_size=request.n_best_size,
            align_to_words=request.align_to_words,
            return_null_odds=True,
        )
        for (k, rec), found, null_odds in zip(single, answers, odds):
            kept = [a for a in found if a["score"] >= request.min_score]
            out.append((k, _line(rec["id"], kept, request, null_odds), bool(found)))
    for k, kind, rec in share:
        if kind == "passages":
            found = answer_passages(
                reader,
                rec["question"],
                rec["contexts"],
                top_k=request.top_k,
                min_score=request.min_score,
                n_best_size=request.n_best_size,
                align_to_words=request.align_to_words,
            )
            out.append((k, _line(rec["id"], found, request, None), True))
    return out


def _answer_chunk(
    reader: Any, chunk: list, procs: Processes, request: AnswerRequest, counts: RunCounts, passages_file: bool
) -> list[dict]:
    """The chunk's lines, in its order, in every process (counted in `counts`)."""
    usable = []
    for k, (where, rec) in enumerate(chunk):
        prepared = prepare(where, rec, counts.report, passages_file)
        if prepared is not None:
            usable.append((k, *prepared))
    answered = procs.gather(answer_share(reader, usable[procs.rank :: procs.world], request))
    by_position = {k: line for k, line, _ in answered}
    counts.written += len(chunk)
    counts.answered += sum(found for _, _, found in answered)
    return [by_position.get(k) or _line(rec["id"], [], request, None) for k, (_, rec) in enumerate(chunk)]


def answer_file(reader: Any, path: str, out: str, request: AnswerRequest, procs: Processes, resume: bool) -> RunCounts:
    """Answer every question of `path` into `out`/predictions.jsonl (continuing its lines with `resume`)."""
    log = os.path.join(out, LOG_NAME)
    counts = RunCounts(resumed=complete_lines(log) if resume else 0)  # the first questions: checked by the command
    procs.wait()  # every process has counted the lines before the main one cuts a torn last line
    if procs.is_main:
        os.makedirs(out, exist_ok=True)
        cut_torn_line(log)
        open(log, "a").close()
    start, total, seen, passages_file, read = time.perf_counter(), count_records(path), SeenIds(), None, 0
    show = procs.is_main and total > PROGRESS_MIN_RECORDS
    with tqdm(total=total, initial=counts.resumed, unit=" questions", desc="Answering", disable=not show) as bar:
        for chunk in chunks(stream_records(path), CHUNK_PER_PROCESS * procs.world):
            seen.add(chunk)
            passages_file = "contexts" in chunk[0][1] if passages_file is None else passages_file
            todo, read = chunk[max(counts.resumed - read, 0) :], read + len(chunk)
            if not todo:
                continue
            lines = _answer_chunk(reader, todo, procs, request, counts, passages_file)
            if procs.is_main:
                append_lines(log, lines)
            bar.update(len(lines))
    counts.seconds = time.perf_counter() - start
    log_report(path, counts.report)
    return counts
