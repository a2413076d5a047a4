"""Issue #24 on the HTTP service: bodies that used to end in a 500 or a codec message (point 6), the operator's
endpoints (HEAD, /docs, /metrics, Retry-After; point 8), many passages and align_to_words over HTTP (point 9)."""

from __future__ import annotations

import math

import pytest
from conftest import post_json, serving_client
import torch

pytest.importorskip("fastapi", reason="the service needs the serve extra: pip install -e '.[serve]'")
from fastapi.testclient import TestClient

from gp_mrc.serving.app import create_app
from gp_mrc.serving.schema import Limits

C1 = "the king was born in 1811 . the queen was born in 1861 ."
C2 = "the river is long . the city was founded in 1875 by the first king ."
Q1 = "when was the king born?"
LIMITS = Limits(max_top_k=5)  # the default body limit (1 MB): room for the bodies below


@pytest.fixture(scope="module")
def client(reader):
    with serving_client(reader, LIMITS) as c:
        yield c


post = post_json


# ------------------------------------------------------------------ point 6: every fault of the bytes is a 400

BAD_BYTES = [
    ("[" * 100_000 + "]" * 100_000, "nests arrays and objects more than 32 deep"),  # was a RecursionError, a 500
    ('{"inputs": ' + "[" * 40 + "]" * 40 + "}", "more than 32 deep"),
    ('{"inputs": {"question": "\\ud800", "context": "x y"}}', "inputs.question holds a lone surrogate (U+D800)"),
    (
        '{"inputs": {"question": "who?", "context": "a \\udfff b"}}',
        "inputs.context holds a lone surrogate (U+DFFF) at character 2",
    ),
    ('{"inputs": {"question": "who?", "contexts": ["ok", "\\ud83d"]}}', "inputs.contexts[1] holds a lone surrogate"),
    ('{"inputs": ' + "1" * 5000 + "}", "not JSON this service reads"),  # int() digit limit: a ValueError, a 500
    (b'{"inputs": "\xed\xa0\x80"}', "not UTF-8 text"),  # a surrogate encoded in the bytes
    (b"\xff", "not UTF-8 text"),
]


@pytest.mark.parametrize("body,words", BAD_BYTES, ids=[str(n) for n in range(len(BAD_BYTES))])
def test_every_fault_of_the_bytes_is_a_400_with_one_line(client, body, words):
    r = post(client, body)
    assert r.status_code == 400, r.text
    message = r.json()["error"]
    assert words in message and "\n" not in message and "codec" not in message


def test_brackets_inside_strings_do_not_count_as_nesting(client):
    r = post(client, {"inputs": {"question": "who [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ ?", "context": C1}})
    assert r.status_code == 200, r.text


# ------------------------------------------------------------------ point 8: what operators expect


def test_head_on_the_page_and_health(client):
    for path in ("/", "/health"):
        r = client.head(path)
        assert r.status_code == 200 and r.content == b""


def test_openapi_page(client):
    assert client.get("/docs").status_code == 200 and "swagger" in client.get("/docs").text.lower()
    spec = client.get("/openapi.json").json()
    assert "post" in spec["paths"]["/"] and "/health" in spec["paths"]


def test_metrics_in_prometheus_text(client):
    post(client, {"inputs": {"question": Q1, "context": C1}})
    post(client, {"inputs": {}})
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'gp_mrc_requests_total{route="/",status="200"}' in text
    assert 'gp_mrc_requests_total{route="/",status="422"}' in text
    assert "# TYPE gp_mrc_request_seconds histogram" in text and 'gp_mrc_request_seconds_bucket{le="+Inf"}' in text
    assert "gp_mrc_batch_questions_count" in text and "gp_mrc_queued_questions 0" in text
    for line in text.splitlines():  # every sample line: name{labels} number
        if line and not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])


def test_a_request_larger_than_the_queue_is_413_not_503(reader):
    """Issue #35 point 4: waiting cannot help, so no Retry-After (503 with Retry-After: tests/test_serving_access.py
    test_a_full_queue_answers_503_with_retry_after)."""
    with TestClient(create_app(reader, limits=LIMITS, max_queued=2), raise_server_exceptions=False) as c:
        r = post(c, {"inputs": [{"question": Q1, "context": C1}] * 3})
        ok = post(c, {"inputs": [{"question": Q1, "context": C1}] * 2})
    assert r.status_code == 413 and "retry-after" not in r.headers
    assert r.json()["error"] == (
        "the request has 3 passages (question-passage pairs); the queue holds at most 2 (--max_queued): send fewer"
    )
    assert ok.status_code == 200


