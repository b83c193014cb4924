"""Database connection types shared by the chassis."""

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
