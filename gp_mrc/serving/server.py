"""How uvicorn runs the service: `log_config` sends gp_mrc's log lines (a dropped upload, a cancelled request,
a closed connection, the reader's warnings) where uvicorn's go, at --log_level (without it they went nowhere
below WARNING); `uvicorn_options` bounds how long a connection may take to send a request's headers.

uvicorn has no such timeout: its keep-alive timer
(`timeout_keep_alive`) runs only between requests, once a response is complete, and h11 bounds the headers' size
(16 KiB), not their time, so a client that opens a connection and sends part of a request line stays open for
good (the process's open-file limit was the only bound). `HeaderTimeoutH11` is uvicorn's h11 protocol with one
more timer: armed when the connection opens and after each response, cleared once a request's headers are in,
it closes a connection that is still waiting for them (or, answered before its body was all in, still sending
it). The body's own timeout is the app's (`body.read_body`: 408). uvicorn picks httptools when installed; this
protocol is h11's, always there (uvicorn depends on it).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

log = logging.getLogger("gp_mrc.serving")


def log_config(log_level: str) -> dict[str, Any]:
    """uvicorn's logging configuration, with the "gp_mrc" logger on its default handler at `log_level`."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["gp_mrc"] = {"handlers": ["default"], "level": log_level.upper(), "propagate": False}
    return config


def uvicorn_options(header_timeout_s: float) -> dict[str, Any]:
    """uvicorn.Config keywords that make every connection send its headers within `header_timeout_s`."""
    try:
        import h11
        from uvicorn.protocols.http.h11_impl import H11Protocol
    except ImportError:  # another uvicorn layout: its own defaults, without this timeout
        return {}

    class HeaderTimeoutH11(H11Protocol):
        def connection_made(self, transport: Any) -> None:
            self._header_timer = None
            super().connection_made(transport)
            self._arm_header_timer()

        def _arm_header_timer(self) -> None:
            self._cancel_header_timer()
            self._header_timer = self.loop.call_later(header_timeout_s, self._header_timeout)

        def _cancel_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def handle_events(self) -> None:
            super().handle_events()
            if self.conn.our_state is h11.SEND_RESPONSE:  # a request's headers are in: the app has it
                self._cancel_header_timer()

        def on_response_complete(self) -> None:
            self._arm_header_timer()  # first: a pipelined request handled below clears it
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_timer()
            super().connection_lost(exc)

        def _header_timeout(self) -> None:
            # still no request's headers; or answered before its body was all in (a 413), and still sending it
            self._header_timer = None
            if self.conn.our_state is not h11.SEND_RESPONSE and not self.transport.is_closing():
                client = "%s:%d" % self.client if self.client else "a client"
                log.info("closed the connection of %s: no request headers within %g s", client, header_timeout_s)
                self.transport.close()

    return {"http": HeaderTimeoutH11}
