"""How a service's HTTP server is run: uvicorn on httptools, with the edges uvicorn leaves open closed.

uvicorn closes an idle keep-alive connection only after a first response, and has no deadline for a
request's headers or body: a client that connects and sends nothing (or one header byte at a time,
"slowloris") holds a socket for ever, and ~20k of them exhausted a service's file descriptors. Here
every connection must complete its request headers within HTTP_HEADER_TIMEOUT_SECONDS of
connecting (or of its previous response), may not pause sending its body longer than
HTTP_BODY_IDLE_TIMEOUT_SECONDS, and its headers may not exceed MAX_HEADER_BYTES; past
HTTP_MAX_CONNECTIONS connections or requests, uvicorn answers 503 instead of accepting more work.

That global bound alone let one client keep a service at 503 for everyone (1,100 idle sockets
re-opened every 7 s): each client address (an IPv6 client: its /64) may hold at most
HTTP_MAX_CONNECTIONS_PER_CLIENT connections; past it, its new ones get a 503 and are closed at once.

`X-Forwarded-For` and `X-Forwarded-Proto` are believed only from TRUSTED_PROXIES (none by default):
uvicorn's own default believed them from any local peer, so rotating the header lifted every
per-address limit. A trusted proxy is exempt from the per-client cap: its own limit applies per
client (the ingress's `limit-connections`, deploy/k8s).
"""

from __future__ import annotations

import asyncio
import ipaddress
import resource
from typing import Any

import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = structlog.get_logger()

#: Request line and headers together; larger is refused with 431 (nginx's default is 8-32 KB).
MAX_HEADER_BYTES = 64 * 1024
#: The answer to a connection past HTTP_MAX_CONNECTIONS_PER_CLIENT, before it sends anything.
TOO_MANY_FROM_CLIENT = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nretry-after: 5\r\nconnection: close\r\n\r\n"
)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline, a body idle deadline and a header size cap."""

    header_timeout = 10.0
    body_idle_timeout = 30.0
    max_connections_per_client = 100
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    #: Open connections per client address, shared by the connections of one server (a fresh dict
    #: per server: uvicorn_config makes a subclass each time); one event loop, so no lock.
    connections_per_client: dict[str, int] = {}

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._counted_as: str | None = None
        super().connection_made(transport)
        client = self._client_key()
        if client is not None:
            held = self.connections_per_client.get(client, 0)
            if held >= self.max_connections_per_client:
                # Refused before any work: no request is read. Not logged one by one (a flood would
                # flood the logs too); the client sees a 503 and a closed socket.
                transport.write(TOO_MANY_FROM_CLIENT)
                transport.close()
                return
            self.connections_per_client[client] = held + 1
            self._counted_as = client
        self._arm(self.header_timeout, "request headers not received in time")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._counted_as is not None:
            left = self.connections_per_client.get(self._counted_as, 1) - 1
            if left > 0:
                self.connections_per_client[self._counted_as] = left
            else:
                self.connections_per_client.pop(self._counted_as, None)
            self._counted_as = None
        super().connection_lost(exc)

    def _client_key(self) -> str | None:
        """What one client is for the cap: its address, an IPv6 one's /64 (one host has the whole
        /64 to choose from); None for a trusted proxy or a peer that is not an IP (not capped)."""
        if not self.client:
            return None
        try:
            address = ipaddress.ip_address(self.client[0])
        except ValueError:
            return None
        if any(address in network for network in self.trusted_proxies):
            return None
        if isinstance(address, ipaddress.IPv6Address):
            if address.ipv4_mapped is not None:
                return str(address.ipv4_mapped)
            return str(ipaddress.ip_network(f"{address}/64", strict=False))
        return str(address)

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
            "max_connections_per_client": settings.http_max_connections_per_client,
            "trusted_proxies": tuple(settings.trusted_proxy_networks),
            "connections_per_client": {},
        },
    )
    proxies = settings.trusted_proxies
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
        # Forwarded headers only from the configured proxies; with none, uvicorn does not even look.
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies.split(",") if proxies else [],
    )


def raise_open_file_limit() -> None:
    """Up to the hard limit: each connection is a descriptor, and the soft default is often 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


__all__ = [
    "MAX_HEADER_BYTES",
    "TOO_MANY_FROM_CLIENT",
    "GuardedHttpToolsProtocol",
    "raise_open_file_limit",
    "uvicorn_config",
]
