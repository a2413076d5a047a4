"""Start `scripts/serve.py` in a child process on a free loopback port and wait until it answers /health (for the
load test and scripts/page_screenshot.py, which measure or show the real command)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Iterator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(model: str, extra_args: list[str] | None = None, start_limit_s: float = 600) -> Iterator[str]:
    """The service's base URL while a `scripts/serve.py --model MODEL` child runs; stopped on exit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable,
        os.path.join(ROOT, "scripts", "serve.py"),
        "--model",
        model,
        "--port",
        str(port),
        "--log_level",
        "warning",
        *(extra_args or []),
    ]
    print("server: " + " ".join(cmd), file=sys.stderr)
    proc = subprocess.Popen(cmd, cwd=ROOT)
    # SIGTERM (a `timeout`, a CI cancel) unwinds through `finally` below, so the child never outlives us
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        deadline = time.monotonic() + start_limit_s
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"error: the server exited with code {proc.returncode}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=5) as r:
                    json.load(r)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"error: {url} did not answer /health within {start_limit_s:.0f}s")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        signal.signal(signal.SIGTERM, previous)
