"""Issue #24 point 5: one request cannot hold everyone. A request over the cost cap (encoder windows) is refused
with 413; a one-line question is answered while a long request runs (its own lane); long requests are cut into
chunks of windows served in turn, so two of them progress together; window counts match the tokenizer's."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import torch

pytest.importorskip("fastapi", reason="the service needs the serve extra: pip install -e '.[serve]'")
from fastapi.testclient import TestClient

from gp_mrc.serving.app import create_app
from gp_mrc.serving.batcher import MicroBatcher
from gp_mrc.serving.cost import WindowCounter
from gp_mrc.serving.schema import Limits
from gp_mrc.settings import InferenceSettings

SETTINGS = InferenceSettings(max_seq_length=64, doc_stride=16)
LONG = "the city was founded by the first king . " * 30  # about 300 tokens: 6 windows of 64
SHORT = "the king was born in 1811 ."
RECORD_S = 0.4  # the fake model's time per long passage


class SlowReader:
    """A reader whose time is its long passages' (as a real one's is its windows'), answering each record alone."""

    model = torch.nn.Linear(1, 1)
    settings = SETTINGS

    def __init__(self, tokenizer):
        self.tokenizer, self.calls = tokenizer, []

    def answer(self, records, *, top_k=1, n_best_size=20, **kwargs):
        self.calls.append([r["question"] for r in records])
        time.sleep(sum(RECORD_S if len(r["context"]) > 200 else 0.01 for r in records))
        return [[{"answer": r["question"], "score": 0.5, "start": 0, "end": 3}] for r in records]


def timed_post(client, body, out, key):
    t = time.perf_counter()
    r = client.post("/", json=body)
    out[key] = (r, time.perf_counter() - t)


def test_a_one_line_question_is_answered_while_a_long_request_runs(tiny_tokenizer):
    reader = SlowReader(tiny_tokenizer)
    big = {"inputs": [{"question": f"long {n}", "context": LONG} for n in range(8)]}  # 8 x 0.4 s of model
    with TestClient(create_app(reader, max_batch_windows=8)) as c:
        out: dict = {}
        first = threading.Thread(target=timed_post, args=(c, big, out, "big"))
        first.start()
        time.sleep(0.3)
        timed_post(c, {"inputs": {"question": "short", "context": SHORT}}, out, "small")
        first.join()
    small, small_s = out["small"]
    big_r, big_s = out["big"]
    assert small.status_code == 200 and small.json()["answer"] == "short"
    assert small_s < 1.0, f"the one-line question waited {small_s:.2f}s behind the long request"
    assert big_r.status_code == 200 and [a["answer"] for a in big_r.json()] == [f"long {n}" for n in range(8)]
    assert big_s >= 8 * RECORD_S


def test_two_long_requests_take_turns(tiny_tokenizer):
    reader = SlowReader(tiny_tokenizer)
    a = {"inputs": [{"question": f"a{n}", "context": LONG} for n in range(6)]}
    b = {"inputs": [{"question": f"b{n}", "context": LONG} for n in range(2)]}
    with TestClient(create_app(reader, max_batch_windows=8)) as c:  # one long passage (6 windows) per model call
        out: dict = {}
        first = threading.Thread(target=timed_post, args=(c, a, out, "a"))
        first.start()
        time.sleep(0.1)
        timed_post(c, b, out, "b")
        first.join()
    assert out["a"][0].status_code == out["b"][0].status_code == 200
    assert out["b"][1] < 4 * RECORD_S + 0.6, "the second long request waited for the whole first one"
    order = [q for call in reader.calls for q in call]
    assert order.index("b1") < order.index("a5")  # interleaved, not first come first served
    assert all(len(call) == 1 for call in reader.calls)  # chunks of at most max_batch_windows


def test_a_request_over_the_cost_cap_is_refused_with_413(tiny_tokenizer):
    reader = SlowReader(tiny_tokenizer)
    with TestClient(create_app(reader, limits=Limits(max_request_windows=10))) as c:
        r = c.post("/", json={"inputs": [{"question": "q", "context": LONG}] * 2})
        ok = c.post("/", json={"inputs": {"question": "q", "context": LONG}})
    assert r.status_code == 413 and r.json()["error"] == (
        "the request would take 12 encoder windows; the limit is 10 a request: send fewer or shorter passages"
    )
    assert ok.status_code == 200 and reader.calls == [["q"]]  # the refused one never reached the model


