"""A small asyncio micro-batcher: requests that arrive together are answered by one model call, and a large
request is cut into chunks served in turn with everyone else's, so it cannot hold the model for long.

A job is a request's records, each with a cost (its encoder windows). The first waiting job opens a batch; the
batch takes records from the waiting jobs in turn (round-robin: a job with records left goes to the back of the
line) until it holds `max_batch_size` records or `max_batch_windows` windows, or `max_wait_ms` has passed, and runs
in one worker thread (the event loop keeps accepting requests meanwhile). A job is answered once all its records
are. Within a batch, records with the same reader settings go to the model in one call; a failing call is retried
job by job, so one bad request cannot fail its neighbours; the reader answers every record on its own windows, so
a record's answers do not depend on what shares its batch. A batcher given `defer_to` (the service's large lane)
lets that one finish what it holds before each batch, for at most `max_defer_s`.
"""

from __future__ import annotations

import asyncio
import collections
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable

from .schema import Batching

# answer_fn(records, top_k, settings) -> per record, its answers (Reader.answer's shape)
AnswerFn = Callable[[list[dict], int, dict], list[list[dict]]]


class QueueFull(RuntimeError):
    """More questions wait than the batcher takes (the service answers 503)."""


def _set_nice(nice: int) -> None:
    """In the worker thread: lower its priority (a Linux thread is a task of its own; the threads torch starts
    from it inherit the value). A chunk of a long request already running cannot be paused, but at a higher
    niceness it takes only the CPU time the other lane leaves."""
    if nice and hasattr(os, "setpriority"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        except OSError:  # not allowed here: run at the process's priority
            pass


@dataclass(eq=False)
class _Job:
    records: list[dict]
    costs: list[int]
    top_k: int
    settings: tuple[tuple[str, Any], ...]  # hashable: the batch groups by it
    future: asyncio.Future
    taken: int = 0  # records already in a batch
    done: int = 0  # records answered
    results: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.results = [None] * len(self.records)


@dataclass
class _Part:  # records [start, stop) of a job, in one batch
    job: _Job
    start: int
    stop: int


@dataclass
class BatchStats:
    batches: int = 0  # model calls
    questions: int = 0
    largest_batch: int = 0
    busy_s: float = 0.0  # time spent in model calls
    sizes: collections.Counter = field(default_factory=collections.Counter)  # records per model call → calls

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_calls": self.batches,
            "questions": self.questions,
            "largest_batch": self.largest_batch,
            "mean_batch": round(self.questions / self.batches, 2) if self.batches else 0.0,
            "busy_s": round(self.busy_s, 3),
        }


