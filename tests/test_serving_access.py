"""Issue #35 on the HTTP service, safe to expose: an abandoned request stops computing (point 1), half-sent requests
time out and dropped uploads are one log line each (point 2), the API key, CORS origins and JSON content type
(point 3), 503 only when waiting helps (point 4). The disconnect and timeout tests run uvicorn on a loopback port:
the test client cannot hang up or stall."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import threading
import time

import httpx
import pytest
import torch

pytest.importorskip("fastapi", reason="the service needs the serve extra: pip install -e '.[serve]'")
import uvicorn
from fastapi.testclient import TestClient

from conftest import free_port, tiny_gp
from gp_mrc.inference.reader import Reader
from gp_mrc.serving import command
from gp_mrc.serving.access import Access, access_from, exposure_warning, key_matches
from gp_mrc.serving.app import create_app
from gp_mrc.serving.batcher import MicroBatcher
from gp_mrc.serving.cancel import watch
from gp_mrc.serving.server import log_config, uvicorn_options
from gp_mrc.serving.cost import WindowCounter
from gp_mrc.serving.schema import Limits

SENTENCE = "the city was founded by the first king . "  # 9 tokens
SHORT = {"inputs": {"question": "who founded the city?", "context": "the city was founded by the first king ."}}
KEY = "s3cret-key-for-tests"
FORWARD_S = 0.1  # the slowed model's time per forward pass


@contextlib.contextmanager
def running(app, **config):
    """The app under uvicorn on a free loopback port (logs go to the root logger: caplog sees them)."""
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, **config))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started:
        assert time.time() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", port
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def metric(url: str, name: str) -> float:
    text = httpx.get(url + "/metrics").text
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def wait_for(test, seconds: float = 15.0) -> None:
    deadline = time.time() + seconds
    while not test():
        assert time.time() < deadline, "timed out waiting"
        time.sleep(0.05)


# ------------------------------------------------------------------ point 1: an abandoned request stops computing


@pytest.fixture
def slow_reader(tiny_tokenizer):
    """The tiny GlobalPointer in 64-token windows, 4 a forward pass, each pass slowed to FORWARD_S; `computed`
    counts the windows the model ran."""
    reader = Reader(
        tiny_gp(tiny_tokenizer),
        tiny_tokenizer,
        device="cpu",
        mixed_precision="no",
        batch_size=4,
        max_seq_length=64,
        doc_stride=16,
    )
    reader.computed = 0

    def slow(module, args, kwargs):
        time.sleep(FORWARD_S)
        reader.computed += kwargs["input_ids"].shape[0]

    reader.model.register_forward_pre_hook(slow, with_kwargs=True)
    return reader


@pytest.mark.parametrize("shape", ["one long passage", "many passages"])
def test_an_abandoned_request_leaves_most_of_its_windows_uncomputed(slow_reader, shape):
    question = "who founded the city?"
    if shape == "one long passage":  # one record of about 85 windows: one model call, cut between forward passes
        records = [{"question": question, "context": SENTENCE * 360}]
        inputs = records[0]
    else:  # 16 records of 6 windows: chunks of at most 32 windows, the rest still queued
        records = [{"question": question, "context": SENTENCE * 30}] * 16
        inputs = {"question": question, "contexts": [r["context"] for r in records]}
    total = sum(WindowCounter(slow_reader.tokenizer, slow_reader.settings).count(records, {}))
    assert total > 80  # about 20 forward passes: 2 s of model
    app = create_app(slow_reader, limits=Limits(max_context_chars=100_000))
    with running(app) as (url, _):
        slow_reader.computed = 0  # the lanes' warm-up passes before ready are no request's windows
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(url + "/", json={"inputs": inputs}, timeout=0.5)  # the client gives up and hangs up
        wait_for(lambda: metric(url, "gp_mrc_cancelled_requests_total") == 1)
        wait_for(lambda: metric(url, "gp_mrc_windows_skipped_total") > 0)
        time.sleep(2 * FORWARD_S)  # a forward pass under way when the client left ends
        skipped, computed = metric(url, "gp_mrc_windows_skipped_total"), slow_reader.computed
        assert metric(url, "gp_mrc_queued_questions") == 0
        assert computed <= 0.4 * total, f"{computed} of {total} windows computed"
        assert skipped >= 0.6 * total and skipped + computed <= total + 4, (skipped, computed, total)
        assert httpx.post(url + "/", json=SHORT, timeout=30).status_code == 200  # the service goes on
        assert metric(url, 'gp_mrc_requests_total{route="/",status="499"}') == 1


class Windows(torch.nn.Module):
    """A model whose forward passes only count their windows and wait for `go` (set by the test)."""

    def __init__(self):
        super().__init__()
        self.computed, self.started, self.go = 0, threading.Event(), threading.Event()

    def forward(self, input_ids):
        self.started.set()
        self.go.wait(10)
        self.computed += input_ids.shape[0]


@pytest.mark.parametrize("leave", [("b",), ("a", "b")], ids=["one leaves", "both leave"])
def test_a_model_call_stops_only_when_nobody_waits_for_it(leave):
    """Two jobs in one model call of 8 forward passes: one leaving changes nothing for the other; both leaving
    stops the call before its next pass, and the windows never computed are counted."""
    model = Windows()
    watch(model)

    def answer(records, top_k, settings):  # each record 4 windows, one forward pass each
        for r in records:
            for _ in range(4):
                model(input_ids=torch.zeros(1, 8, dtype=torch.long))
        return [[{"answer": r["question"]}] for r in records]

    async def scenario():
        batcher = MicroBatcher(answer, max_wait_ms=100)
        await batcher.start()
        jobs = {name: asyncio.ensure_future(batcher.submit([{"question": name}], 1, (), [4])) for name in "ab"}
        await asyncio.to_thread(model.started.wait, 10)  # the call is in its first forward pass
        for name in leave:
            jobs[name].cancel()
        await asyncio.sleep(0.05)
        model.go.set()
        outcomes = await asyncio.gather(*jobs.values(), return_exceptions=True)
        while batcher.busy:  # the call's end, counted
            await asyncio.sleep(0.01)
        await batcher.stop()
        return dict(zip(jobs, outcomes)), batcher.stats

    outcomes, stats = asyncio.run(scenario())
    assert all(isinstance(outcomes[name], asyncio.CancelledError) for name in leave)
    if leave == ("b",):  # one call of both jobs, run to its end
        assert outcomes["a"] == [[{"answer": "a"}]] and model.computed == 8
        assert stats.windows_skipped == 0 and (stats.batches, stats.largest_batch) == (1, 2)
    else:  # the pass under way ended; the 7 others never ran
        assert model.computed == 1 and stats.windows_skipped == 7 and stats.batches == 0


# ------------------------------------------------------------------ point 2: half-sent requests, dropped uploads

HEAD = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"


def read_until_closed(sock: socket.socket, limit_s: float) -> tuple[bytes, float]:
    """What the server sends until it closes the connection, and when it closed."""
    sock.settimeout(limit_s)
    t, got = time.perf_counter(), b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return got, time.perf_counter() - t
        got += chunk


def test_a_half_sent_body_is_answered_408_and_closed(reader):
    app = create_app(reader, access=Access(body_timeout_s=0.5))
    with running(app) as (url, port):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(HEAD + b'{"inputs": {"question": ')
            got, took = read_until_closed(s, 10)
        assert got.startswith(b"HTTP/1.1 408 ") and b"did not arrive within 0.5 s (24 bytes came)" in got
        assert 0.4 < took < 3
        assert httpx.post(url + "/", json=SHORT).status_code == 200


def test_a_connection_without_request_headers_is_closed(reader):
    app = create_app(reader)
    with running(app, **uvicorn_options(0.5)) as (url, port):
        for sent in (b"", b"POST / HTTP/1.1\r\nHost: t\r\n"):  # nothing; part of the headers
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(sent)
                got, took = read_until_closed(s, 10)
            assert got == b"" and took < 3
        assert httpx.post(url + "/", json=SHORT).status_code == 200  # a whole request is not cut


def test_dropped_uploads_are_one_info_line_each_without_traceback(reader, caplog):
    caplog.set_level(logging.INFO)
    drops = 200  # the count: 26,540 log lines before
    app = create_app(reader)
    with running(app, access_log=False) as (url, port):
        caplog.clear()  # the server's start lines
        for _ in range(drops):
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(HEAD + b'{"inputs": ')
        wait_for(lambda: metric(url, 'gp_mrc_requests_total{route="/",status="499"}') == drops)
        time.sleep(0.2)
        records = [r for r in caplog.records if r.name.startswith(("uvicorn", "gp_mrc"))]
        text = caplog.text
    assert len(records) == drops, [r.getMessage() for r in records if "during its upload" not in r.getMessage()]
    assert all("closed the connection during its upload" in r.getMessage() for r in records)
    assert all(r.levelno == logging.INFO and r.exc_info is None for r in records)
    assert "Traceback" not in text


def test_gp_mrc_log_lines_go_where_uvicorns_go():
    """Under `gp-mrc serve` the lines above reach uvicorn's handler at --log_level (Python's last-resort handler
    drops INFO)."""
    config = log_config("warning")
    assert config["loggers"]["gp_mrc"] == {"handlers": ["default"], "level": "WARNING", "propagate": False}
    assert config["loggers"]["uvicorn"]["handlers"] == ["default"]


# ------------------------------------------------------------------ point 3: the key, CORS, JSON only


@pytest.fixture(scope="module")
def keyed(reader):
    with TestClient(create_app(reader, access=Access(api_key=KEY)), raise_server_exceptions=False) as c:
        yield c


def test_without_the_key_401_with_it_200(keyed):
    r = keyed.post("/", json=SHORT)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json() == {"error": "missing API key: send the header Authorization: Bearer KEY"}
    r = keyed.post("/", json=SHORT, headers={"Authorization": "Bearer " + KEY[:-1] + "x"})
    assert r.status_code == 401 and "wrong API key" in r.json()["error"]
    assert keyed.post("/", json=SHORT, headers={"Authorization": "Basic " + KEY}).status_code == 401
    assert keyed.post("/", json=SHORT, headers={"Authorization": "Bearer " + KEY}).status_code == 200
    assert keyed.post("/", json=SHORT, headers={"Authorization": "bearer  " + KEY}).status_code == 200


def test_health_and_the_page_stay_open_metrics_and_docs_do_not(keyed):
    for path in ("/health", "/"):
        assert keyed.get(path).status_code == 200 and keyed.head(path).status_code == 200
    assert KEY not in keyed.get("/health").text
    for path in ("/metrics", "/docs", "/openapi.json", "/nowhere"):
        assert keyed.get(path).status_code == 401, path
    auth = {"Authorization": f"Bearer {KEY}"}
    for path in ("/metrics", "/docs", "/openapi.json"):
        assert keyed.get(path, headers=auth).status_code == 200, path


def test_the_key_is_compared_whole():
    assert key_matches("Bearer abc", "abc") and key_matches(" Bearer   abc ", "abc")
    for header in (None, "", "Bearer", "Bearer ab", "Bearer abcd", "abc", "Token abc", "Bearer ABC"):
        assert not key_matches(header, "abc"), header


def test_the_key_is_never_printed(monkeypatch, capsys):
    monkeypatch.setenv("GP_MRC_API_KEY", KEY)
    parser = command.build_parser()
    assert KEY not in parser.format_help() and "GP_MRC_API_KEY" in parser.format_help()
    values = vars(parser.parse_args(["--model", "m", "--allowed_origins", "https://a.example"]))
    access = access_from(values)
    assert access == Access(api_key=KEY, allowed_origins=("https://a.example",))
    assert KEY not in repr(access) and KEY not in str(access)
    assert access_from(vars(parser.parse_args(["--model", "m", "--api_key", "other"]))).api_key == "other"
    assert access_from(values, environ={}).api_key is None


def test_listening_beyond_loopback_without_a_key_warns(monkeypatch, capsys):
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert exposure_warning(host, Access()) is None, host
    assert exposure_warning("0.0.0.0", Access(api_key=KEY)) is None
    for host in ("0.0.0.0", "::", "192.168.1.5", "myhost"):
        assert "without an API key" in exposure_warning(host, Access()), host

    from gp_mrc.inference.reader import Reader as R

    def no_model(*a, **k):
        raise FileNotFoundError("m: no such model folder")

    monkeypatch.setattr(R, "from_pretrained", classmethod(lambda cls, *a, **k: no_model()))
    monkeypatch.delenv("GP_MRC_API_KEY", raising=False)
    assert command.main(["--model", "m", "--host", "0.0.0.0", "--port", str(free_port())]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("warning: listening on 0.0.0.0, beyond this machine, without an API key")
    assert err[1:] == ["error: m: no such model folder"]
    assert command.main(["--model", "m", "--host", "0.0.0.0", "--port", str(free_port()), "--api_key", KEY]) == 2
    err = capsys.readouterr().err
    assert "warning" not in err and KEY not in err


def preflight(client, origin):
    return client.options(
        "/",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def test_cors_only_for_the_allowed_origins(reader):
    app = create_app(reader, access=Access(api_key=KEY, allowed_origins=("https://a.example",)))
    with TestClient(app, raise_server_exceptions=False) as c:
        ok, other = preflight(c, "https://a.example"), preflight(c, "https://b.example")
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://a.example"
        assert "authorization" in ok.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-origin" not in other.headers
        r = c.post("/", json=SHORT, headers={"Origin": "https://a.example", "Authorization": f"Bearer {KEY}"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://a.example"
        r = c.post("/", json=SHORT, headers={"Origin": "https://a.example"})  # the page can read the 401
        assert r.status_code == 401 and r.headers["access-control-allow-origin"] == "https://a.example"
    with TestClient(create_app(reader), raise_server_exceptions=False) as c:  # no origins by default
        assert "access-control-allow-origin" not in preflight(c, "https://a.example").headers


@pytest.mark.parametrize("origin", ["https://a.example/", "a.example", "https://a.example/path", "ftp://a"])
def test_an_origin_that_is_not_one_is_a_flag_error(origin, capsys):
    with pytest.raises(SystemExit):
        command.build_parser().parse_args(["--model", "m", "--allowed_origins", origin])
    assert "expected an origin" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content_type,status",
    [
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),
        ("multipart/form-data; boundary=x", 415),
        (None, 415),
        ("application/json", 200),
        ("application/json; charset=utf-8", 200),
        ("Application/JSON", 200),
    ],
)
def test_a_post_must_be_json(reader, content_type, status):
    import json

    headers = {"Content-Type": content_type} if content_type else {}
    with TestClient(create_app(reader), raise_server_exceptions=False) as c:
        r = c.post("/", content=json.dumps(SHORT), headers=headers)
    assert r.status_code == status, r.text
    if status == 415:
        assert r.json()["error"].startswith("the request body must be JSON sent as Content-Type: application/json")


# ------------------------------------------------------------------ point 4: 503 only when waiting helps


def test_a_full_queue_answers_503_with_retry_after(slow_reader):
    body = {"inputs": [{"question": "who?", "context": SENTENCE * 120}] * 2}  # each 7 forward passes
    app = create_app(slow_reader, max_queued=2, max_batch_size=1, max_batch_windows=8)
    with TestClient(app, raise_server_exceptions=False) as c:
        out = {}
        first = threading.Thread(target=lambda: out.setdefault("r", c.post("/", json=body)))
        first.start()
        wait_for(lambda: app.state.service.queued == 1)  # one record in the model, one queued
        r = c.post("/", json=body)
        first.join()
    assert out["r"].status_code == 200
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert r.json()["error"] == (
        "server busy: 1 passages (question-passage pairs) are waiting and the queue holds 2; retry in 1 s"
    )
