"""The model's side of the micro-batcher, run in a lane's worker thread: a job (a request's records, each with
its cost in encoder windows) is answered in parts (records [start, stop) in one batch); within a batch, records
with the same reader settings go to the model in one call; a failing call is retried job by job, so one bad
request cannot fail its neighbours; a call whose jobs all went away stops before its next forward pass
(cancel.py). `BatchStats` counts the calls."""

from __future__ import annotations

import asyncio
import collections
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable

from .cancel import CallCancelled, CallGuard

# answer_fn(records, top_k, settings) -> per record, its answers (Reader.answer's shape)
AnswerFn = Callable[[list[dict], int, dict], list[list[dict]]]


def set_nice(nice: int) -> None:
    """In the worker thread: lower its priority by `nice` (a Linux thread is a task of its own; the threads torch
    starts from it inherit the value). A chunk of a long request already running cannot be paused, but at a higher
    niceness it takes only the CPU time the other lane leaves."""
    if nice and hasattr(os, "setpriority"):
        try:  # relative to the process's own (a service started under `nice` keeps its lanes apart)
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
        except OSError:  # not allowed here: run at the process's priority
            pass


@dataclass(eq=False)
class Job:
    records: list[dict]
    costs: list[int]
    top_k: int
    settings: tuple[tuple[str, Any], ...]  # hashable: the batch groups by it
    future: asyncio.Future
    taken: int = 0  # records already in a batch
    done: int = 0  # records answered
    results: list = field(default_factory=list)
    cancelled: bool = False  # its caller went away (read by the worker thread between forward passes)

    def __post_init__(self) -> None:
        self.results = [None] * len(self.records)


@dataclass
class Part:  # records [start, stop) of a job, in one batch
    job: Job
    start: int
    stop: int


@dataclass
class BatchStats:
    batches: int = 0  # model calls
    questions: int = 0
    largest_batch: int = 0
    busy_s: float = 0.0  # time spent in model calls
    sizes: collections.Counter = field(default_factory=collections.Counter)  # records per model call → calls
    windows_skipped: int = 0  # windows of jobs whose caller went away, never computed

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_calls": self.batches,
            "questions": self.questions,
            "largest_batch": self.largest_batch,
            "mean_batch": round(self.questions / self.batches, 2) if self.batches else 0.0,
            "busy_s": round(self.busy_s, 3),
        }


def run_parts(answer_fn: AnswerFn, parts: list[Part], stats: BatchStats) -> tuple[list[Any], int]:
    """In the worker thread: one model call per group of equal settings; per part, its answers or its error; and
    the windows skipped by calls whose jobs all went away."""
    groups: dict[Hashable, list[int]] = {}
    for n, part in enumerate(parts):
        groups.setdefault(part.job.settings, []).append(n)
    outcomes: list[Any] = [None] * len(parts)
    skipped = 0
    for settings, members in groups.items():
        mine = [parts[n] for n in members]
        try:
            results = call_model(answer_fn, mine, max(p.job.top_k for p in mine), settings, stats)
        except CallCancelled as e:
            skipped += e.skipped
            for n in members:
                outcomes[n] = e
            continue
        except Exception as e:  # noqa: BLE001  (isolate the failing request, below)
            for n, p in zip(members, mine):
                try:
                    outcomes[n] = e if len(mine) == 1 else call_model(answer_fn, [p], p.job.top_k, settings, stats)
                except CallCancelled as e1:
                    skipped += e1.skipped
                    outcomes[n] = e1
                except Exception as e1:  # noqa: BLE001
                    outcomes[n] = e1
            continue
        at = 0
        for n, p in zip(members, mine):
            outcomes[n] = [answers[: p.job.top_k] for answers in results[at : at + p.stop - p.start]]
            at += p.stop - p.start
    return outcomes, skipped


def call_model(
    answer_fn: AnswerFn, parts: list[Part], top_k: int, settings: tuple[tuple[str, Any], ...], stats: BatchStats
) -> list[list[dict]]:
    """The parts' records through the model in one call, stopped early (CallCancelled with the windows never
    computed) once none of their jobs is wanted."""
    records = [r for p in parts for r in p.job.records[p.start : p.stop]]
    t = time.perf_counter()
    guard = CallGuard(lambda: any(not p.job.cancelled for p in parts))
    try:
        with guard:
            if not guard.wanted():
                raise CallCancelled()
            results = answer_fn(records, top_k, dict(settings))
    except CallCancelled:
        windows = sum(c for p in parts for c in p.job.costs[p.start : p.stop])
        raise CallCancelled(max(0, windows - guard.windows)) from None
    stats.busy_s += time.perf_counter() - t
    stats.batches += 1
    stats.questions += len(records)
    stats.largest_batch = max(stats.largest_batch, len(records))
    stats.sizes[len(records)] += 1
    return results
