"""Events of the web front: the people who sign in to the platform (portal and staff console).

The web front owns accounts only. Passwords and session ids are secrets: they never enter this log
(the password hash lives in the web service's own credentials table, written in the same transaction
as `PortalPasswordSet`). A link (invitation, password reset) is carried as a token id and an expiry,
like every other link of the platform: the notifier signs it, the web front verifies it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, EmailStr, Field

from contracts.events.base import DomainEvent
from contracts.events.common import Locale

#: Partition key of the vendor's own staff accounts (they belong to no integrator).
STAFF = "vendor"


class WebEvent(DomainEvent):
    producer: ClassVar[str] = "web"


class PortalRole(StrEnum):
    INTEGRATOR = "integrator"
    OPS = "ops"
    TECHNICIAN = "technician"


class PortalUserInvited(WebEvent):
    """A person was invited to the platform: an integrator's contact (from its registration) or a
    member of the vendor's staff (from the `web users add` command).

    Why: the invitation email carries a single-use, expiring link to choose a password; its token id
    and expiry are what the notifier signs.
    """

    user_id: UUID
    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    role: PortalRole
    integrator_id: str | None = Field(default=None, max_length=100)
    locale: Locale = Locale.FR
    invitation_token_id: UUID
    invitation_expires_at: AwareDatetime
    invited_by: str = Field(min_length=1, max_length=200)


class PortalPasswordSet(WebEvent):
    """The person chose a password, through their invitation or a reset link (used once)."""

    user_id: UUID
    token_id: UUID


class PasswordResetRequested(WebEvent):
    """A person asked for a new password: the email carries a single-use, expiring link."""

    user_id: UUID
    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    locale: Locale = Locale.FR
    reset_token_id: UUID
    reset_expires_at: AwareDatetime


class PortalAccountLocked(WebEvent):
    """Too many wrong passwords in a row: sign-in refused until `locked_until`."""

    user_id: UUID
    failed_attempts: int = Field(ge=1)
    locked_until: AwareDatetime


class PortalLocaleChanged(WebEvent):
    """The person chose the language of their pages and emails."""

    user_id: UUID
    locale: Locale
