"""From a parsed request to its answers: the cost cap, the lane, the batcher, the response's shape.

Two lanes, each a MicroBatcher with its own worker thread and its own copy of the tokenizer (a fast tokenizer is
not safe across threads): requests of at most `lane_windows` encoder windows go to the small lane, larger ones to
the large lane, where they are cut into chunks served in turn. Before each chunk the large lane lets the small
lane finish what it holds (for at most 2 s, so a flood of small requests cannot starve it), and its thread runs
at niceness 19, so a chunk already running takes only the CPU time the small lane leaves.
A one-line question never waits behind a long document, and long documents share their lane fairly.
Before the service reports ready, each lane runs one forward pass at every window length its reader pads to, at the
reader's one row count (every pass is filled to it), in its own thread (each thread has its own CPU thread pool):
the first request pays for no kernel built and no graph compiled (serve.py compiles the model before, where
`--compile` says so).
"""

from __future__ import annotations

import asyncio
import copy
import inspect
from typing import Any

from ..settings import N_BEST_SIZE, InferenceSettings
from ..inference.passages import merge_ranked, no_answer_probability, with_passage
from .batcher import MicroBatcher
from .cancel import watch
from .cost import WindowCounter
from .schema import Limits, QARequest, RequestError, shape_answers, shape_passage_answers


LARGE_LANE_NICE = 19  # the long requests' model thread runs at the lowest CPU priority (Linux)


def accepted_keywords(fn: Any) -> set[str] | None:
    """The keyword arguments `fn` takes; None if it takes any (**kwargs)."""
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params}


def lane_reader(reader: Any) -> Any:
    """The reader with a private tokenizer copy: same model and settings, safe beside another lane's thread."""
    view = copy.copy(reader)
    view.tokenizer = copy.deepcopy(reader.tokenizer)
    return view


class Service:
    def __init__(
        self,
        reader: Any,
        limits: Limits,
        *,
        max_batch_size: int,
        max_wait_ms: float,
        max_queued: int,
        max_batch_windows: int,
        lane_windows: int,
    ):
        self.limits, self.lane_windows = limits, lane_windows
        self.counter = WindowCounter(reader.tokenizer, getattr(reader, "settings", None) or InferenceSettings())
        self.windows_accepted = 0
        keywords = accepted_keywords(reader.answer)  # align_to_words: only to a Reader that takes it
        n_best = max(N_BEST_SIZE, limits.max_top_k)

        def answer_fn_of(view: Any) -> Any:
            def answer_fn(records: list[dict], top_k: int, settings: dict) -> list[list[dict]]:
                settings = {k: v for k, v in settings.items() if keywords is None or k in keywords}
                # never fewer candidates than predict.py's: expected-F1 decoding ranks over them, so the same
                # question gets the same answer here whatever --max_top_k is
                return view.answer(records, top_k=top_k, n_best_size=n_best, **settings)

            return answer_fn

        self.views = {name: lane_reader(reader) for name in ("small", "large")}
        self.lanes = {
            name: MicroBatcher(
                answer_fn_of(self.views[name]),
                max_batch_size=max_batch_size,
                max_wait_ms=max_wait_ms,
                max_queued=max_queued,
                max_batch_windows=max_batch_windows,
                worker_nice=nice,
            )
            for name, nice in (("small", 0), ("large", LARGE_LANE_NICE))
        }
        self.lanes["large"].defer_to = self.lanes["small"]  # long documents take the CPUs the small lane leaves
        watch(reader.model)  # a model call whose requests all went away stops before its next forward pass

    async def start(self) -> None:
        """The lanes' loops, once each lane has warmed its reader (a reader without `warm_up` is not warmed)."""
        for name, lane in self.lanes.items():
            warm_up = getattr(self.views[name], "warm_up", None)
            if warm_up is not None:
                await lane.in_worker(warm_up)  # at the reader's batch size: every forward pass has that row count
            await lane.start()

    async def stop(self) -> None:
        for lane in self.lanes.values():
            await lane.stop()

    async def answer(self, req: QARequest) -> Any:
        """The response body for `req`, or RequestError (413 over the cost cap); QueueFull when the lane's queue is
        full now, NeverFits when the request has more passages than it ever holds."""
        records, params = req.records, req.parameters
        settings = params.reader_settings()
        costs = await asyncio.to_thread(self.counter.count, records, dict(settings))
        total = sum(costs)
        if total > self.limits.max_request_windows:
            raise RequestError(
                413,
                f"the request would take {total} encoder windows; the limit is "
                f"{self.limits.max_request_windows} a request: send fewer or shorter passages",
            )
        lane = self.lanes["small" if total <= self.lane_windows else "large"]
        top_k = max(self.limits.max_top_k if it.many else params.top_k for it in req.items)
        results = await lane.submit(records, top_k, settings, costs)
        self.windows_accepted += total
        return self.shape(req, results)

    def shape(self, req: QARequest, results: list[list[dict]]) -> Any:
        shaped, at = [], 0
        for n, item in enumerate(req.items):
            mine, at = results[at : at + len(item.contexts)], at + len(item.contexts)
            if item.many:
                pooled = [a for i, answers in enumerate(mine) for a in with_passage(answers, i)]
                kept = merge_ranked(pooled, top_k=req.parameters.top_k, min_score=req.parameters.min_score)
                shaped.append(shape_passage_answers(kept, no_answer_probability(kept)))
                continue
            if not mine[0]:
                where = f"inputs[{n}]" if req.is_list else "inputs"
                raise RequestError(
                    422,
                    f"{where}.context has no token left after the tokenizer's normalization "
                    "(only whitespace or control characters?): nothing to answer from",
                )
            shaped.append(shape_answers(mine[0][: req.parameters.top_k], req.parameters.top_k))
        return shaped if req.is_list else shaped[0]

    @property
    def queued(self) -> int:
        """Passages (question-passage pairs) waiting for the model."""
        return sum(lane.queued for lane in self.lanes.values())

    @property
    def windows_skipped(self) -> int:
        """Windows of requests whose client went away, never computed."""
        return sum(lane.stats.windows_skipped for lane in self.lanes.values())
