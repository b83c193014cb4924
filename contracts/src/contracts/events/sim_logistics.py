"""Events of the sim-logistics service: test SIMs, the validation call, production and delivery."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field

from contracts.events.base import DomainEvent
from contracts.events.common import DossierItem, TableSnapshot


class SimLogisticsEvent(DomainEvent):
    producer: ClassVar[str] = "sim-logistics"


class TestSimsStepOpened(SimLogisticsEvent):
    """Step 2 opened on ElectricalProfileCreated; due two weeks later."""

    __test__ = False  # not a pytest class
    profile_reference: str
    due_at: AwareDatetime


class TestSimsShipped(SimLogisticsEvent):
    __test__ = False
    iccids: list[str] = Field(min_length=2, max_length=2)
    carrier: str = Field(min_length=1, max_length=100)
    tracking_number: str = Field(min_length=1, max_length=100)
    profile_reference: str
    shipped_by: str


class TestSimsReceived(SimLogisticsEvent):
    __test__ = False
    confirmed_by: str


class ValidationCallBooked(SimLogisticsEvent):
    """The phone appointment for the test and validation (also a reschedule)."""

    starts_at: AwareDatetime
    duration_minutes: int = Field(ge=5, le=240)
    phone: str
    rescheduled: bool = False
    booked_by: str


class SimsValidated(SimLogisticsEvent):
    validated_by: str
    late_by_seconds: int = Field(default=0, ge=0)


class SimsRejected(SimLogisticsEvent):
    reason: str = Field(min_length=1, max_length=2000)
    rejected_by: str


class ProductionOrdered(SimLogisticsEvent):
    quantity: int = Field(ge=1, le=10_000_000)
    delivery_address: str = Field(min_length=1, max_length=500)
    artwork_reference: str
    due_at: AwareDatetime
    ordered_by: str
    late_by_seconds: int = Field(default=0, ge=0)
    #: The accepted artwork's file name, as the integrator sent it: what people recognise
    #: (`artwork_reference` is its sha256). Absent on orders placed before it was carried.
    artwork_filename: str | None = Field(default=None, max_length=255)


class ProductionStarted(SimLogisticsEvent):
    started_by: str


class SimsDelivered(SimLogisticsEvent):
    quantity: int = Field(ge=1)
    iccid_first: str
    iccid_last: str
    delivery_note_number: str
    delivered_by: str
    late_by_seconds: int = Field(default=0, ge=0)


class DeliveryNoteSent(SimLogisticsEvent):
    """The delivery note with the tariff grid (offers and mobiles)."""

    delivery_note_number: str
    tariff_grid_reference: str
    sent_by: str


class SimsReceptionConfirmed(SimLogisticsEvent):
    confirmed_by: str


class StepWentOverdue(SimLogisticsEvent):
    """A step passed its deadline without being done. Raised once per step."""

    step: str  # "test_sims" | "production"
    due_at: AwareDatetime
    detected_at: datetime


class ArtworkAcceptanceNoted(SimLogisticsEvent):
    """sim-logistics learnt from onboarding's events that the SIM artwork was accepted."""

    artwork_reference: str
    artwork_filename: str | None = Field(default=None, max_length=255)


class TariffTableNoted(SimLogisticsEvent):
    """sim-logistics learnt from onboarding's DossierItemAccepted an accepted offers, tariffs or
    terminals table: the tariff grid sent with the delivery note is built from these rows, from
    this service's own log (services never call each other)."""

    table: DossierItem
    snapshot: TableSnapshot
    source_event_id: UUID