def test_window_counts_match_the_tokenizer(tiny_tokenizer):
    counter = WindowCounter(tiny_tokenizer, SETTINGS)
    records = [{"question": "who founded the city?", "context": c} for c in (SHORT, LONG, LONG * 3, "x " * 45)]
    for overrides in ({}, {"max_seq_length": 48, "doc_stride": 8}, {"max_query_length": 2}):
        seq = overrides.get("max_seq_length", 64)
        stride = overrides.get("doc_stride", 16)
        want = []
        for r in records:
            q = tiny_tokenizer(r["question"], add_special_tokens=False)["input_ids"][
                : overrides.get("max_query_length", 64)
            ]
            enc = tiny_tokenizer(
                tiny_tokenizer.decode(q),
                r["context"],
                truncation="only_second",
                max_length=seq,
                stride=stride,
                return_overflowing_tokens=True,
            )
            want.append(len(enc["input_ids"]))
        assert counter.count(records, overrides) == want, overrides


def test_the_batcher_serves_long_jobs_in_chunks_round_robin():
    calls: list = []

    def answer(records, top_k, settings):
        calls.append([r["question"] for r in records])
        return [[{"answer": r["question"]}] for r in records]

    async def scenario():
        b = MicroBatcher(answer, max_batch_size=32, max_wait_ms=20, max_batch_windows=2)
        await b.start()
        results = await asyncio.gather(
            b.submit([{"question": f"a{n}"} for n in range(4)], 1, (), [1] * 4),
            b.submit([{"question": f"b{n}"} for n in range(2)], 1, (), [1] * 2),
            b.submit([{"question": "c0"}], 1, (), [5]),
        )  # over the chunk: alone
        await b.stop()
        return results

    a, b_, c = asyncio.run(scenario())
    assert calls == [["a0", "a1"], ["b0", "b1"], ["c0"], ["a2", "a3"]]
    assert [r[0]["answer"] for r in a] == ["a0", "a1", "a2", "a3"] and c[0][0]["answer"] == "c0"


def test_the_large_lane_lets_the_small_one_go_first_but_is_not_starved():
    events: list = []

    def answer_of(name, seconds):
        def answer(records, top_k, settings):
            events.append((name, "start", time.perf_counter()))
            time.sleep(seconds)
            events.append((name, "end", time.perf_counter()))
            return [[{"answer": name}] for _ in records]

        return answer

    async def scenario():
        small = MicroBatcher(answer_of("small", 0.3), max_wait_ms=1)
        large = MicroBatcher(answer_of("large", 0.05), max_wait_ms=1, defer_to=small, max_defer_s=0.5)
        await small.start()
        await large.start()
        first = asyncio.ensure_future(small.submit([{"question": "s"}], 1, ()))
        await asyncio.sleep(0.05)  # the small one is in the model
        await large.submit([{"question": "l"}], 1, ())
        await first

        # a flood: the small lane never idle for 1.5 s; the large one still runs within max_defer_s (+ one call)
        async def one_after_another():
            stop = time.perf_counter() + 1.5
            while time.perf_counter() < stop:
                await small.submit([{"question": "s"}], 1, ())

        flood = asyncio.ensure_future(one_after_another())
        await asyncio.sleep(0.05)
        t = time.perf_counter()
        await large.submit([{"question": "l"}], 1, ())
        waited = time.perf_counter() - t
        await flood
        await small.stop()
        await large.stop()
        return waited

    waited = asyncio.run(scenario())
    small_end = next(t for name, kind, t in events if (name, kind) == ("small", "end"))
    large_start = next(t for name, kind, t in events if (name, kind) == ("large", "start"))
    assert large_start >= small_end  # it waited for the small lane's call
    assert waited < 0.5 + 0.3 + 0.3, waited  # not starved by the flood


@pytest.mark.skipif(not hasattr(__import__("os"), "setpriority"), reason="thread niceness is Linux's")
def test_the_large_lane_thread_runs_at_a_lower_priority(tiny_tokenizer):
    import os

    seen = {}

    def answer(records, top_k, settings):
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        return [[{"answer": "x"}] for _ in records]

    base = os.getpriority(os.PRIO_PROCESS, 0)

    async def scenario():
        b = MicroBatcher(answer, worker_nice=5)
        await b.start()
        await b.submit([{"question": "q"}], 1, ())
        await b.stop()

    asyncio.run(scenario())
    assert seen["nice"] == min(19, base + 5)
    app = create_app(SlowReader(tiny_tokenizer))
    assert app.state.service.lanes["large"].worker_nice == 19 and app.state.service.lanes["small"].worker_nice == 0
