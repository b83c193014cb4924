"""Account commands: invite, use a link, ask for a reset, sign in. Each loads the account's stream,
decides with `web.accounts`, appends — the secrets (hash, session) in the same transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from uuid_utils import uuid7

from chassis.links import verify_link_token
from contracts.errors import CommandRefused
from contracts.events.common import Contact, Locale
from contracts.events.web import PortalRole
from web import accounts, store

#: The purposes the notifier signs these links with (notifier.mailer).
INVITATION = "portal_invitation"
PASSWORD_RESET = "password_reset"  # noqa: S105 (a purpose, not a secret)


def _uuid() -> UUID:
    return UUID(str(uuid7()))


async def _account(runtime: Any, conn: Any, user_id: UUID) -> tuple[accounts.Account | None, int]:
    history = await runtime.store.read_stream(conn, accounts.stream_id(user_id))
    return accounts.fold(r.event for r in history), len(history)


async def _append(
    runtime: Any, conn: Any, account: accounts.Account, version: int, events: list[Any]
) -> None:
    await runtime.append_in(
        conn,
        stream_id=accounts.stream_id(account.user_id),
        integrator_id=account.partition,
        expected_version=version,
        events=events,
    )


async def find_by_email(runtime: Any, email: str, conn: Any = None) -> dict[str, Any] | None:
    """The account of an address. Given `conn`, read in that transaction (a reaction's batch sees
    the accounts it has just invited)."""
    address = email.strip().lower()
    if conn is None:
        rows = await runtime.projections.list(
            "web_users", where="data->>'email' = $1", args=[address], limit=1
        )
        return rows[0] if rows else None
    value = await conn.fetchval("SELECT data FROM web_users WHERE data->>'email' = $1 LIMIT 1", address)
    return json.loads(value) if value is not None else None


async def invite(
    runtime: Any,
    *,
    email: str,
    name: str,
    role: PortalRole,
    integrator_id: str | None,
    locale: Locale,
    invited_by: str,
    conn: Any = None,
) -> UUID:
    """Invite a person (a new account, or a fresh link for one that never set its password)."""
    existing = await find_by_email(runtime, email, conn)
    user_id = UUID(existing["user_id"]) if existing else _uuid()
    valid_for = timedelta(days=runtime.settings.invitation_ttl_days)

    async def run(c: Any) -> None:
        account, version = await _account(runtime, c, user_id)
        events = accounts.invite(
            account,
            user_id=user_id,
            email=email.strip().lower(),
            name=name,
            role=role,
            integrator_id=integrator_id,
            locale=locale,
            token_id=_uuid(),
            now=runtime.clock.now(),
            valid_for=valid_for,
            invited_by=invited_by,
        )
        if events:
            await runtime.append_in(
                c,
                stream_id=accounts.stream_id(user_id),
                integrator_id=integrator_id or accounts.STAFF,
                expected_version=version,
                events=events,
            )

    if conn is not None:
        await run(conn)
    else:
        async with runtime.pool.acquire() as c, c.transaction():
            await run(c)
    return user_id


async def invite_contacts(
    runtime: Any, conn: Any, integrator_id: str, contacts: list[Contact], locale: Locale
) -> None:
    """An integrator registered: each of its contacts without an account is invited to the portal."""
    known = {
        row["email"]
        for row in await conn.fetch(
            "SELECT data->>'email' AS email FROM web_users WHERE data->>'email' = ANY($1::text[])",
            [str(c.email).lower() for c in contacts],
        )
    }
    for contact in accounts.invitations_for_contacts(known, contacts):
        await invite(
            runtime,
            email=str(contact.email),
            name=contact.name,
            role=PortalRole.INTEGRATOR,
            integrator_id=integrator_id,
            locale=locale,
            invited_by="onboarding",
            conn=conn,
        )


@dataclass(frozen=True)
class LinkHolder:
    row: dict[str, Any]
    token_id: UUID


async def link_holder(runtime: Any, purpose: str, token: str) -> LinkHolder:
    """The account a mailed link was issued for. Signature and expiry first: cheap, and no database
    read for a forged link."""
    secret = runtime.settings.link_signing_secret.get_secret_value()
    token_id, _ = verify_link_token(secret, purpose, token, now=runtime.clock.now())
    rows = await runtime.projections.list(
        "web_users", where="data->'links' ? $1", args=[str(token_id)], limit=2
    )
    if len(rows) != 1:
        raise CommandRefused("this link is not valid", field="token", code="invalid_token")
    return LinkHolder(rows[0], token_id)


async def check_link_open(runtime: Any, holder: LinkHolder) -> None:
    """Used or expired links are refused before any password is hashed (the expensive part)."""
    async with runtime.pool.acquire() as conn:
        account, _ = await _account(runtime, conn, UUID(holder.row["user_id"]))
    accounts.use_link(account, token_id=holder.token_id, now=runtime.clock.now())


async def set_password(runtime: Any, holder: LinkHolder, password: str) -> UUID:
    """Use the link once: the password kept, every session of the account ended."""
    await check_link_open(runtime, holder)
    password_hash = await store.hash_password(password)
    user_id = UUID(holder.row["user_id"])
    async with runtime.pool.acquire() as conn, conn.transaction():
        account, version = await _account(runtime, conn, user_id)
        events = accounts.use_link(account, token_id=holder.token_id, now=runtime.clock.now())
        assert account is not None
        await _append(runtime, conn, account, version, events)
        await store.keep_password(conn, user_id, password_hash, runtime.clock.now())
        await store.close_sessions_of(conn, user_id)
    return user_id


async def request_reset(runtime: Any, email: str) -> None:
    """A reset link to the address if it has an account; the same answer either way (no enumeration)."""
    row = await find_by_email(runtime, email)
    if row is None:
        return
    user_id = UUID(row["user_id"])
    async with runtime.pool.acquire() as conn, conn.transaction():
        account, version = await _account(runtime, conn, user_id)
        if account is None:
            return
        events = accounts.request_reset(
            account,
            token_id=_uuid(),
            now=runtime.clock.now(),
            valid_for=timedelta(hours=runtime.settings.password_reset_ttl_hours),
        )
        await _append(runtime, conn, account, version, events)


@dataclass(frozen=True)
class SignIn:
    user_id: UUID | None = None
    session_id: str | None = None
    locked_until: Any = None


async def sign_in(runtime: Any, email: str, password: str) -> SignIn:
    """A session for the right password. Wrong ones are counted; at the limit the account locks."""
    now = runtime.clock.now()
    row = await find_by_email(runtime, email)
    if row is None:
        await store.password_matches(None, password)  # the same time as a wrong password
        return SignIn()
    user_id = UUID(row["user_id"])
    async with runtime.pool.acquire() as conn:
        account, version = await _account(runtime, conn, user_id)
        password_hash = await store.password_hash_of(conn, user_id)
    if account is None:
        return SignIn()
    if accounts.is_locked(account, now):
        return SignIn(user_id=user_id, locked_until=account.locked_until)
    if not await store.password_matches(password_hash, password):
        async with runtime.pool.acquire() as conn, conn.transaction():
            failures = await store.count_failure(conn, user_id, now)
            account, version = await _account(runtime, conn, user_id)
            assert account is not None
            events = accounts.after_failed_sign_in(account, failures_in_a_row=failures, now=now)
            if events:
                await _append(runtime, conn, account, version, events)
                await store.clear_failures(conn, user_id)
                return SignIn(user_id=user_id, locked_until=events[0].locked_until)  # type: ignore[attr-defined]
        return SignIn(user_id=user_id)
    async with runtime.pool.acquire() as conn, conn.transaction():
        await store.clear_failures(conn, user_id)
        session_id = await store.open_session(
            conn, user_id, now, timedelta(hours=runtime.settings.session_hours)
        )
    return SignIn(user_id=user_id, session_id=session_id)


async def change_locale(runtime: Any, user_id: UUID, locale: Locale) -> None:
    async with runtime.pool.acquire() as conn, conn.transaction():
        account, version = await _account(runtime, conn, user_id)
        if account is not None:
            await _append(runtime, conn, account, version, accounts.change_locale(account, locale))
