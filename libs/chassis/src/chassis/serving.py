"""How a service's HTTP server is run: uvicorn on httptools, with the edges uvicorn leaves open closed.

uvicorn closes an idle keep-alive connection only after a first response, and has no deadline for a
request's headers or body: a client that connects and sends nothing (or one header byte at a time,
"slowloris") holds a socket for ever, and ~20k of them exhausted a service's file descriptors. Here
every connection must complete its request headers within HTTP_HEADER_TIMEOUT_SECONDS of
connecting (or of its previous response), may not pause sending its body longer than
HTTP_BODY_IDLE_TIMEOUT_SECONDS, and its headers may not exceed MAX_HEADER_BYTES; past
HTTP_MAX_CONNECTIONS connections or requests, uvicorn answers 503 instead of accepting more work.
"""

from __future__ import annotations

import asyncio
import resource
from typing import Any

import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = structlog.get_logger()

#: Request line and headers together; larger is refused with 431 (nginx's default is 8-32 KB).
MAX_HEADER_BYTES = 64 * 1024


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline, a body idle deadline and a header size cap."""

    header_timeout = 10.0
    body_idle_timeout = 30.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        super().connection_made(transport)
        self._arm(self.header_timeout, "request headers not received in time")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        self._header_bytes = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count_header_bytes(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        # A body may follow: from now on the deadline is for each pause in it (a GET completes at once).
        self._arm(self.body_idle_timeout, "request body stalled")
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._arm(self.body_idle_timeout, "request body stalled")
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()  # the request is in: its handling takes the time it takes
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            # The next request on this connection has the same deadline for its headers (uvicorn's
            # keep-alive timeout only covers a connection that sends nothing at all).
            self._arm(self.header_timeout, "request headers not received in time")

    def _count_header_bytes(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_HEADER_BYTES and not self.transport.is_closing():
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
            self.transport.close()

    def _arm(self, delay: float, reason: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(delay, self._too_slow, reason)

    def _disarm(self) -> None:
        if getattr(self, "_deadline", None) is not None:
            self._deadline.cancel()  # type: ignore[union-attr]
            self._deadline = None

    def _too_slow(self, reason: str) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            log.info("http_connection_closed", reason=reason, client=str(self.client))
            self.transport.close()


def uvicorn_config(app: Any, settings: Any, *, host: str | None = None, port: int | None = None) -> Any:
    """The uvicorn configuration every service runs with (the `serve` command and the tests')."""
    import uvicorn

    protocol = type(
        "ServiceHttpProtocol",
        (GuardedHttpToolsProtocol,),
        {
            "header_timeout": settings.http_header_timeout_seconds,
            "body_idle_timeout": settings.http_body_idle_timeout_seconds,
        },
    )
    return uvicorn.Config(
        app,
        host=host or settings.http_host,
        port=port or settings.http_port,
        lifespan="off",
        log_level="warning",
        access_log=False,
        http=protocol,
        timeout_keep_alive=int(settings.http_keep_alive_seconds),
        limit_concurrency=settings.http_max_connections,
    )


def raise_open_file_limit() -> None:
    """Up to the hard limit: each connection is a descriptor, and the soft default is often 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


__all__ = ["MAX_HEADER_BYTES", "GuardedHttpToolsProtocol", "raise_open_file_limit", "uvicorn_config"]
