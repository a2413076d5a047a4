#!/usr/bin/env python
"""A screenshot of the service's page answering a question (Debian's chromium driven by playwright, headless).

    python scripts/page_screenshot.py --model runs/sample_gp --out docs/serving_page.png

Starts scripts/serve.py on a free loopback port (or uses --url), pastes --context, types --question, submits,
waits for the answer and saves a full-page PNG. Prints the answer the page shows.
"""

from __future__ import annotations

import argparse
import os
import sys

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CONTEXT = (
    "Super Bowl 50 was an American football game to determine the champion of the National Football League "
    "(NFL) for the 2015 season. The American Football Conference (AFC) champion Denver Broncos defeated the "
    "National Football Conference (NFC) champion Carolina Panthers 24–10 to earn their third Super Bowl "
    "title. The game was played on February 7, 2016, at Levi's Stadium in the San Francisco Bay Area at "
    "Santa Clara, California."
)
QUESTION = "Where was Super Bowl 50 played?"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--model", help="a model folder: start scripts/serve.py with it")
    where.add_argument("--url", help="a running service")
    p.add_argument("--out", required=True, help="the PNG to write")
    p.add_argument("--context", default=CONTEXT)
    p.add_argument("--question", default=QUESTION)
    p.add_argument("--chromium", default="/usr/bin/chromium")
    return p


def shoot(url: str, args: argparse.Namespace) -> str:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            page.goto(url + "/")
            page.wait_for_function("document.getElementById('model-line').textContent.includes('reader')")
            page.fill("#context", args.context)
            page.type("#question", args.question)
            page.click("#submit")
            page.wait_for_selector("#result:not([hidden])", timeout=120_000)
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            page.screenshot(path=args.out, full_page=True)
            return page.inner_text("#answer")
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not os.path.exists(args.chromium):
        print(
            f"error: {args.chromium} is missing (apt-get install -y --no-install-recommends chromium)", file=sys.stderr
        )
        return 2
    if args.url:
        answer = shoot(args.url, args)
    else:
        from gp_mrc_lab.launch import served

        with served(args.model) as url:
            answer = shoot(url, args)
    print(f"answer shown: {answer!r}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    from gp_mrc.errors import run_script

    run_script(main)
