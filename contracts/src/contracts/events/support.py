"""Events of the support service: approval, maintenance, releases, installations, tickets, satisfaction."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, EmailStr, Field

from contracts.events.base import DomainEvent
from contracts.events.common import Contact, Frozen

#: Partition key of events that concern every integrator (releases).
VENDOR_WIDE = "vendor"


class SupportEvent(DomainEvent):
    producer: ClassVar[str] = "support"


class Channel(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    API = "api"


class Category(StrEnum):
    INCIDENT = "incident"
    QUESTION = "question"
    CORRECTION_REQUEST = "correction_request"
    IMPROVEMENT_REQUEST = "improvement_request"
    NON_COMPLIANCE = "non_compliance"


class Severity(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"


class Requester(Frozen):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr


# --- approval (agrément) -------------------------------------------------------------------------


class EmployeeDeclared(SupportEvent):
    """An employee of the integrator made known to the vendor, with whether they represent it.

    Why: the seed asks that *every* employee representing the integrator sign the charter. The
    platform can only check "every" against a list it holds, so the integrator's people are declared
    (again, to change the role: someone who stops representing it no longer blocks its approval).
    """

    employee_name: str = Field(min_length=1, max_length=200)
    represents_integrator: bool
    declared_by: str


class TrainingRecorded(SupportEvent):
    employee_name: str = Field(min_length=1, max_length=200)
    session_date: date
    trainer: str


class CharterSigned(SupportEvent):
    """An employee who represents the integrator signed the NF525 commitment charter."""

    employee_name: str = Field(min_length=1, max_length=200)
    signed_on: date
    charter_version: str


class IntegratorApprovalSuspended(SupportEvent):
    """Seed 004: approved means every representing employee trained and signed. A representing
    employee declared who has not yet trained or signed suspends the approval until they have
    (then `IntegratorApproved` again)."""

    employee_name: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)


class IntegratorNoted(SupportEvent):
    """Support learnt an integrator's company data and contacts from onboarding's events
    (IntegratorRegistered, IntegratorContactsUpdated), so its lists name companies, not UUIDs, and
    it knows who may ask tickets for the integrator."""

    legal_name: str = Field(min_length=1, max_length=200)
    siret: str
    address: str
    contacts: list[Contact] = Field(min_length=1)
    source_event_id: UUID


class IntegratorApproved(SupportEvent):
    approved_by: str


class IntegratorApprovalRevoked(SupportEvent):
    reason: str = Field(min_length=1, max_length=2000)
    revoked_by: str


class MaintenanceContractRecorded(SupportEvent):
    with_contract: bool
    recorded_by: str


# --- releases and installations -----------------------------------------------------------------


class ReleasePublished(SupportEvent):
    version: str
    release_notes: str
    certified: bool
    published_by: str


class ReleaseWithdrawn(SupportEvent):
    version: str
    reason: str = Field(min_length=1)
    warning_message: str = Field(min_length=1)
    withdrawn_by: str


class IntegratorWarnedOfWithdrawal(SupportEvent):
    """One approved integrator told that a version was withdrawn (one per integrator, on its own
    approval stream, so the notifier mails each integrator concerned without knowing who is approved)."""

    version: str
    reason: str = Field(min_length=1)
    warning_message: str = Field(min_length=1)


class IntegratorToldOfRelease(SupportEvent):
    """One approved integrator told of a newly published version (one per integrator, on its approval
    stream, like IntegratorWarnedOfWithdrawal), so the notifier mails exactly the approved ones."""

    version: str
    release_notes: str
    certified: bool


class InstallationReported(SupportEvent):
    """A procès-verbal d'installation, accepted."""

    report_id: UUID
    end_user_site: str
    version: str
    hardware_compatible: bool
    nf525_checklist: dict[str, bool]
    reported_by: str


# --- tickets ------------------------------------------------------------------------------------


class TicketOpened(SupportEvent):
    ticket_id: UUID
    channel: Channel
    requester: Requester
    subject: str = Field(min_length=1, max_length=300)
    description: str = Field(min_length=1, max_length=20_000)
    opened_by: str
    #: The number people read and quote (`T-2026-000123`), assigned by support at opening, unique
    #: in support. Optional: tickets opened before numbers existed have none.
    ticket_number: str | None = Field(default=None, pattern=r"^T-\d{4}-\d{6,}$")


class TicketQualified(SupportEvent):
    ticket_id: UUID
    category: Category
    severity: Severity


class TicketTaken(SupportEvent):
    ticket_id: UUID
    technician: str


class TicketMessagePosted(SupportEvent):
    ticket_id: UUID
    author: str
    body: str = Field(min_length=1, max_length=20_000)
    #: Internal notes are never shown or sent to the integrator.
    internal: bool
    #: Written by the integrator (portal/API) rather than by the vendor's staff: who hears of it.
    by_integrator: bool = False


class TrackerDeclarationMade(SupportEvent):
    """The request was declared on the tracker; the ticket waits for it."""

    ticket_id: UUID
    tracker_reference: str


class TicketStillWaitingOnTracker(SupportEvent):
    """A reminder to the integrator while the tracker declaration is pending."""

    ticket_id: UUID
    tracker_reference: str


class TrackerDeclarationSettled(SupportEvent):
    """The tracker answered the declaration (fix shipped, request refused...): the ticket stops waiting."""

    ticket_id: UUID
    tracker_reference: str
    outcome: str = Field(min_length=1, max_length=5000)
    settled_by: str


class TicketResolved(SupportEvent):
    ticket_id: UUID
    resolution_procedure: str = Field(min_length=1, max_length=20_000)
    resolved_by: str


class TicketClosed(SupportEvent):
    """Closed; a satisfaction survey goes out with a single-use link that expires."""

    ticket_id: UUID
    survey_token_id: UUID
    survey_expires_at: AwareDatetime
    closed_by: str


class TicketReopened(SupportEvent):
    ticket_id: UUID
    reason: str = Field(min_length=1)
    reopened_by: str


class SatisfactionRated(SupportEvent):
    ticket_id: UUID
    survey_token_id: UUID
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=5000)
