"""What the web front keeps beside its log: password hashes and sessions.

None of these are events, on purpose: a password hash or a session id must never travel on Kafka or
stay forever in an append-only log. They are secrets of this service alone, written in the same
transaction as the event that explains them (`PortalPasswordSet`), and they are not rebuilt from the
log: after a loss, people reset their password (the invitation and reset links still work).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIGRATIONS = [
    "CREATE TABLE IF NOT EXISTS web_credentials ("
    " user_id uuid PRIMARY KEY, password_hash text NOT NULL, set_at timestamptz NOT NULL)",
    "CREATE TABLE IF NOT EXISTS web_sessions ("
    " id_hash bytea PRIMARY KEY, user_id uuid NOT NULL, created_at timestamptz NOT NULL,"
    " expires_at timestamptz NOT NULL)",
    "CREATE INDEX IF NOT EXISTS web_sessions_user ON web_sessions (user_id)",
    # Wrong passwords were counted here per account, to lock it; they slow their client now, in
    # memory (web.backoff): a lock let anyone lock anyone out.
    "DROP TABLE IF EXISTS web_sign_in_failures",
    # The `web_addresses` view came after the accounts: on the first start after the upgrade, while
    # it is empty, it is filled from `web_users` (the rows a rebuild gives), so that no address gets
    # a second account. Idempotent: it does nothing once the view has a row.
    "INSERT INTO web_addresses (key, integrator_id, data, position) "
    "SELECT data->>'email', integrator_id, jsonb_build_object('user_id', data->>'user_id'), position "
    "FROM web_users WHERE NOT EXISTS (SELECT 1 FROM web_addresses) ON CONFLICT (key) DO NOTHING",
]

#: argon2id with the library's defaults (RFC 9106's second recommended profile).
_hasher = PasswordHasher()
#: A hash to verify against when the address is unknown, so that an unknown address and a wrong
#: password take the same time (no account enumeration by timing).
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def password_matches(password_hash: str | None, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


def _session_key(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


async def open_session(conn: Any, user_id: UUID, now: datetime, lifetime: timedelta) -> str:
    """A new session id (the cookie's value); only its hash is stored."""
    session_id = secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO web_sessions (id_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        _session_key(session_id),
        user_id,
        now,
        now + lifetime,
    )
    return session_id


async def session_user(conn: Any, session_id: str, now: datetime) -> UUID | None:
    row = await conn.fetchrow(
        "SELECT user_id FROM web_sessions WHERE id_hash = $1 AND expires_at > $2",
        _session_key(session_id),
        now,
    )
    return row["user_id"] if row else None


async def close_session(conn: Any, session_id: str) -> None:
    await conn.execute("DELETE FROM web_sessions WHERE id_hash = $1", _session_key(session_id))


async def close_sessions_of(conn: Any, user_id: UUID) -> None:
    """A new password ends every session of the account (a thief's too)."""
    await conn.execute("DELETE FROM web_sessions WHERE user_id = $1", user_id)


async def keep_password(conn: Any, user_id: UUID, password_hash: str, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO web_credentials (user_id, password_hash, set_at) VALUES ($1, $2, $3) "
        "ON CONFLICT (user_id) DO UPDATE SET password_hash = EXCLUDED.password_hash, set_at = EXCLUDED.set_at",
        user_id,
        password_hash,
        now,
    )


async def password_hash_of(conn: Any, user_id: UUID) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT password_hash FROM web_credentials WHERE user_id = $1", user_id
    )
    return value
