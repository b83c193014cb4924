"""The accounts of the people who sign in: pure decisions over an account's events (no I/O, no clock).

An account is one stream per person (`user-<id>`). It is invited (an integrator's contact, or a staff
member added by the command line), sets a password through a single-use link, may ask for a reset,
and was locked for a while after too many wrong passwords in a row by earlier versions (wrong
passwords now slow the client that types them: `web.backoff`). The password itself is not an
event: the service keeps its hash beside the log (see `web.store`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from email_validator import EmailNotValidError, validate_email

from contracts.errors import CommandRefused, OutOfOrder
from contracts.events import DomainEvent
from contracts.events.common import Contact, Locale
from contracts.events.web import (
    STAFF,
    PasswordResetRequested,
    PortalAccountLocked,
    PortalLocaleChanged,
    PortalPasswordSet,
    PortalRole,
    PortalUserInvited,
)


def address_problem(email: str) -> str | None:
    """Why this is not an email address, or None: email-validator's syntax rules (no lookup of the
    domain), the ones the events' `EmailStr` applies, so an address taken here is one they take."""
    try:
        validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as bad:
        return f"{email!r} is not an email address: {bad}"
    return None


@dataclass(frozen=True)
class Account:
    user_id: UUID
    email: str
    name: str
    role: PortalRole
    integrator_id: str | None
    locale: Locale
    #: Links still usable: token id -> expiry (an invitation, then any reset asked for).
    open_links: dict[UUID, datetime]
    password_set: bool = False
    locked_until: datetime | None = None

    @property
    def partition(self) -> str:
        """The Kafka key of the account's events: its integrator, or the vendor for staff."""
        return self.integrator_id or STAFF


def stream_id(user_id: UUID) -> str:
    return f"user-{user_id}"


def evolve(account: Account | None, event: DomainEvent) -> Account | None:
    if isinstance(event, PortalUserInvited):
        links = dict(account.open_links) if account else {}
        links[event.invitation_token_id] = event.invitation_expires_at
        return Account(
            user_id=event.user_id,
            email=str(event.email),
            name=event.name,
            role=event.role,
            integrator_id=event.integrator_id,
            locale=event.locale,
            open_links=links,
            password_set=account.password_set if account else False,
        )
    if account is None:
        return None
    if isinstance(event, PasswordResetRequested):
        return replace(
            account, open_links={**account.open_links, event.reset_token_id: event.reset_expires_at}
        )
    if isinstance(event, PortalPasswordSet):
        # Every link ends with the one used: an older invitation cannot set the password again.
        return replace(account, password_set=True, open_links={}, locked_until=None)
    if isinstance(event, PortalAccountLocked):
        return replace(account, locked_until=event.locked_until)
    if isinstance(event, PortalLocaleChanged):
        return replace(account, locale=event.locale)
    return account


def fold(events: Iterable[DomainEvent]) -> Account | None:
    account = None
    for event in events:
        account = evolve(account, event)
    return account


def invite(
    account: Account | None,
    *,
    user_id: UUID,
    email: str,
    name: str,
    role: PortalRole,
    integrator_id: str | None,
    locale: Locale,
    token_id: UUID,
    now: datetime,
    valid_for: timedelta,
    invited_by: str,
) -> list[DomainEvent]:
    """Given no account, when a person is invited, then an invitation with a fresh link. An account
    that already has its password is not invited again (a second registration event changes nothing)."""
    if account is not None and account.password_set:
        return []
    if problem := address_problem(email):
        raise CommandRefused(problem, field="email", code="invalid_email")
    if role is PortalRole.INTEGRATOR and not integrator_id:
        raise CommandRefused("an integrator user belongs to an integrator", field="integrator_id")
    if role is not PortalRole.INTEGRATOR and integrator_id:
        raise CommandRefused("staff belong to no integrator", field="integrator_id")
    return [
        PortalUserInvited(
            user_id=user_id,
            email=email,
            name=name,
            role=role,
            integrator_id=integrator_id,
            locale=locale,
            invitation_token_id=token_id,
            invitation_expires_at=now + valid_for,
            invited_by=invited_by,
        )
    ]


def invitations_for_contacts(known_emails: set[str], contacts: Iterable[Contact]) -> list[Contact]:
    """The contacts of a registration who have no account yet (one account per address)."""
    seen = {e.lower() for e in known_emails}
    fresh = []
    for contact in contacts:
        address = str(contact.email).lower()
        if address not in seen:
            seen.add(address)
            fresh.append(contact)
    return fresh


def use_link(account: Account | None, *, token_id: UUID, now: datetime) -> list[DomainEvent]:
    """Given an open link, when its person chooses a password, then the password is set and every
    link of the account is spent."""
    if account is None:
        raise CommandRefused("this link is not valid", field="token", code="invalid_token")
    expires_at = account.open_links.get(token_id)
    if expires_at is None:
        raise OutOfOrder("this link was already used", field="token", code="link_used")
    if now >= expires_at:
        raise CommandRefused("this link has expired", field="token", code="expired_token")
    return [PortalPasswordSet(user_id=account.user_id, token_id=token_id)]


def request_reset(
    account: Account, *, token_id: UUID, now: datetime, valid_for: timedelta
) -> list[DomainEvent]:
    return [
        PasswordResetRequested(
            user_id=account.user_id,
            email=account.email,
            name=account.name,
            locale=account.locale,
            reset_token_id=token_id,
            reset_expires_at=now + valid_for,
        )
    ]


def is_locked(account: Account, now: datetime) -> bool:
    """An account locked by the sign-in of an earlier version (`PortalAccountLocked` stays in the
    log). Sign-in no longer locks, nor asks this: a lock let anyone lock anyone out (web.backoff)."""
    return account.locked_until is not None and now < account.locked_until


def change_locale(account: Account, locale: Locale) -> list[DomainEvent]:
    return [] if account.locale is locale else [PortalLocaleChanged(user_id=account.user_id, locale=locale)]
