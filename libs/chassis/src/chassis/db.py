"""Database connection types shared by the chassis, and the count of round trips to PostgreSQL.

Every request asyncpg sends ends in a Sync (or is a simple Query) and waits for ReadyForQuery: one
round trip. They all go through a handful of coroutines of the connection's protocol object (asyncpg
0.32 `protocol.pyx`): `query` (a simple query: `execute` without arguments, hence BEGIN, COMMIT,
ROLLBACK, SAVEPOINT, RELEASE and the pool's reset query on release), `prepare` (a statement not in
the connection's cache, or a type introspection's), `bind_execute` (fetch, fetchrow, fetchval,
execute with arguments), `bind_execute_many` (executemany: one Sync for all its rows), `bind` and
`execute` (cursors), `close_portal`, `close_statement` (statements evicted from the cache),
`copy_in` and `copy_out`. So the chassis's connections count there, and nowhere else: a call that
makes no round trip (a cached statement's prepare) counts nothing, one that makes three (a
prepare, a type introspection, the execute) counts three, and nothing is counted twice. Opening a
connection (startup, authentication) and closing it are not counted: they are not per command.
"""

from __future__ import annotations

import weakref
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

#: A connection, whether taken from a pool (a proxy) or opened directly.
Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


#: Connections that took session state (an advisory lock, a listener): reset on release.
_NEEDS_RESET: weakref.WeakSet[asyncpg.Connection[Any]] = weakref.WeakSet()


def needs_reset(conn: Conn) -> None:
    """Mark a pooled connection as holding session state (a session advisory lock, LISTEN): the
    pool resets it on release. Others skip asyncpg's reset query, a round trip per use."""
    _NEEDS_RESET.add(getattr(conn, "_con", None) or conn)  # type: ignore[arg-type]


async def reset_on_release(conn: asyncpg.Connection[Any]) -> None:
    """The pool's reset: asyncpg's full reset (unlock all, UNLISTEN, RESET ALL) only for connections
    marked by `needs_reset`; a transaction left open by mistake is rolled back either way."""
    if conn in _NEEDS_RESET:
        _NEEDS_RESET.discard(conn)
        await conn.reset()
    elif conn.is_in_transaction():
        await conn.execute("ROLLBACK")


class RoundTrips:
    """The round trips of one service's connections. A plain int, not a Prometheus counter: it is
    bumped on the event loop's thread only, and read at scrape time (chassis.metrics)."""

    __slots__ = ("total",)

    def __init__(self) -> None:
        self.total = 0


class _CountingProtocol:
    """Stands in for a connection's asyncpg protocol: counts each request/response exchange, hands
    everything else to the protocol. What the connection reads on every call is bound once here
    (an instance attribute is found faster than `__getattr__` would be called)."""

    def __init__(self, protocol: Any, counts: RoundTrips) -> None:
        self._protocol = protocol
        self._counts = counts
        #: This connection's own count (for a span's attribute: the round trips of one command).
        self.round_trips = 0
        for name in (
            "get_settings", "get_record_class", "get_server_pid", "is_in_transaction", "is_connected",
            "is_closed", "_get_timeout", "_is_cancelling", "abort",
        ):  # fmt: skip
            setattr(self, name, getattr(protocol, name))

    @property
    def queries_count(self) -> int:  # read by the pool at each release
        return int(self._protocol.queries_count)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._protocol, name)

    # The coroutines that each make one round trip: counted (inline: this is every query's path),
    # then handed over as they are.

    def query(self, *args: Any, **kwargs: Any) -> Any:
        self.round_trips += 1
        self._counts.total += 1
        return self._protocol.query(*args, **kwargs)

    def prepare(self, *args: Any, **kwargs: Any) -> Any:
        self.round_trips += 1
        self._counts.total += 1
        return self._protocol.prepare(*args, **kwargs)

    def bind_execute(self, *args: Any, **kwargs: Any) -> Any:
        self.round_trips += 1
        self._counts.total += 1
        return self._protocol.bind_execute(*args, **kwargs)

    def bind_execute_many(self, *args: Any, **kwargs: Any) -> Any:
        self.round_trips += 1
        self._counts.total += 1
        return self._protocol.bind_execute_many(*args, **kwargs)

    def bind(self, *args: Any, **kwargs: Any) -> Any:
        self.round_trips += 1
        self._counts.total += 1
        return self._protocol.bind(*args, **kwargs)

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self.round_trips += 1
        self._counts.total += 1
        return self._protocol.execute(*args, **kwargs)

    def close_portal(self, *args: Any, **kwargs: Any) -> Any:
        self.round_trips += 1
        self._counts.total += 1
        return self._protocol.close_portal(*args, **kwargs)

    def close_statement(self, *args: Any, **kwargs: Any) -> Any:
        self.round_trips += 1
        self._counts.total += 1
        return self._protocol.close_statement(*args, **kwargs)

    def copy_in(self, *args: Any, **kwargs: Any) -> Any:
        self.round_trips += 1
        self._counts.total += 1
        return self._protocol.copy_in(*args, **kwargs)

    def copy_out(self, *args: Any, **kwargs: Any) -> Any:
        self.round_trips += 1
        self._counts.total += 1
        return self._protocol.copy_out(*args, **kwargs)


def counting_connection_class(counts: RoundTrips) -> type[asyncpg.Connection[asyncpg.Record]]:
    """A `connection_class` for `asyncpg.create_pool` whose connections add their round trips to
    `counts` (one class per service runtime: several run in one process in the tests)."""

    class CountingConnection(asyncpg.Connection):
        __slots__ = ()

        def __init__(self, protocol: Any, *args: Any, **kwargs: Any) -> None:
            counting: Any = _CountingProtocol(protocol, counts)  # not a BaseProtocol, quacks as one
            super().__init__(counting, *args, **kwargs)

    return CountingConnection


def round_trips_of(conn: Conn) -> int:
    """The round trips a connection of the chassis has made since it opened (0 for another)."""
    raw = getattr(conn, "_con", None) if isinstance(conn, PoolConnectionProxy) else conn
    protocol = getattr(raw, "_protocol", None)
    return protocol.round_trips if isinstance(protocol, _CountingProtocol) else 0
