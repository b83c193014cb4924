"""Events of the onboarding service: the integrator account, its dossier, electrical profile, go-live."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, EmailStr, Field

from contracts.events.base import DomainEvent
from contracts.events.common import Contact, DossierItem, FileRef, Locale, TableSnapshot


class OnboardingEvent(DomainEvent):
    producer: ClassVar[str] = "onboarding"


class IntegratorRegistered(OnboardingEvent):
    legal_name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=500)
    siret: str = Field(pattern=r"^\d{14}$")
    vat_number: str = Field(pattern=r"^FR[0-9A-Z]{2}\d{9}$")
    contacts: list[Contact] = Field(min_length=1)
    locale: Locale = Locale.FR
    customer_service_phone: str
    customer_service_cost_per_minute: Decimal = Field(ge=0)
    customer_service_email: EmailStr
    registered_by: str


class IntegratorContactsUpdated(OnboardingEvent):
    """The integrator's contacts and/or language changed after registration (by ops or the integrator).

    Carries the whole new list, not a difference: a consumer replaces what it knew, so the emails
    after it go to the new addresses, in the new language.
    """

    contacts: list[Contact] = Field(min_length=1)
    locale: Locale
    updated_by: str


class DossierWentOverdue(OnboardingEvent):
    """The dossier is still incomplete `due_at` after registration (the onboarding's delay setting).
    Raised once; ops and the integrator are told which items are still missing."""

    due_at: AwareDatetime
    detected_at: AwareDatetime
    missing_items: list[DossierItem] = Field(min_length=1)


class DossierItemSubmitted(OnboardingEvent):
    item: DossierItem
    file: FileRef | None = None
    #: Declared values that come with the item (footer text, ARCEP sent date, invoice sender email...).
    details: dict[str, str] = Field(default_factory=dict)
    submitted_by: str
    #: The rows parsed and checked on submission (tabular items only): acceptance passes on exactly
    #: what was checked, and onboarding never has to read a stored file again to decide.
    table: TableSnapshot | None = None


class DossierItemAccepted(OnboardingEvent):
    item: DossierItem
    file: FileRef | None = None
    details: dict[str, str] = Field(default_factory=dict)
    #: The parsed rows, for the tabular items (see `TableSnapshot`).
    table: TableSnapshot | None = None
    accepted_by: str


class DossierItemRejected(OnboardingEvent):
    item: DossierItem
    reason: str = Field(min_length=1, max_length=2000)
    rejected_by: str


class ConfigurationSheetSent(OnboardingEvent):
    """Step 1 begins: the electrical profile configuration sheet goes to the integrator."""

    sent_by: str


class ProfileReceived(OnboardingEvent):
    """The integrator sent back the filled configuration sheet."""

    file: FileRef


class ElectricalProfileCreated(OnboardingEvent):
    """The vendor created the integrator's electrical profile: step 2 opens in sim-logistics."""

    profile_reference: str = Field(min_length=1, max_length=100)
    created_by: str


class OnboardingMilestoneNoted(OnboardingEvent):
    """Onboarding learnt, through Kafka, that another service reached a go-live condition."""

    #: "test_sims_step_opened" | "sims_validated" | "production_ordered" | "sims_delivered" | "ism_delivered"
    milestone: str
    source_event_id: UUID
    #: The deadline the source event set, if any (step 2: two weeks; step 3: four weeks), so the
    #: onboarding status can show due dates from onboarding's own log.
    due_at: AwareDatetime | None = None


class IntegratorWentLive(OnboardingEvent):
    """GO intégrateur."""


class OnboardingStepWentOverdue(OnboardingEvent):
    """Mirror of a step overdue in another service, so the status query can show it."""

    step: str
    source_event_id: UUID
    #: The deadline that was missed, as sim-logistics set it.
    due_at: AwareDatetime | None = None
