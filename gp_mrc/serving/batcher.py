"""A small asyncio micro-batcher: requests that arrive together are answered by one model call.

The first waiting request opens a batch; the batch closes when it holds `max_batch_size` questions or
`max_wait_ms` has passed, and runs in one worker thread (the event loop keeps accepting requests and answering
/health meanwhile). Requests that arrive while the model runs wait for the next batch. Within a batch, requests
with the same reader settings go to the model in one call; a failing call is retried request by request, so one
bad request cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import collections
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable

# answer_fn(records, top_k, settings) -> per record, its answers (Reader.answer's shape)
AnswerFn = Callable[[list[dict], int, dict], list[list[dict]]]


class QueueFull(RuntimeError):
    """More questions wait than the batcher takes (the service answers 503)."""


@dataclass
class _Job:
    records: list[dict]
    top_k: int
    settings: tuple[tuple[str, Any], ...]  # hashable: the batch groups by it
    future: asyncio.Future


@dataclass
class BatchStats:
    batches: int = 0  # model calls
    questions: int = 0
    largest_batch: int = 0
    busy_s: float = 0.0  # time spent in model calls

    def as_dict(self) -> dict[str, Any]:
        return {"model_calls": self.batches, "questions": self.questions, "largest_batch": self.largest_batch,
                "mean_batch": round(self.questions / self.batches, 2) if self.batches else 0.0,
                "busy_s": round(self.busy_s, 3)}


@dataclass
class MicroBatcher:
    answer_fn: AnswerFn
    max_batch_size: int = 32
    max_wait_ms: float = 10.0
    max_queued: int = 1024  # questions waiting; more are refused with QueueFull
    stats: BatchStats = field(default_factory=BatchStats)

    def __post_init__(self) -> None:
        if self.max_batch_size < 1 or self.max_wait_ms < 0 or self.max_queued < 1:
            raise ValueError("max_batch_size and max_queued must be >= 1 and max_wait_ms >= 0")
        # a deque and a wake-up event rather than asyncio.Queue: waiting with a timeout on an Event can never lose a
        # job (wait_for on Queue.get can drop an item on Python < 3.12 when the timeout and the item coincide)
        self._pending: collections.deque[_Job] = collections.deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._queued = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gp_mrc-model")

    async def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._executor.shutdown(wait=True)

    async def submit(self, records: list[dict], top_k: int, settings: tuple[tuple[str, Any], ...]) -> list[list[dict]]:
        """Answers for `records` (in their order), once the batch holding them has run."""
        if self._wakeup is None:
            raise RuntimeError("MicroBatcher.start() has not run")
        if self._queued + len(records) > self.max_queued:
            raise QueueFull(f"{self._queued} questions are waiting; the limit is {self.max_queued}")
        future = asyncio.get_running_loop().create_future()
        self._queued += len(records)
        self._pending.append(_Job(records, top_k, settings, future))
        self._wakeup.set()
        return await future

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._wakeup is not None
        while True:
            while not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
            batch = [self._pending.popleft()]
            size = len(batch[0].records)
            deadline = loop.time() + self.max_wait_ms / 1000
            while size < self.max_batch_size:
                if self._pending:  # take what is already waiting, then wait out the rest of max_wait_ms for more
                    batch.append(self._pending.popleft())
                    size += len(batch[-1].records)
                    continue
                left = deadline - loop.time()
                if left <= 0:
                    break
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), left)
                except asyncio.TimeoutError:
                    break
            self._queued -= size
            try:
                outcomes = await loop.run_in_executor(self._executor, self._run, batch)
            except Exception as e:  # noqa: BLE001  (a bug in _run must not leave requests waiting forever)
                outcomes = [e] * len(batch)
            for job, outcome in zip(batch, outcomes):
                if job.future.done():  # the client went away
                    continue
                if isinstance(outcome, BaseException):
                    job.future.set_exception(outcome)
                else:
                    job.future.set_result(outcome)

    def _run(self, batch: list[_Job]) -> list[Any]:
        """In the worker thread: one model call per group of equal settings; per job, its answers or its error."""
        groups: dict[Hashable, list[int]] = {}
        for n, job in enumerate(batch):
            groups.setdefault(job.settings, []).append(n)
        outcomes: list[Any] = [None] * len(batch)
        for settings, members in groups.items():
            jobs = [batch[n] for n in members]
            try:
                results = self._call([r for j in jobs for r in j.records], max(j.top_k for j in jobs), settings)
            except Exception as e:  # noqa: BLE001  (isolate the failing request, below)
                if len(jobs) == 1:
                    outcomes[members[0]] = e
                    continue
                for n, job in zip(members, jobs):
                    try:
                        outcomes[n] = self._call(job.records, job.top_k, settings)
                    except Exception as e1:  # noqa: BLE001
                        outcomes[n] = e1
                continue
            at = 0
            for n, job in zip(members, jobs):
                outcomes[n] = [answers[:job.top_k] for answers in results[at:at + len(job.records)]]
                at += len(job.records)
        return outcomes

    def _call(self, records: list[dict], top_k: int, settings: tuple[tuple[str, Any], ...]) -> list[list[dict]]:
        t = time.perf_counter()
        results = self.answer_fn(records, top_k, dict(settings))
        self.stats.busy_s += time.perf_counter() - t
        self.stats.batches += 1
        self.stats.questions += len(records)
        self.stats.largest_batch = max(self.stats.largest_batch, len(records))
        return results
