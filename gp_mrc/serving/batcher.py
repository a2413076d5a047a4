"""A small asyncio micro-batcher: requests that arrive together are answered by one model call, and a large
request is cut into chunks served in turn with everyone else's, so it cannot hold the model for long.

A job is a request's records, each with a cost (its encoder windows). The first waiting job opens a batch; the
batch takes records from the waiting jobs in turn (round-robin: a job with records left goes to the back of the
line) until it holds `max_batch_size` records or `max_batch_windows` windows, or `max_wait_ms` has passed, and runs
in one worker thread (the event loop keeps accepting requests meanwhile). A job is answered once all its records
are. Within a batch, records with the same reader settings go to the model in one call (calls.py, the worker
thread's side); a failing call is retried job by job, so one bad request cannot fail its neighbours; the reader answers every record on its own windows, so
a record's answers do not depend on what shares its batch. A batcher given `defer_to` (the service's large lane)
lets that one finish what it holds before each batch, for at most `max_defer_s`.

A job whose caller goes away (its `submit` is cancelled) leaves the queue at once: its records not yet in a batch
are dropped, and a model call holding some of them stops before its next forward pass if no other job in it is
still wanted (cancel.py). The windows never computed are counted (`BatchStats.windows_skipped`).
"""

from __future__ import annotations

import asyncio
import collections
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .calls import AnswerFn, BatchStats, Job, Part, run_parts, set_nice
from .schema import Batching


class QueueFull(RuntimeError):
    """The queue has no room for the job now (the service answers 503: waiting helps)."""

    def __init__(self, waiting: int, limit: int):
        super().__init__(f"{waiting} records are waiting; the queue holds {limit}")
        self.waiting, self.limit = waiting, limit


class NeverFits(ValueError):
    """The job has more records than the queue ever holds (the service answers 413: waiting cannot help)."""

    def __init__(self, records: int, limit: int):
        super().__init__(f"{records} records; the queue holds at most {limit}")
        self.records, self.limit = records, limit


@dataclass
class MicroBatcher:
    answer_fn: AnswerFn
    # the defaults are the service's (schema.Batching, their one owner)
    max_batch_size: int = Batching.max_batch_size
    max_wait_ms: float = Batching.max_wait_ms
    max_queued: int = Batching.max_queued  # records waiting; more are refused with QueueFull (NeverFits: ever)
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
        self._pending: collections.deque[Job] = collections.deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._queued = 0
        self._running = False
        self._idle: asyncio.Event | None = None
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="gp_mrc-model", initializer=set_nice, initargs=(self.worker_nice,)
        )

    @property
    def queued(self) -> int:
        """Records (question-passage pairs) waiting for the model."""
        return self._queued

    @property
    def busy(self) -> bool:
        """Answering, or holding questions that wait."""
        return self._running or self._queued > 0

    async def in_worker(self, fn: Any, *args: Any) -> Any:
        """fn(*args) in the model thread (the service warms its reader there before it starts)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

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
        if len(records) > self.max_queued:
            raise NeverFits(len(records), self.max_queued)
        if self._queued + len(records) > self.max_queued:
            raise QueueFull(self._queued, self.max_queued)
        job = Job(
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
            if not job.future.done() or job.future.cancelled():  # the caller went away
                self._abandon(job)

    def _drop_rest(self, job: Job) -> int:
        """Takes the job's records not yet in a batch out of the queue; their windows."""
        left = job.costs[job.taken :]
        if left:
            self._queued -= len(left)
            job.taken = len(job.records)
            try:
                self._pending.remove(job)
            except ValueError:  # popped by _take, which puts back only jobs with records left
                pass
        return sum(left)

    def _abandon(self, job: Job) -> None:
        """The caller went away: its records leave the queue, and a model call holding some stops early (_run)."""
        job.cancelled = True
        if not job.future.done():
            job.future.cancel()
        self.stats.windows_skipped += self._drop_rest(job)
        if not self.busy and self._idle is not None:
            self._idle.set()

    def _take(self, parts: list[Part], size: int, windows: int) -> tuple[int, int, bool]:
        """Records from the first waiting job into `parts`, within the batch's limits; (size, windows, full)."""
        job = self._pending.popleft()
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
            parts.append(Part(job, start, job.taken))
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
            parts: list[Part] = []
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

    async def _answer(self, loop: asyncio.AbstractEventLoop, parts: list[Part]) -> None:
        await self._yield_to_the_other_lane()
        self._running = True
        try:
            outcomes, skipped = await loop.run_in_executor(self._executor, run_parts, self.answer_fn, parts, self.stats)
        except Exception as e:  # noqa: BLE001  (a bug in _run must not leave requests waiting forever)
            outcomes, skipped = [e] * len(parts), 0
        finally:
            self._running = False
        self.stats.windows_skipped += skipped
        for part, outcome in zip(parts, outcomes):
            job = part.job
            if job.future.done():  # the client went away, or another part failed
                continue
            if isinstance(outcome, BaseException):
                job.future.set_exception(outcome)
                self._drop_rest(job)  # its other records would be answered for nobody
                continue
            job.results[part.start : part.stop] = outcome
            job.done += part.stop - part.start
            if job.done == len(job.records):
                job.future.set_result(job.results)
        if not self.busy:
            self._idle.set()  # type: ignore[union-attr]


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
