"""The page at / in a real browser: Debian's chromium, driven by playwright, against the service on a loopback
port. It types a passage and a question, submits, and checks that the highlighted text is the answer the API
gives for the same request, with its probability, the alternatives and the heat map.

Without /usr/bin/chromium (or playwright) the test skips, saying so; CI sets GP_MRC_REQUIRE_BROWSER=1, which makes
their absence a failure."""

from __future__ import annotations

import os
import runpy
import threading
import time

import httpx
import pytest

pytest.importorskip("fastapi", reason="the service needs the serve extra: pip install -e '.[serve]'")
import uvicorn

from conftest import free_port, tiny_gp
from gp_mrc.inference.reader import Reader
from gp_mrc.serving.access import Access
from gp_mrc.serving.app import create_app

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = "/usr/bin/chromium"
# the browser flags of scripts/page_screenshot.py (headless, no sandbox, nothing fetched from the network)
CHROMIUM_ARGS = runpy.run_path(os.path.join(ROOT, "scripts", "page_screenshot.py"))["CHROMIUM_ARGS"]
CONTEXT = "the river is long . the city was founded in 1875 by the first king . the queen was born in 1861 ."
QUESTION = "who founded the city?"
# characters beyond U+FFFF (two UTF-16 units each in the page's JavaScript, one code point in Python) and Chinese
ASTRAL = "🎉🎉🎉🎉 Party! 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 "
CHINESE = " 这个城市是国王建立的 。"
KEY = "page-test-key"


def require_browser():
    """playwright's sync API, or a skip (a failure under GP_MRC_REQUIRE_BROWSER=1) naming what is missing."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "playwright is not installed (pip install playwright; no `playwright install` needed)"
    if missing is None and not os.path.exists(CHROMIUM):
        missing = f"{CHROMIUM} is missing (apt-get install -y --no-install-recommends chromium)"
    if missing is not None:
        if os.environ.get("GP_MRC_REQUIRE_BROWSER") == "1":
            pytest.fail(f"the browser test must run here (GP_MRC_REQUIRE_BROWSER=1) but {missing}")
        pytest.skip(f"browser test skipped: {missing}")
    return sync_playwright


def serve(tokenizer, access=None):
    """The page's server over the tiny GlobalPointer, on a loopback port (a generator: the fixtures' body)."""
    app = create_app(
        # expected-F1 decoding, the GlobalPointer's default: the page shows the key it ranks by
        Reader(tiny_gp(tokenizer), tokenizer, device="cpu", mixed_precision="no", decoding="expected_f1"),
        model_name="tiny-random",
        access=access,
    )
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started:
        assert time.time() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(tiny_tokenizer):
    yield from serve(tiny_tokenizer)


@pytest.fixture(scope="module")
def keyed_server(tiny_tokenizer):
    yield from serve(tiny_tokenizer, Access(api_key=KEY))


def check_passage(page, box, context, answers, best):
    """The passage box shows `context` whole, outlines `best` (or nothing) and shades each character by the summed
    probability of `answers` covering it; offsets count code points, as Python's str does."""
    marks = page.locator(f"{box} mark.answer")
    if best is None:
        assert marks.count() == 0
    else:
        assert marks.count() == 1 and marks.inner_text() == best["answer"] == context[best["start"] : best["end"]]
    assert page.inner_text(box) == context  # the passage is shown whole, nothing lost or added
    shades = page.evaluate(f"""() => [...document.querySelectorAll('{box} span')].map(s =>
        [s.textContent, parseFloat(s.dataset.heat), s.style.background !== ''])""")
    heat = [0.0] * len(context)
    for a in answers:
        for i in range(a["start"], a["end"]):
            heat[i] += a["score"]
    at = 0
    for text, shade, shaded in shades:
        assert context[at : at + len(text)] == text
        assert shade == pytest.approx(heat[at], abs=1e-3) and shaded == (heat[at] > 0), text
        at += len(text)
    assert at == len(context)


def ask_on_page(page, server, context, question, many=False):
    page.goto(server + "/")
    page.wait_for_function("document.getElementById('model-line').textContent.includes('globalpointer')")
    page.fill("#context", context)
    if many:
        page.check("#many")
    page.type("#question", question)  # typed key by key, as a person would
    page.click("#submit")
    page.wait_for_selector("#result:not([hidden])", timeout=30_000)
    assert page.inner_text("#error") == ""


