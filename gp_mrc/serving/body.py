"""A request body, read and parsed safely: a POST must say it is JSON (Content-Type application/json, else 415:
a web page can make a browser send text/plain anywhere without asking, never JSON), refused with 408 when it is
not all there within the body timeout, with 413 as soon as it passes the byte limit, and its JSON checked for
nesting depth before `json.loads` recurses into it (a body of 100,000 "[" would otherwise end in a
RecursionError, a 500). Every fault of the bytes (not UTF-8, not JSON, too deep, a number too long) is a 400
with one line; schema.py refuses a string holding a lone surrogate ("\\ud800", valid JSON but not Unicode text)
with 400 too."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, AsyncIterator

from .schema import Limits, QARequest, RequestError, parse_request

MAX_DEPTH = 32  # a valid request nests 4 deep ({"inputs": [{"contexts": [...]}]}); leave room for "options"
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = re.compile(r"[\[\]{}]")


def check_content_type(header: str | None) -> None:
    """A POST body must be declared JSON: application/json or a +json type, any parameters (RequestError 415)."""
    media = (header or "").split(";")[0].strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        given = f"Content-Type {media}" if media else "no Content-Type"
        raise RequestError(415, f"the request body must be JSON sent as Content-Type: application/json, got {given}")


async def read_body(
    stream: AsyncIterator[bytes], declared: str | None, limit: int, timeout_s: float | None = None
) -> bytes:
    """The body, refused with 413 as soon as it passes `limit` bytes (whatever Content-Length claims), and with
    408 when it is not all there within `timeout_s` seconds (None: no limit)."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"request body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []

    async def read() -> None:
        size = 0
        async for chunk in stream:
            size += len(chunk)
            if size > limit:
                raise RequestError(413, f"request body is over {limit} bytes, the limit")
            chunks.append(chunk)

    try:
        await asyncio.wait_for(read(), timeout_s)
    except asyncio.TimeoutError:
        got = sum(map(len, chunks))
        raise RequestError(
            408, f"the request body did not arrive within {timeout_s:g} s ({got} bytes came); send it at once"
        ) from None
    return b"".join(chunks)


def nesting_depth(text: str, limit: int) -> int:
    """How deep arrays and objects nest in JSON `text` (strings skipped); stops counting past `limit`."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub('""', text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
        if deepest > limit:
            break
    return deepest


def load_json(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The body's JSON value, or RequestError(400) saying in one line what is wrong with the bytes."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RequestError(400, f"request body is not UTF-8 text (byte {e.start})") from None
    if nesting_depth(text, max_depth) > max_depth:
        raise RequestError(400, f"request body nests arrays and objects more than {max_depth} deep")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise RequestError(
            400, f"request body is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"
        ) from None
    except (ValueError, RecursionError):  # an integer of over 4,300 digits, a depth the scan above missed
        raise RequestError(
            400, "request body is not JSON this service reads (a number too long or nesting too deep)"
        ) from None
    return data


def parse_body(body: bytes, limits: Limits) -> QARequest:
    """The request body → a QARequest, or RequestError (400 bad bytes, 413 too big, 422 a field wrong)."""
    if len(body) > limits.max_body_bytes:
        raise RequestError(413, f"request body is {len(body)} bytes; the limit is {limits.max_body_bytes}")
    return parse_request(load_json(body), limits)
