"""The ISM accounts' passwords: a secret that must never enter the log, so not a projection (it
cannot be rebuilt from the log) but a table of its own, written in the transaction that records
`IsmPasswordSet` (the link is used if and only if the password is kept)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from chassis.db import Conn

MIGRATIONS = [
    "CREATE TABLE IF NOT EXISTS ism_account_passwords ("
    " integrator_id text PRIMARY KEY, account_id text NOT NULL,"
    " password_hash text NOT NULL, set_at timestamptz NOT NULL)",
]


def hash_password(password: str) -> str:
    """scrypt with a random salt: the password is kept nowhere else, never in an event or a log."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"


async def keep(conn: Conn, *, integrator_id: str, account_id: str, password_hash: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO ism_account_passwords (integrator_id, account_id, password_hash, set_at) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (integrator_id) DO UPDATE SET "
        "password_hash = EXCLUDED.password_hash, set_at = EXCLUDED.set_at",
        integrator_id,
        account_id,
        password_hash,
        at,
    )
