"""Who may call the service, and how long a client may take to send a request (serve's flags, the `Access` part).

* `--api_key` (or the environment's GP_MRC_API_KEY; never printed, logged or shown on /health): every request but
  the page and /health must send `Authorization: Bearer KEY` (the convention of vLLM and OpenAI-style clients),
  else 401 with `WWW-Authenticate: Bearer`; compared in constant time (hmac.compare_digest).
* `--allowed_origins`: the web origins whose pages may call the service from a browser (CORS, Starlette's
  CORSMiddleware); none by default, so no other site's page can read an answer.
* `--body_timeout_s`: a request body not all there within it is answered 408 and its connection closed;
  `--header_timeout_s`: a connection that has not sent a request's headers within it is closed (server.py).

Listening beyond the loopback interface without a key is allowed, with a warning at start (`exposure_warning`).
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import json
import os
import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping

from ..argtypes import positive_float
from ..flags import flag_fields, setting

API_KEY_ENV = "GP_MRC_API_KEY"
OPEN_ROUTES = {("GET", "/"), ("HEAD", "/"), ("GET", "/health"), ("HEAD", "/health")}  # the page asks for the key
_ORIGIN = re.compile(r"https?://[^/\s?#]+")


def origin(text: str) -> str:
    """--allowed_origins: `*`, or scheme://host[:port] as a browser sends it in Origin (no path, no slash)."""
    if text != "*" and not _ORIGIN.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"expected an origin such as https://app.example or http://localhost:3000, got {text!r}"
        )
    return text


@dataclass(frozen=True)
class Access:
    """Who may call the service and how long a client may take to send a request (serve's flags)."""

    api_key: str | None = setting(
        None,
        "clients must send `Authorization: Bearer KEY` (the page and /health stay open); default: the environment's "
        f"{API_KEY_ENV}, else none (anyone who can reach the port may use the model). The environment keeps it out "
        "of the process list",
        metavar="KEY",
    )
    allowed_origins: tuple[str, ...] = setting(
        (),
        "the web origins whose pages may call the service from a browser (CORS), e.g. https://app.example; "
        "default: none",
        nargs="+",
        type=origin,
        metavar="ORIGIN",
    )
    body_timeout_s: float = setting(
        30.0,
        "seconds a client may take to send a request's body; then 408 and the connection closes",
        type=positive_float,
    )
    header_timeout_s: float = setting(
        10.0,
        "seconds a connection may take to send a request's headers; then it is closed",
        type=positive_float,
    )

    def __repr__(self) -> str:  # never the key
        key = "(set)" if self.api_key else None
        return (
            f"Access(api_key={key}, allowed_origins={self.allowed_origins!r}, body_timeout_s={self.body_timeout_s}, "
            f"header_timeout_s={self.header_timeout_s})"
        )


def access_from(values: dict[str, Any], environ: Mapping[str, str] | None = None) -> Access:
    """The Access part of serve's flag values ({dest: value}; None or absent: the field's default); the key from
    the environment's GP_MRC_API_KEY when --api_key is not given."""
    environ = os.environ if environ is None else environ
    given = {f.name: values[f.name] for f in flag_fields(Access) if values.get(f.name) is not None}
    given["api_key"] = given.get("api_key") or environ.get(API_KEY_ENV) or None
    given["allowed_origins"] = tuple(given.get("allowed_origins", ()))
    return Access(**given)


def is_loopback(host: str) -> bool:
    """Whether --host listens on this machine alone."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, access: Access) -> str | None:
    """The warning for a service that listens beyond this machine without a key (None when it does not)."""
    if access.api_key or is_loopback(host):
        return None
    return (
        f"listening on {host}, beyond this machine, without an API key: anyone who can reach the port can use the "
        f"model; set --api_key or {API_KEY_ENV}"
    )


def key_matches(header: str | None, key: str) -> bool:
    """Whether an Authorization header (decoded as Latin-1, as ASGI servers give it) is `Bearer KEY`, compared
    in constant time."""
    scheme, _, given = (header or "").strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode("latin-1"), key.encode("utf-8"))


ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


class RequireKey:
    """Pure ASGI middleware: requests other than OPEN_ROUTES need `Authorization: Bearer KEY` (401 otherwise)."""

    def __init__(self, app: ASGIApp, key: str):
        self.app, self._key = app, key

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in OPEN_ROUTES:
            return await self.app(scope, receive, send)
        header = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None)
        if key_matches(header, self._key):
            return await self.app(scope, receive, send)
        message = (
            "missing API key: send the header Authorization: Bearer KEY"
            if header is None
            else "wrong API key (the header must be Authorization: Bearer KEY)"
        )
        body = json.dumps({"error": message}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b"Bearer"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