def test_health_names_the_model_not_a_path(tmp_path):
    from gp_mrc.serving.command import display_name

    folder = tmp_path / "runs" / "my_reader"
    folder.mkdir(parents=True)
    assert display_name(str(folder)) == "my_reader" and display_name(str(folder) + "/") == "my_reader"
    assert display_name("deepset/roberta-base-squad2") == "deepset/roberta-base-squad2"  # a hub name, as given


# ------------------------------------------------------------------ point 9: many passages over HTTP


def test_contexts_answer_as_reader_answer_passages(client, reader):
    contexts = [C1, C2, C1]
    r = post(client, {"inputs": {"question": Q1, "contexts": contexts}, "parameters": {"top_k": 3}})
    assert r.status_code == 200, r.text
    got = r.json()
    want = reader.answer_passages(Q1, contexts, top_k=3, n_best_size=LIMITS.max_top_k)
    assert [(a["answer"], a["passage"], a["start"]) for a in got["answers"]] == [
        (a["answer"], a["passage"], a["start"]) for a in want
    ]
    assert [a["score"] for a in got["answers"]] == pytest.approx([a["score"] for a in want], abs=1e-6)
    for a in got["answers"]:
        assert contexts[a["passage"]][a["start"] : a["end"]] == a["answer"]
    assert got["no_answer"] == pytest.approx(math.prod(1 - a["score"] for a in want), abs=1e-6)


def test_min_score_drops_answers_and_no_answer_is_then_certain(client):
    r = post(client, {"inputs": {"question": Q1, "contexts": [C1, C2]}, "parameters": {"min_score": 1.0}})
    assert r.status_code == 200 and r.json() == {"answers": [], "no_answer": 1.0}


def test_a_list_may_mix_one_passage_and_many(client):
    r = post(client, {"inputs": [{"question": Q1, "context": C1}, {"question": Q1, "contexts": [C2]}]})
    one, many = r.json()
    assert set(one) == {"answer", "score", "start", "end"} and set(many) == {"answers", "no_answer"}


@pytest.mark.parametrize(
    "body,words",
    [
        ({"inputs": {"question": Q1, "contexts": []}}, "contexts must be a non-empty array"),
        ({"inputs": {"question": Q1, "contexts": C1}}, "contexts must be a non-empty array of strings, got string"),
        ({"inputs": {"question": Q1, "contexts": [C1, 3]}}, "inputs.contexts[1] must be a string, got integer"),
        ({"inputs": {"question": Q1, "contexts": [C1, " "]}}, "inputs.contexts[1] is empty"),
        ({"inputs": {"question": Q1, "contexts": [C1] * 65}}, "65 passages; the limit is 64"),
        ({"inputs": {"question": Q1, "context": C1}, "parameters": {"min_score": 0.5}}, "min_score applies to inputs"),
        ({"inputs": {"question": Q1, "contexts": [C1]}, "parameters": {"min_score": 2}}, "min_score must be a prob"),
        (
            {"inputs": {"question": Q1, "context": C1}, "parameters": {"align_to_words": 1}},
            "align_to_words must be true",
        ),
    ],
)
def test_bad_many_passage_requests_get_422(client, body, words):
    r = post(client, body)
    assert r.status_code == 422 and words in r.json()["error"], r.text


def test_align_to_words_is_accepted_and_reaches_a_reader_that_takes_it(client, tiny_tokenizer):
    r = post(client, {"inputs": {"question": Q1, "context": C1}, "parameters": {"align_to_words": False}})
    assert r.status_code == 200, r.text  # today's Reader has no such keyword: the service still answers
    seen = []

    class Aligning:
        model, tokenizer = torch.nn.Linear(1, 1), tiny_tokenizer

        def answer(self, records, *, top_k=1, n_best_size=20, align_to_words=True, **kwargs):
            seen.append(align_to_words)
            return [[{"answer": "x", "score": 0.5, "start": 0, "end": 1}] for _ in records]

    with TestClient(create_app(Aligning()), raise_server_exceptions=False) as c:
        assert post(c, {"inputs": {"question": Q1, "context": C1}, "parameters": {"align_to_words": False}}).json() == {
            "answer": "x",
            "score": 0.5,
            "start": 0,
            "end": 1,
        }
        post(c, {"inputs": {"question": Q1, "context": C1}})
    assert seen == [False, True]  # passed when asked, the reader's default otherwise
