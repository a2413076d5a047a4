"""The HTTP service (gp_mrc/serving): the Inference API's question-answering schema, answers equal to Reader's,
requests batched together, and every bad request refused with a 4xx and a one-line JSON message."""

from __future__ import annotations

import asyncio

import pytest
from conftest import post_json, serving_client
import torch

pytest.importorskip("fastapi", reason="the service needs the serve extra: pip install -e '.[serve]'")
from fastapi.testclient import TestClient

from gp_mrc.inference.reader import Reader
from gp_mrc.serving.app import create_app
from gp_mrc.serving.batcher import MicroBatcher
from gp_mrc.serving.schema import Limits, shape_answers

C1 = "the king was born in 1811 . the queen was born in 1861 ."
C2 = "the river is long . the city was founded in 1875 by the first king ."
Q1, Q2 = "when was the king born?", "who founded the city?"
LIMITS = Limits(max_body_bytes=4000, max_context_chars=300, max_question_chars=50, max_inputs=3, max_top_k=5)


@pytest.fixture(scope="module")
def client(reader):
    with serving_client(reader, LIMITS) as c:
        yield c


post = post_json


def test_one_question_answers_as_reader_does(client, reader):
    r = post(client, {"inputs": {"question": Q1, "context": C1}})
    assert r.status_code == 200
    got = r.json()
    want = reader.answer([{"question": Q1, "context": C1}], top_k=1)[0][0]
    assert list(got) == ["answer", "score", "start", "end"]
    assert got["answer"] == want["answer"] == C1[got["start"] : got["end"]] != ""
    assert got["score"] == pytest.approx(want["score"], abs=1e-6)


def test_top_k_and_parameters_give_a_list_as_reader_does(client, reader):
    params = {
        "top_k": 3,
        "max_answer_len": 4,
        "doc_stride": 8,
        "max_seq_len": 32,
        "max_question_len": 10,
        "handle_impossible_answer": False,
    }
    got = post(client, {"inputs": {"question": Q2, "context": C2}, "parameters": params}).json()
    want = reader.answer(
        [{"question": Q2, "context": C2}],
        top_k=3,
        max_answer_length=4,
        doc_stride=8,
        max_seq_length=32,
        max_query_length=10,
        handle_impossible_answer=False,
    )[0]
    assert [a["answer"] for a in got] == [a["answer"] for a in want] and len(got) == 3
    assert all(len(a["answer"].split()) <= 4 and C2[a["start"] : a["end"]] == a["answer"] for a in got)
    assert [a["score"] for a in got] == sorted((a["score"] for a in got), reverse=True)


def test_a_list_of_inputs_gives_a_list_in_order(client):
    one = [post(client, {"inputs": {"question": q, "context": c}}).json() for q, c in ((Q1, C1), (Q2, C2))]
    both = post(client, {"inputs": [{"question": Q1, "context": C1}, {"question": Q2, "context": C2}]}).json()
    assert [a["answer"] for a in both] == [a["answer"] for a in one]
    assert post(client, {"inputs": [{"question": Q1, "context": C1}]}).json()[0]["answer"] == one[0]["answer"]


def test_impossible_answer_parameter_reaches_the_reader(client, reader):
    got = post(
        client,
        {"inputs": {"question": Q1, "context": C1}, "parameters": {"handle_impossible_answer": True, "top_k": 5}},
    ).json()
    want = reader.answer(
        [{"question": Q1, "context": C1}],
        top_k=5,  # the reader's own n-best (20), as the service's: predict.py's answers whatever --max_top_k is
        handle_impossible_answer=True,
    )[0]
    assert [(a["answer"], a["start"] if a["start"] >= 0 else 0) for a in want] == [
        (a["answer"], a["start"]) for a in got
    ]


def test_the_null_answer_sits_at_0_0_as_in_the_pipeline():
    null = {"answer": "", "score": 0.5, "start": -1, "end": -1}
    assert shape_answers([null], 1) == {"answer": "", "score": 0.5, "start": 0, "end": 0}
    assert shape_answers([null, dict(null, answer="x", start=3, end=4)], 2)[1]["start"] == 3


def test_health_reports_model_limits_and_batching(client):
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["architecture"] == "globalpointer" and h["heat_map"] is True
    assert h["limits"]["max_top_k"] == 5 and h["limits"]["max_seq_len"] == 512
    assert h["batching"]["model_calls"] >= 1


