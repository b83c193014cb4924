"""Read models of the web front, folded from its own events.

- `web_users`, one row per person: the staff console lists the people of an integrator, a mailed
  link finds its account. The account's state is `accounts.evolve`'s, so the row says exactly what
  the domain does.
- `web_addresses`, one row per address (key: the address, lowercase): whose account it is. Commands
  find an account by address through it (`uow.view`), so an invitation sees the one invited just
  before it in the same unit of work, and two invitations of a new address at once conflict
  instead of making two accounts.
"""

from __future__ import annotations

from typing import Any

from chassis.projections import Projection
from contracts.envelope import Envelope
from contracts.events import DomainEvent
from contracts.events.web import (
    PasswordResetRequested,
    PortalAccountLocked,
    PortalLocaleChanged,
    PortalPasswordSet,
    PortalUserInvited,
)

Row = dict[str, Any]

USER_EVENTS = {
    PortalUserInvited,
    PortalPasswordSet,
    PasswordResetRequested,
    PortalAccountLocked,
    PortalLocaleChanged,
}


def apply_user(row: Row | None, envelope: Envelope, event: DomainEvent) -> Row | None:
    if isinstance(event, PortalUserInvited):
        base = row or {"password_set": False, "locked_until": None, "links": []}
        return {
            **base,
            # Every link ever issued, so that a used one is recognised (and said so), not "unknown".
            "links": [*base.get("links", []), str(event.invitation_token_id)],
            "user_id": str(event.user_id),
            "email": str(event.email).lower(),
            "name": event.name,
            "role": event.role.value,
            "integrator_id": event.integrator_id,
            "locale": event.locale.value,
            "invited_at": envelope.occurred_at.isoformat(),
        }
    if row is None:
        return None
    if isinstance(event, PasswordResetRequested):
        return {**row, "links": [*row.get("links", []), str(event.reset_token_id)]}
    if isinstance(event, PortalPasswordSet):
        return {**row, "password_set": True, "locked_until": None}
    if isinstance(event, PortalAccountLocked):
        return {**row, "locked_until": event.locked_until.isoformat()}
    if isinstance(event, PortalLocaleChanged):
        return {**row, "locale": event.locale.value}
    return row


def _user_key(envelope: Envelope, event: DomainEvent) -> str:
    return str(event.user_id)  # type: ignore[attr-defined]


def _address_key(envelope: Envelope, event: DomainEvent) -> str | None:
    return str(event.email).lower() if isinstance(event, PortalUserInvited) else None


def apply_address(row: Row | None, envelope: Envelope, event: DomainEvent) -> Row | None:
    assert isinstance(event, PortalUserInvited)
    return {"user_id": str(event.user_id)}


PROJECTIONS = [
    Projection(
        name="web_users",
        handles=USER_EVENTS,
        key=_user_key,
        apply=apply_user,
        indexes=["((data->>'email'))", "((data->>'integrator_id'))", "USING gin ((data->'links'))"],
    ),
    Projection(name="web_addresses", handles={PortalUserInvited}, key=_address_key, apply=apply_address),
]