@dataclass
class MicroBatcher:
    answer_fn: AnswerFn
    # the defaults are the service's (schema.Batching, their one owner)
    max_batch_size: int = Batching.max_batch_size
    max_wait_ms: float = Batching.max_wait_ms
    max_queued: int = Batching.max_queued  # questions waiting; more are refused with QueueFull
    # windows per model call: how long another request may wait behind one call
    max_batch_windows: int = Batching.max_batch_windows
    defer_to: "MicroBatcher | None" = None  # a lane that goes first: wait while it is busy (CPUs are shared)
    max_defer_s: float = 2.0  # but never longer than this per batch, so a flood there cannot starve this lane
    worker_nice: int = 0  # the model thread's niceness (Linux): a higher one yields the CPUs to the other lane
    stats: BatchStats = field(default_factory=BatchStats)

    def __post_init__(self) -> None:
        if self.max_batch_size < 1 or self.max_wait_ms < 0 or self.max_queued < 1 or self.max_batch_windows < 1:
            raise ValueError("max_batch_size, max_batch_windows and max_queued must be >= 1 and max_wait_ms >= 0")
        # a deque and a wake-up event rather than asyncio.Queue: waiting with a timeout on an Event can never lose a
        # job (wait_for on Queue.get can drop an item on Python < 3.12 when the timeout and the item coincide)
        self._pending: collections.deque[_Job] = collections.deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._queued = 0
        self._running = False
        self._idle: asyncio.Event | None = None
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="gp_mrc-model", initializer=_set_nice, initargs=(self.worker_nice,)
        )

    @property
    def queued(self) -> int:
        """Questions waiting for the model."""
        return self._queued

    @property
    def busy(self) -> bool:
        """Answering, or holding questions that wait."""
        return self._running or self._queued > 0

    async def start(self) -> None:
        self._wakeup, self._idle = asyncio.Event(), asyncio.Event()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._executor.shutdown(wait=True)

    async def submit(
        self, records: list[dict], top_k: int, settings: tuple[tuple[str, Any], ...], costs: list[int] | None = None
    ) -> list[list[dict]]:
        """Answers for `records` (in their order), once every batch holding them has run. `costs`: each record's
        windows (1 each if not given)."""
        if self._wakeup is None:
            raise RuntimeError("MicroBatcher.start() has not run")
        if self._queued + len(records) > self.max_queued:
            raise QueueFull(f"{self._queued} questions are waiting; the limit is {self.max_queued}")
        job = _Job(
            records,
            list(costs) if costs is not None else [1] * len(records),
            top_k,
            settings,
            asyncio.get_running_loop().create_future(),
        )
        self._queued += len(records)
        self._pending.append(job)
        self._wakeup.set()
        try:
            return await job.future
        finally:
            if not job.future.done():  # the client went away: its records left in the line are dropped
                job.future.cancel()

    def _take(self, parts: list[_Part], size: int, windows: int) -> tuple[int, int, bool]:
        """Records from the first waiting job into `parts`, within the batch's limits; (size, windows, full)."""
        job = self._pending.popleft()
        if job.future.done():  # answered with an error, or its client went away
            self._queued -= len(job.records) - job.taken
            return size, windows, False
        start = job.taken
        while (
            job.taken < len(job.records)
            and size < self.max_batch_size
            and (size == 0 or windows + job.costs[job.taken] <= self.max_batch_windows)
        ):
            windows += job.costs[job.taken]
            size += 1
            job.taken += 1
        if job.taken > start:
            parts.append(_Part(job, start, job.taken))
            self._queued -= job.taken - start
        if job.taken == start:
            self._pending.appendleft(job)  # nothing fitted: it keeps its turn for the next batch
            return size, windows, True
        if job.taken < len(job.records):
            self._pending.append(job)  # round-robin: the rest waits behind the other jobs
            return size, windows, True
        return size, windows, False

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._wakeup is not None
        while True:
            while not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
            parts: list[_Part] = []
            size = windows = 0
            deadline = loop.time() + self.max_wait_ms / 1000
            while True:
                if self._pending:  # take what is already waiting, then wait out the rest of max_wait_ms for more
                    size, windows, full = self._take(parts, size, windows)
                    if full or size >= self.max_batch_size:
                        break
                    continue
                if not parts or not await _woken_before(self._wakeup, deadline):
                    break
            if parts:
                await self._answer(loop, parts)

    async def _yield_to_the_other_lane(self) -> None:
        other = self.defer_to
        if other is None or other._idle is None:
            return
        deadline = asyncio.get_running_loop().time() + self.max_defer_s
        while other.busy:
            if not await _woken_before(other._idle, deadline):
                return

    async def _answer(self, loop: asyncio.AbstractEventLoop, parts: list[_Part]) -> None:
        await self._yield_to_the_other_lane()
        self._running = True
        try:
            outcomes = await loop.run_in_executor(self._executor, self._run, parts)
        except Exception as e:  # noqa: BLE001  (a bug in _run must not leave requests waiting forever)
            outcomes = [e] * len(parts)
        finally:
            self._running = False
        for part, outcome in zip(parts, outcomes):
            job = part.job
            if job.future.done():  # the client went away, or another part failed
                continue
            if isinstance(outcome, BaseException):
                job.future.set_exception(outcome)
                continue
            job.results[part.start : part.stop] = outcome
            job.done += part.stop - part.start
            if job.done == len(job.records):
                job.future.set_result(job.results)
        if not self.busy:
            self._idle.set()  # type: ignore[union-attr]

    def _run(self, parts: list[_Part]) -> list[Any]:
        """In the worker thread: one model call per group of equal settings; per part, its answers or its error."""
        groups: dict[Hashable, list[int]] = {}
        for n, part in enumerate(parts):
            groups.setdefault(part.job.settings, []).append(n)
        outcomes: list[Any] = [None] * len(parts)
        for settings, members in groups.items():
            mine = [parts[n] for n in members]
            try:
                results = self._call(
                    [r for p in mine for r in p.job.records[p.start : p.stop]], max(p.job.top_k for p in mine), settings
                )
            except Exception as e:  # noqa: BLE001  (isolate the failing request, below)
                for n, p in zip(members, mine):
                    try:
                        outcomes[n] = (
                            e if len(mine) == 1 else self._call(p.job.records[p.start : p.stop], p.job.top_k, settings)
                        )
                    except Exception as e1:  # noqa: BLE001
                        outcomes[n] = e1
                continue
            at = 0
            for n, p in zip(members, mine):
                outcomes[n] = [answers[: p.job.top_k] for answers in results[at : at + p.stop - p.start]]
                at += p.stop - p.start
        return outcomes

    def _call(self, records: list[dict], top_k: int, settings: tuple[tuple[str, Any], ...]) -> list[list[dict]]:
        t = time.perf_counter()
        results = self.answer_fn(records, top_k, dict(settings))
        self.stats.busy_s += time.perf_counter() - t
        self.stats.batches += 1
        self.stats.questions += len(records)
        self.stats.largest_batch = max(self.stats.largest_batch, len(records))
        self.stats.sizes[len(records)] += 1
        return results


async def _woken_before(event: asyncio.Event, deadline: float) -> bool:
    """Clears `event` and waits for it to be set again, until the loop's clock reaches `deadline`; False if it
    was not (the deadline passed, or had passed already)."""
    left = deadline - asyncio.get_running_loop().time()
    if left <= 0:
        return False
    event.clear()
    try:
        await asyncio.wait_for(event.wait(), left)
    except asyncio.TimeoutError:
        return False
    return True