def test_the_page_is_served(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'id="question"' in r.text and 'id="context"' in r.text and 'fetch("/"' in r.text


BAD = [  # (body, status, words the message must hold)
    (b"{not json", 400, "not valid JSON"),
    (b"\xff\xfe", 400, "not UTF-8"),
    ([1, 2], 422, "JSON object"),
    ({}, 422, 'missing field "inputs"'),
    ({"inputs": {"question": Q1, "context": C1}, "extra": 1}, 422, "unknown request field 'extra'"),
    ({"inputs": "a string"}, 422, "inputs must be an object"),
    ({"inputs": []}, 422, "empty list"),
    ({"inputs": [{"question": Q1, "context": C1}] * 4}, 422, "4 questions; the limit is 3"),
    ({"inputs": {"context": C1}}, 422, 'inputs is missing "question"'),
    ({"inputs": [{"question": Q1, "context": C1}, {"question": Q1}]}, 422, 'inputs[1] is missing "context"'),
    ({"inputs": {"question": 5, "context": C1}}, 422, "inputs.question must be a string, got integer"),
    ({"inputs": {"question": Q1, "context": None}}, 422, "inputs.context must be a string, got null"),
    ({"inputs": {"question": "  ", "context": C1}}, 422, "inputs.question is empty"),
    ({"inputs": {"question": Q1, "context": C1, "id": 3}}, 422, "unknown field 'id'"),
    ({"inputs": {"question": "q" * 51, "context": C1}}, 422, "51 characters; the limit is 50"),
    ({"inputs": {"question": Q1, "context": "a " * 151}}, 422, "302 characters; the limit is 300"),
    ({"inputs": {"question": Q1, "context": C1}, "parameters": [1]}, 422, '"parameters" must be an object'),
    ({"inputs": {"question": Q1, "context": C1}, "parameters": {"topk": 2}}, 422, "unknown parameter 'topk'"),
    ({"inputs": {"question": Q1, "context": C1}, "parameters": {"top_k": "3"}}, 422, "top_k must be an integer"),
    ({"inputs": {"question": Q1, "context": C1}, "parameters": {"top_k": 2.5}}, 422, "top_k must be an integer"),
    ({"inputs": {"question": Q1, "context": C1}, "parameters": {"top_k": True}}, 422, "top_k must be an integer"),
    ({"inputs": {"question": Q1, "context": C1}, "parameters": {"top_k": 0}}, 422, "top_k must be >= 1"),
    ({"inputs": {"question": Q1, "context": C1}, "parameters": {"top_k": 6}}, 422, "top_k must be <= 5"),
    ({"inputs": {"question": Q1, "context": C1}, "parameters": {"max_answer_len": -1}}, 422, "max_answer_len must"),
    (
        {"inputs": {"question": Q1, "context": C1}, "parameters": {"max_seq_len": 4096}},
        422,
        "max_seq_len must be <= 512",
    ),
    (
        {"inputs": {"question": Q1, "context": C1}, "parameters": {"doc_stride": 64, "max_seq_len": 32}},
        422,
        "doc_stride=64",
    ),
    (
        {"inputs": {"question": Q1, "context": C1}, "parameters": {"handle_impossible_answer": "yes"}},
        422,
        "handle_impossible_answer must be true or false",
    ),
    ({"inputs": {"question": Q1, "context": "\u200b\u200b"}}, 422, "token left after the tokenizer's normalization"),
    (
        {"inputs": [{"question": Q1, "context": C1}, {"question": Q1, "context": "\u200b"}]},
        422,
        "inputs[1].context has no token left",
    ),
    ({"inputs": {"question": Q1, "context": "x" * 200}, "pad": "y" * 5000}, 413, "the limit is 4000"),
]


@pytest.mark.parametrize("body,status,words", BAD, ids=[str(n) for n in range(len(BAD))])
def test_bad_requests_get_a_4xx_with_a_one_line_message(client, body, status, words):
    r = post(client, body)
    assert r.status_code == status, r.text
    message = r.json()["error"]
    assert words in message and "\n" not in message and "Traceback" not in message


def test_routes_and_methods_that_do_not_exist_get_json_errors(client):
    for r, status in ((client.get("/nope"), 404), (client.put("/"), 405), (client.delete("/health"), 405)):
        assert r.status_code == status and isinstance(r.json()["error"], str)


def test_a_body_over_the_limit_is_refused_while_streaming(client):
    def chunks():
        for _ in range(10):
            yield b" " * 1000

    r = client.post("/", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "limit" in r.json()["error"]


def test_an_unexpected_failure_is_a_500_without_a_traceback(tiny_tokenizer):
    class Broken:
        model, tokenizer = torch.nn.Linear(1, 1), tiny_tokenizer

        def answer(self, *a, **k):
            raise RuntimeError("boom")

    with TestClient(create_app(Broken()), raise_server_exceptions=False) as c:
        r = post(c, {"inputs": {"question": Q1, "context": C1}})
    assert r.status_code == 500 and "RuntimeError" in r.json()["error"] and "boom" not in r.json()["error"]


# ------------------------------------------------------------------ the micro-batcher


def fake_answer(calls):
    def answer(records, top_k, settings):
        calls.append((len(records), top_k, dict(settings)))
        if any(r["question"] == "bad" for r in records):
            raise ValueError("bad question")
        return [
            [{"answer": r["question"], "score": 1.0 / (k + 1), "start": k, "end": k + 1} for k in range(top_k)]
            for r in records
        ]

    return answer


def test_requests_arriving_together_share_one_model_call():
    calls: list = []

    async def scenario():
        b = MicroBatcher(fake_answer(calls), max_batch_size=8, max_wait_ms=50)
        await b.start()
        results = await asyncio.gather(*(b.submit([{"question": f"q{n}"}], n % 3 + 1, ()) for n in range(6)))
        await b.stop()
        return results

    results = asyncio.run(scenario())
    assert calls == [(6, 3, {})]  # six requests, one call, at the largest top_k
    assert [[a["answer"] for a in r[0]] for r in results] == [[f"q{n}"] * (n % 3 + 1) for n in range(6)]


def test_batches_close_at_max_batch_size_and_group_by_settings():
    calls: list = []

    async def scenario():
        b = MicroBatcher(fake_answer(calls), max_batch_size=4, max_wait_ms=50)
        await b.start()
        jobs = [b.submit([{"question": "a"}] * 2, 1, (("doc_stride", 8),)) for _ in range(3)]
        jobs.append(b.submit([{"question": "b"}], 1, (("doc_stride", 16),)))
        results = await asyncio.gather(*jobs)
        await b.stop()
        return results

    results = asyncio.run(scenario())
    assert sum(n for n, _, _ in calls) == 7 and max(n for n, _, _ in calls) <= 4
    assert {s["doc_stride"] for _, _, s in calls} == {8, 16}
    assert [len(r) for r in results] == [2, 2, 2, 1]


def test_one_failing_request_does_not_fail_its_batch():
    calls: list = []

    async def scenario():
        b = MicroBatcher(fake_answer(calls), max_batch_size=8, max_wait_ms=50)
        await b.start()
        results = await asyncio.gather(
            b.submit([{"question": "good"}], 1, ()), b.submit([{"question": "bad"}], 1, ()), return_exceptions=True
        )
        await b.stop()
        return results

    good, bad = asyncio.run(scenario())
    assert good[0][0]["answer"] == "good" and isinstance(bad, ValueError)


def test_no_request_is_lost_when_arrivals_race_the_batch_deadline():
    import random

    calls: list = []
    rng = random.Random(0)

    async def client(b, n):
        await asyncio.sleep(rng.random() * 0.05)
        return await b.submit([{"question": f"q{n}"}] * (n % 3 + 1), 1, ())

    async def scenario():
        b = MicroBatcher(fake_answer(calls), max_batch_size=5, max_wait_ms=1)
        await b.start()
        results = await asyncio.wait_for(asyncio.gather(*(client(b, n) for n in range(300))), 30)
        await b.stop()
        return results, b.stats

    results, stats = asyncio.run(scenario())
    assert [r[0][0]["answer"] for r in results] == [f"q{n}" for n in range(300)]
    assert stats.questions == sum(n % 3 + 1 for n in range(300)) and stats.batches == len(calls) > 1


def test_the_batcher_defaults_are_the_services():
    import dataclasses

    from gp_mrc.serving.batcher import MicroBatcher
    from gp_mrc.serving.schema import Batching

    b = MicroBatcher(lambda records, top_k, settings: [])
    for f in dataclasses.fields(Batching):
        if hasattr(b, f.name):
            assert getattr(b, f.name) == f.default, f.name
    assert b.max_batch_windows == 32


def test_expected_f1_decoding_answers_carry_the_key_they_are_ranked_by(reader):
    mbr = Reader(reader.model, reader.tokenizer, device="cpu", mixed_precision="no", decoding="expected_f1")
    want = mbr.answer([{"question": Q2, "context": C2}], top_k=3)[0]
    with serving_client(mbr, LIMITS) as c:
        got = post(c, {"inputs": {"question": Q2, "context": C2}, "parameters": {"top_k": 3}}).json()
        many = post(c, {"inputs": {"question": Q2, "contexts": [C1, C2]}, "parameters": {"top_k": 3}}).json()
    assert [list(a) for a in got] == [["answer", "score", "start", "end", "expected_f1"]] * 3
    assert [a["expected_f1"] for a in got] == pytest.approx([a["expected_f1"] for a in want])
    assert [a["expected_f1"] for a in got] == sorted((a["expected_f1"] for a in got), reverse=True)
    assert all("expected_f1" in a for a in many["answers"])