def table(page):
    rows = page.locator("#alternatives tbody tr")
    cells = [rows.nth(k).locator("td") for k in range(rows.count())]
    return [[row.nth(n).inner_text() for n in range(row.count())] for row in cells]


@pytest.mark.slow
@pytest.mark.parametrize("context", [CONTEXT, ASTRAL + CONTEXT + CHINESE], ids=["ascii", "emoji_and_chinese"])
def test_the_page_highlights_the_answer_the_api_gives(server, context):
    sync_playwright = require_browser()
    api = httpx.post(
        server + "/",
        json={"inputs": {"question": QUESTION, "context": context}, "parameters": {"top_k": 20}},
        timeout=30,
    ).json()
    best = api[0]
    assert best["answer"] and context[best["start"] : best["end"]] == best["answer"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            ask_on_page(page, server, context, QUESTION)
            assert page.inner_text("#answer") == best["answer"]
            assert page.inner_text("#probability") == f"{best['score']:.3f}"
            check_passage(page, ".passage", context, api, best)
            # the default 5 alternatives, in the order the server ranked them
            assert [row[1] for row in table(page)] == [a["answer"] for a in api[:5]]
            assert [row[4] for row in table(page)] == [f"{a['start']}–{a['end']}" for a in api[:5]]
            # expected-F1 decoding (the reader's) ranks by expected F1: the table shows it beside the probability
            assert page.is_visible("#ef1-head")
            assert [row[5] for row in table(page)] == [f"{a['expected_f1']:.3f}" for a in api[:5]]
            # a bad request shows the server's message on the page
            page.fill("#question", "")
            page.click("#submit")
            page.wait_for_function("document.getElementById('error').textContent !== ''")
            assert page.inner_text("#error") == "inputs.question is empty"
        finally:
            browser.close()


@pytest.mark.slow
def test_the_page_answers_over_several_passages(server):
    sync_playwright = require_browser()
    passages = [CONTEXT, ASTRAL + "the king was born in 1811 .", CHINESE.strip()]
    api = httpx.post(
        server + "/",
        json={"inputs": {"question": QUESTION, "contexts": passages}, "parameters": {"top_k": 20}},
        timeout=30,
    ).json()
    assert api["answers"]
    best = api["answers"][0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            ask_on_page(page, server, "\n\n".join(passages) + "\n", QUESTION, many=True)
            assert page.inner_text("#answer") == best["answer"]
            assert page.inner_text("#no-answer") == f"{api['no_answer']:.3f}"
            assert page.locator(".passage").count() == len(passages)
            for n, text in enumerate(passages):
                mine = [a for a in api["answers"] if a["passage"] == n]
                check_passage(page, f'.passage[data-passage="{n}"]', text, mine, best if best["passage"] == n else None)
            assert [(row[1], row[3]) for row in table(page)] == [
                (a["answer"], str(a["passage"] + 1)) for a in api["answers"][:5]
            ]
        finally:
            browser.close()


@pytest.mark.slow
def test_the_page_asks_for_the_api_key_once(keyed_server):
    """Issue #35 point 3: a service with --api_key answers the page's POST 401; the page asks for the key (once),
    sends it, and answers as the API does with the key."""
    sync_playwright = require_browser()
    api = httpx.post(
        keyed_server + "/",
        json={"inputs": {"question": QUESTION, "context": CONTEXT}},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=30,
    ).json()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            asked = []
            page.on("dialog", lambda d: (asked.append(d.message), d.accept(KEY)))
            for _ in range(2):
                ask_on_page(page, keyed_server, CONTEXT, QUESTION)
                assert page.inner_text("#answer") == api["answer"]
            assert len(asked) == 1 and "API key" in asked[0]
        finally:
            browser.close()


def test_without_a_browser_the_test_skips_or_under_ci_fails(monkeypatch):
    pytest.importorskip("playwright")
    monkeypatch.setattr(__import__(__name__), "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.delenv("GP_MRC_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="/nonexistent/chromium is missing"):
        require_browser()
    monkeypatch.setenv("GP_MRC_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="must run here"):
        require_browser()
