"""Account commands: invite, use a link, ask for a reset, sign in. Each works in the chassis's unit
of work: it loads the account (`web.aggregates.ACCOUNT`), finds one by address through the
`web_addresses` view, decides with `web.accounts`, appends — the secrets beside the log (hash,
session, failures: `web.store`) in the same transaction when an event explains them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import structlog
from uuid_utils import uuid7

from chassis.links import verify_link_token
from chassis.unit_of_work import Loaded, UnitOfWork
from contracts.errors import CommandRefused
from contracts.events.common import Contact, Locale
from contracts.events.web import PortalRole
from web import accounts, store
from web.aggregates import ACCOUNT

#: The purposes the notifier signs these links with (notifier.mailer).
INVITATION = "portal_invitation"
PASSWORD_RESET = "password_reset"  # noqa: S105 (a purpose, not a secret)

log = structlog.get_logger()


def _uuid() -> UUID:
    return UUID(str(uuid7()))


def _address(email: str) -> str:
    return email.strip().lower()


async def _account_of(uow: UnitOfWork, email: str) -> Loaded[accounts.Account | None] | None:
    """The account of an address, as this unit of work sees it (one it has just invited included)."""
    known = await uow.view("web_addresses", _address(email))
    return await uow.load(ACCOUNT, known["user_id"]) if known else None


def _append(uow: UnitOfWork, loaded: Loaded[accounts.Account | None], events: list[Any]) -> None:
    assert loaded.state is not None
    uow.append(loaded, events, integrator_id=loaded.state.partition)


async def invite(
    uow: UnitOfWork,
    *,
    email: str,
    name: str,
    role: PortalRole,
    integrator_id: str | None,
    locale: Locale,
    invited_by: str,
) -> Loaded[accounts.Account | None]:
    """Invite a person (a new account, or a fresh link for one that never set its password)."""
    known = await uow.view("web_addresses", _address(email))
    user_id = UUID(known["user_id"]) if known else _uuid()
    loaded = await uow.load(ACCOUNT, str(user_id))
    events = accounts.invite(
        loaded.state,
        user_id=user_id,
        email=_address(email),
        name=name,
        role=role,
        integrator_id=integrator_id,
        locale=locale,
        token_id=_uuid(),
        now=uow.clock.now(),
        valid_for=timedelta(days=uow.settings.invitation_ttl_days),
        invited_by=invited_by,
    )
    uow.append(loaded, events, integrator_id=integrator_id or accounts.STAFF)
    return loaded


async def invite_contacts(
    uow: UnitOfWork, integrator_id: str, contacts: list[Contact], locale: Locale
) -> None:
    """An integrator registered: each of its contacts without an account is invited to the portal."""
    addresses = {_address(str(c.email)) for c in contacts}
    known = {a for a in addresses if await uow.view("web_addresses", a) is not None}
    for contact in accounts.invitations_for_contacts(known, contacts):
        await invite(
            uow,
            email=str(contact.email),
            name=contact.name,
            role=PortalRole.INTEGRATOR,
            integrator_id=integrator_id,
            locale=locale,
            invited_by="onboarding",
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
    async with runtime.unit_of_work() as uow:
        loaded = await uow.load(ACCOUNT, holder.row["user_id"])
    accounts.use_link(loaded.state, token_id=holder.token_id, now=runtime.clock.now())


async def set_password(runtime: Any, holder: LinkHolder, password: str) -> UUID:
    """Use the link once: the password kept, every session of the account ended."""
    await check_link_open(runtime, holder)
    password_hash = await store.hash_password(password)
    user_id = UUID(holder.row["user_id"])
    # A transaction: the hash and the sessions are not events (web.store), yet they must change
    # with `PortalPasswordSet` or not at all — so their SQL runs on the unit of work's connection,
    # in the transaction its events are written in when the block ends.
    async with runtime.unit_of_work(transaction=True) as uow:
        loaded = await uow.load(ACCOUNT, str(user_id))
        _append(
            uow, loaded, accounts.use_link(loaded.state, token_id=holder.token_id, now=runtime.clock.now())
        )
        await store.keep_password(uow.conn, user_id, password_hash, runtime.clock.now())
        await store.close_sessions_of(uow.conn, user_id)
    return user_id


def request_reset_later(runtime: Any, email: str) -> None:
    """Ask for a reset link off the request: the answer goes before the address is even looked up,
    so it takes the same time whether or not the address has an account (a reset for a known address
    took twice as long: the event appended). Kept until done (the runtime waits for it at stop)."""

    async def request() -> None:
        try:
            await request_reset(runtime, email)
        except Exception:  # off the request: nobody else would see it
            log.exception("password_reset_request_failed")

    runtime.run_after_commit(request)


async def request_reset(runtime: Any, email: str) -> None:
    """A reset link to the address if it has an account (the notifier emails it); nothing otherwise."""
    async with runtime.unit_of_work() as uow:
        loaded = await _account_of(uow, email)
        if loaded is None or loaded.state is None:
            return
        valid_for = timedelta(hours=runtime.settings.password_reset_ttl_hours)
        _append(
            uow,
            loaded,
            accounts.request_reset(
                loaded.state, token_id=_uuid(), now=runtime.clock.now(), valid_for=valid_for
            ),
        )


@dataclass(frozen=True)
class SignIn:
    user_id: UUID | None = None
    session_id: str | None = None


#: Stands for the account of an unknown address in the hash lookup (no account has it).
_NOBODY = UUID(int=0)


async def sign_in(runtime: Any, email: str, password: str) -> SignIn:
    """A session for the right password; nothing else for a wrong one or an unknown address — the
    same answer, the same work (a hash lookup and an argon2 verification, against a dummy hash for
    an unknown address), so neither the answer nor its time says whether the account exists.
    Wrong passwords are slowed per client (web.backoff), not by locking the account: a lock let
    anyone lock anyone out, and answered 423 only for existing accounts."""
    now = runtime.clock.now()
    async with runtime.unit_of_work() as uow:  # reads only
        loaded = await _account_of(uow, email)
    account = loaded.state if loaded is not None else None
    user_id = account.user_id if account is not None else _NOBODY
    password_hash = await store.password_hash_of(runtime.pool, user_id)
    if account is None or not await store.password_matches(password_hash, password):
        if account is None:
            await store.password_matches(None, password)  # the same argon2 work as a wrong password
        return SignIn()
    # No event: only the secrets beside the log (web.store).
    async with runtime.pool.acquire() as conn, conn.transaction():
        session_id = await store.open_session(
            conn, user_id, now, timedelta(hours=runtime.settings.session_hours)
        )
    return SignIn(user_id=user_id, session_id=session_id)


async def change_locale(runtime: Any, user_id: UUID, locale: Locale) -> None:
    async with runtime.unit_of_work() as uow:
        loaded = await uow.load(ACCOUNT, str(user_id))
        if loaded.state is not None:
            _append(uow, loaded, accounts.change_locale(loaded.state, locale))
