"""Steps 2 and 3 of seed 000 for one integrator: test SIMs, validation call, production order,
production and delivery, each step with its deadline.

One stream per integrator, `sims-<integrator_id>`. `evolve` folds events into `SimProcess`; each
command is a function (state, inputs, now) -> events that raises a contracts `Refusal`: `OutOfOrder`
(409) when the process is not at that point, `CommandRefused` (422) when the values are wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from contracts.errors import CommandRefused, OutOfOrder
from contracts.events import DomainEvent
from contracts.events.common import DossierItem, TableSnapshot
from contracts.events.sim_logistics import (
    ArtworkAcceptanceNoted,
    DeliveryNoteSent,
    ProductionOrdered,
    ProductionStarted,
    SimsDelivered,
    SimsReceptionConfirmed,
    SimsRejected,
    SimsValidated,
    StepWentOverdue,
    TariffTableNoted,
    TestSimsReceived,
    TestSimsShipped,
    TestSimsStepOpened,
    ValidationCallBooked,
)
from sim_logistics.domain.iccid import cards_in_range, check_iccid

#: Whether an appointment (start, duration) fits in the support's hours on a business day.
InSupportHours = Callable[[datetime, timedelta], bool]

#: Step 2 ("Délai 2 semaines") runs from the electrical profile's creation to the production order.
TEST_SIMS_DEADLINE = timedelta(weeks=2)
#: Step 3 ("Délai 4 semaines") runs from the production order to the SIMs' delivery.
PRODUCTION_DEADLINE = timedelta(weeks=4)
#: Further ahead than this, a booking is a typo, not an appointment.
FURTHEST_BOOKING = timedelta(days=180)


class Step(StrEnum):
    TEST_SIMS = "test_sims"
    PRODUCTION = "production"


def stream_id(integrator_id: str) -> str:
    return f"sims-{integrator_id}"


@dataclass(frozen=True)
class Shipment:
    """The pair of test SIMs currently with the integrator, and where their validation stands."""

    iccids: tuple[str, ...]
    received: bool = False
    call_starts_at: datetime | None = None
    rejected: bool = False


@dataclass(frozen=True)
class Order:
    quantity: int
    artwork_reference: str
    delivery_address: str = ""
    artwork_filename: str | None = None


@dataclass(frozen=True)
class Delivery:
    quantity: int
    delivery_note_number: str
    iccid_first: str = ""
    iccid_last: str = ""


@dataclass(frozen=True)
class SimProcess:
    profile_reference: str | None = None
    due_at: dict[Step, datetime] = field(default_factory=dict)
    overdue: frozenset[Step] = frozenset()
    shipment: Shipment | None = None
    #: ICCIDs of rejected test SIMs: the new pair must be other cards.
    rejected_iccids: frozenset[str] = frozenset()
    validated: bool = False
    #: The latest SIM artwork accepted in the onboarding dossier (its file's sha256, and its name).
    accepted_artwork: str | None = None
    accepted_artwork_filename: str | None = None
    #: The accepted offers, tariffs and terminals tables (by dossier item): the tariff grid's rows.
    tables: dict[DossierItem, TableSnapshot] = field(default_factory=dict)
    order: Order | None = None
    production_started: bool = False
    delivery: Delivery | None = None
    delivery_note_sent: bool = False
    reception_confirmed: bool = False

    @property
    def open_step(self) -> Step | None:
        """The step whose deadline runs: step 2 until the production order, step 3 until delivery."""
        if self.profile_reference is None:
            return None
        if self.order is None:
            return Step.TEST_SIMS
        if self.delivery is None:
            return Step.PRODUCTION
        return None


def evolve(state: SimProcess, event: DomainEvent) -> SimProcess:
    match event:
        case TestSimsStepOpened():
            return replace(
                state,
                profile_reference=event.profile_reference,
                due_at={**state.due_at, Step.TEST_SIMS: event.due_at},
            )
        case ArtworkAcceptanceNoted():
            return replace(
                state,
                accepted_artwork=event.artwork_reference,
                accepted_artwork_filename=event.artwork_filename,
            )
        case TariffTableNoted():
            return replace(state, tables={**state.tables, event.table: event.snapshot})
        case TestSimsShipped():
            return replace(state, shipment=Shipment(iccids=tuple(event.iccids)))
        case TestSimsReceived():
            return replace(state, shipment=replace(_shipment(state), received=True))
        case ValidationCallBooked():
            return replace(state, shipment=replace(_shipment(state), call_starts_at=event.starts_at))
        case SimsValidated():
            return replace(state, validated=True)
        case SimsRejected():
            shipment = _shipment(state)
            return replace(
                state,
                shipment=replace(shipment, rejected=True),
                rejected_iccids=state.rejected_iccids | set(shipment.iccids),
            )
        case ProductionOrdered():
            return replace(
                state,
                order=Order(
                    quantity=event.quantity,
                    artwork_reference=event.artwork_reference,
                    delivery_address=event.delivery_address,
                    artwork_filename=event.artwork_filename,
                ),
                due_at={**state.due_at, Step.PRODUCTION: event.due_at},
            )
        case ProductionStarted():
            return replace(state, production_started=True)
        case SimsDelivered():
            return replace(
                state,
                delivery=Delivery(
                    quantity=event.quantity,
                    delivery_note_number=event.delivery_note_number,
                    iccid_first=event.iccid_first,
                    iccid_last=event.iccid_last,
                ),
            )
        case DeliveryNoteSent():
            return replace(state, delivery_note_sent=True)
        case SimsReceptionConfirmed():
            return replace(state, reception_confirmed=True)
        case StepWentOverdue():
            return replace(state, overdue=state.overdue | {Step(event.step)})
    return state


def fold(events: Iterable[DomainEvent]) -> SimProcess:
    state = SimProcess()
    for event in events:
        state = evolve(state, event)
    return state


def _shipment(state: SimProcess) -> Shipment:
    if state.shipment is None:  # evolve only folds what the commands allowed
        raise ValueError("no test SIM shipment in this history")
    return state.shipment


def late_by_seconds(state: SimProcess, step: Step, now: datetime) -> int:
    """How late a step completed at `now` is (0 when on time): recorded on the completing event."""
    due = state.due_at.get(step)
    if due is None or now <= due:
        return 0
    return int((now - due).total_seconds())


# --- what sim-logistics learns from onboarding ----------------------------------------------------


def open_test_sims_step(
    state: SimProcess, *, profile_reference: str, profile_created_at: datetime
) -> list[DomainEvent]:
    """ElectricalProfileCreated opens step 2, due two weeks after the profile's creation.

    A second creation (a redelivery under another id, a profile redone) changes nothing: the
    deadline was promised from the first one."""
    if state.profile_reference is not None:
        return []
    return [
        TestSimsStepOpened(
            profile_reference=profile_reference, due_at=profile_created_at + TEST_SIMS_DEADLINE
        )
    ]


def note_artwork_acceptance(
    state: SimProcess, *, artwork_reference: str, artwork_filename: str | None = None
) -> list[DomainEvent]:
    """The SIM artwork was accepted in the onboarding dossier: the production order may name it.
    It may come before step 2 opens (the dossier is filled in at the integrator's pace)."""
    if state.accepted_artwork == artwork_reference:
        return []
    return [ArtworkAcceptanceNoted(artwork_reference=artwork_reference, artwork_filename=artwork_filename)]


#: The dossier tables the tariff grid is made of (seed 000: "grille tarifaire des offres et mobiles").
TARIFF_TABLES = (
    DossierItem.OFFERS_TABLE,
    DossierItem.TARIFFS_METROPOLITAN,
    DossierItem.TARIFFS_INTERNATIONAL,
    DossierItem.TERMINALS_TABLE,
)


def note_tariff_table(
    state: SimProcess, *, table: DossierItem, snapshot: TableSnapshot, source_event_id: UUID
) -> list[DomainEvent]:
    """An offers, tariffs or terminals table accepted in the dossier: the latest one is the grid's.
    The same rows again (a redelivery) add nothing."""
    if table not in TARIFF_TABLES or state.tables.get(table) == snapshot:
        return []
    return [TariffTableNoted(table=table, snapshot=snapshot, source_event_id=source_event_id)]


# --- step 2: test SIMs ----------------------------------------------------------------------------


def _step_two_open(state: SimProcess) -> str:
    if state.profile_reference is None:
        raise OutOfOrder(
            "step 2 is not open: the integrator's electrical profile is not created yet",
            code="step_not_open",
        )
    if state.validated:
        raise OutOfOrder("the test SIMs are already validated", code="sims_already_validated")
    return state.profile_reference


def ship_test_sims(
    state: SimProcess, *, iccids: list[str], carrier: str, tracking_number: str, shipped_by: str
) -> list[DomainEvent]:
    """Two test SIMs built on the integrator's electrical profile go out. Again only after a
    rejection, and then as other cards."""
    profile_reference = _step_two_open(state)
    if state.shipment is not None and not state.shipment.rejected:
        raise OutOfOrder(
            "test SIMs are already out and not rejected: new ones go out only after a rejection",
            code="test_sims_outstanding",
        )
    if len(iccids) != 2:
        raise CommandRefused(f"exactly two test SIMs are shipped, not {len(iccids)}", field="iccids")
    for index, iccid in enumerate(iccids):
        check_iccid(iccid, field=f"iccids.{index}")
    if iccids[0] == iccids[1]:
        raise CommandRefused("the two test SIMs are two different cards", field="iccids.1")
    reused = sorted(set(iccids) & state.rejected_iccids)
    if reused:
        raise CommandRefused(
            f"{', '.join(reused)} was rejected: new test SIMs are other cards", field="iccids"
        )
    if not carrier.strip():
        raise CommandRefused("the carrier is named", field="carrier")
    if not tracking_number.strip():
        raise CommandRefused("the tracking number is given", field="tracking_number")
    return [
        TestSimsShipped(
            iccids=list(iccids),
            carrier=carrier.strip(),
            tracking_number=tracking_number.strip(),
            profile_reference=profile_reference,
            shipped_by=shipped_by,
        )
    ]


def _current_shipment(state: SimProcess) -> Shipment:
    _step_two_open(state)
    if state.shipment is None:
        raise OutOfOrder("no test SIMs were shipped yet", code="test_sims_not_shipped")
    if state.shipment.rejected:
        raise OutOfOrder(
            "the test SIMs were rejected: new ones must be shipped first", code="test_sims_rejected"
        )
    return state.shipment


def confirm_test_sims_reception(state: SimProcess, *, confirmed_by: str) -> list[DomainEvent]:
    shipment = _current_shipment(state)
    if shipment.received:
        raise OutOfOrder("the reception of these test SIMs is already confirmed", code="already_received")
    return [TestSimsReceived(confirmed_by=confirmed_by)]


def book_validation_call(
    state: SimProcess,
    *,
    starts_at: datetime,
    duration_minutes: int,
    phone: str,
    booked_by: str,
    now: datetime,
    in_support_hours: InSupportHours,
) -> list[DomainEvent]:
    """The phone appointment to test and validate the SIMs the integrator received, within support
    hours (`in_support_hours`: the vendor's business calendar, holidays included, passed in so the
    domain stays pure). Booking again before the outcome is recorded is a reschedule."""
    shipment = _current_shipment(state)
    if not shipment.received:
        raise OutOfOrder(
            "the integrator has not confirmed receiving the test SIMs: the call tests them",
            code="test_sims_not_received",
        )
    if not 5 <= duration_minutes <= 240:
        raise CommandRefused("a call lasts 5 to 240 minutes", field="duration_minutes")
    if starts_at <= now:
        raise CommandRefused("the appointment is in the future", field="starts_at")
    if starts_at > now + FURTHEST_BOOKING:
        raise CommandRefused("the appointment is within the next six months", field="starts_at")
    if not in_support_hours(starts_at, timedelta(minutes=duration_minutes)):
        raise CommandRefused(
            "the call is held within support hours: 09:00–12:00 or 14:00–18:00, Monday to Friday "
            "except public holidays, Paris time",
            field="starts_at",
            code="outside_support_hours",
        )
    if sum(c.isdigit() for c in phone) < 6:
        raise CommandRefused("the phone number to call has at least 6 digits", field="phone")
    return [
        ValidationCallBooked(
            starts_at=starts_at,
            duration_minutes=duration_minutes,
            phone=phone.strip(),
            rescheduled=shipment.call_starts_at is not None,
            booked_by=booked_by,
        )
    ]


def _call_held(state: SimProcess, now: datetime) -> Shipment:
    shipment = _current_shipment(state)
    if not shipment.received:
        raise OutOfOrder(
            "the test SIMs were not received yet: they cannot have been tested",
            code="test_sims_not_received",
        )
    if shipment.call_starts_at is None:
        raise OutOfOrder("no validation call was booked", code="call_not_booked")
    if now < shipment.call_starts_at:
        raise OutOfOrder(
            f"the validation call is at {shipment.call_starts_at.isoformat()}: its outcome comes after it",
            code="call_not_held",
        )
    return shipment


def validate_sims(state: SimProcess, *, validated_by: str, now: datetime) -> list[DomainEvent]:
    _call_held(state, now)
    return [
        SimsValidated(validated_by=validated_by, late_by_seconds=late_by_seconds(state, Step.TEST_SIMS, now))
    ]


def reject_sims(state: SimProcess, *, reason: str, rejected_by: str, now: datetime) -> list[DomainEvent]:
    """The call found the SIMs wrong: the reason is kept and new test SIMs can go out."""
    _call_held(state, now)
    if not reason.strip():
        raise CommandRefused("a rejection gives its reason", field="reason")
    return [SimsRejected(reason=reason.strip(), rejected_by=rejected_by)]


def order_production(
    state: SimProcess,
    *,
    quantity: int,
    delivery_address: str,
    artwork_reference: str,
    ordered_by: str,
    now: datetime,
) -> list[DomainEvent]:
    """The SIM purchase order with the graphic customisation: closes step 2, opens step 3 (4 weeks).
    The artwork must be the one accepted in the onboarding dossier."""
    if state.order is not None:
        raise OutOfOrder("the SIM production is already ordered", code="already_ordered")
    if state.profile_reference is None:
        raise OutOfOrder("step 2 is not open: no electrical profile yet", code="step_not_open")
    if not state.validated:
        raise OutOfOrder("the test SIMs are not validated yet", code="sims_not_validated")
    if quantity < 1:
        raise CommandRefused("at least one SIM is ordered", field="quantity")
    if not delivery_address.strip():
        raise CommandRefused("the delivery address is given", field="delivery_address")
    if state.accepted_artwork is None:
        raise OutOfOrder(
            "the SIM artwork is not accepted in the onboarding dossier yet",
            field="artwork_reference",
            code="artwork_not_accepted",
        )
    if artwork_reference != state.accepted_artwork:
        raise CommandRefused(
            "this is not the SIM artwork accepted in the onboarding dossier",
            field="artwork_reference",
            code="artwork_not_the_accepted_one",
        )
    return [
        ProductionOrdered(
            quantity=quantity,
            delivery_address=delivery_address.strip(),
            artwork_reference=artwork_reference,
            artwork_filename=state.accepted_artwork_filename,
            due_at=now + PRODUCTION_DEADLINE,
            ordered_by=ordered_by,
            late_by_seconds=late_by_seconds(state, Step.TEST_SIMS, now),
        )
    ]


# --- step 3: production and delivery --------------------------------------------------------------


def start_production(state: SimProcess, *, started_by: str) -> list[DomainEvent]:
    if state.order is None:
        raise OutOfOrder("no production order yet", code="not_ordered")
    if state.production_started:
        raise OutOfOrder("the production is already started", code="already_started")
    return [ProductionStarted(started_by=started_by)]


def deliver_sims(
    state: SimProcess,
    *,
    quantity: int,
    iccid_first: str,
    iccid_last: str,
    delivery_note_number: str,
    delivered_by: str,
    now: datetime,
) -> list[DomainEvent]:
    """The ordered SIMs delivered, a range of consecutive ICCIDs: closes step 3."""
    if state.order is None:
        raise OutOfOrder("no production order yet", code="not_ordered")
    if not state.production_started:
        raise OutOfOrder("the production is not started: nothing to deliver", code="production_not_started")
    if state.delivery is not None:
        raise OutOfOrder("the SIMs are already delivered", code="already_delivered")
    if quantity != state.order.quantity:
        raise CommandRefused(
            f"{state.order.quantity} SIMs were ordered, not {quantity}",
            field="quantity",
            code="quantity_mismatch",
        )
    check_iccid(iccid_first, field="iccid_first")
    check_iccid(iccid_last, field="iccid_last")
    in_range = cards_in_range(iccid_first, iccid_last)
    if in_range != quantity:
        raise CommandRefused(
            f"the ICCID range holds {in_range} cards, not {quantity}",
            field="iccid_last",
            code="range_mismatch",
        )
    if not delivery_note_number.strip():
        raise CommandRefused("the delivery note number is given", field="delivery_note_number")
    return [
        SimsDelivered(
            quantity=quantity,
            iccid_first=iccid_first,
            iccid_last=iccid_last,
            delivery_note_number=delivery_note_number.strip(),
            delivered_by=delivered_by,
            late_by_seconds=late_by_seconds(state, Step.PRODUCTION, now),
        )
    ]


def send_delivery_note(
    state: SimProcess, *, delivery_note_number: str, tariff_grid_reference: str, sent_by: str
) -> list[DomainEvent]:
    """The delivery note goes to the integrator with the tariff grid of offers and mobiles."""
    if state.delivery is None:
        raise OutOfOrder("the SIMs are not delivered yet", code="not_delivered")
    if state.delivery_note_sent:
        raise OutOfOrder("the delivery note is already sent", code="note_already_sent")
    if delivery_note_number.strip() != state.delivery.delivery_note_number:
        raise CommandRefused(
            f"the delivery was recorded with note {state.delivery.delivery_note_number}",
            field="delivery_note_number",
        )
    if not tariff_grid_reference.strip():
        raise CommandRefused("the tariff grid sent with the note is named", field="tariff_grid_reference")
    return [
        DeliveryNoteSent(
            delivery_note_number=state.delivery.delivery_note_number,
            tariff_grid_reference=tariff_grid_reference.strip(),
            sent_by=sent_by,
        )
    ]


def confirm_sims_reception(state: SimProcess, *, confirmed_by: str) -> list[DomainEvent]:
    if state.delivery is None:
        raise OutOfOrder("the SIMs are not delivered yet", code="not_delivered")
    if state.reception_confirmed:
        raise OutOfOrder("the reception of the SIMs is already confirmed", code="already_received")
    return [SimsReceptionConfirmed(confirmed_by=confirmed_by)]


# --- deadlines ------------------------------------------------------------------------------------


def mark_step_overdue(state: SimProcess, *, step: Step, now: datetime) -> list[DomainEvent]:
    """The open step passed its deadline: raised once per step; a second time is refused, so
    repeated checks or two replicas cannot raise it twice."""
    if state.open_step is not step:
        raise OutOfOrder(f"step {step.value} is not running", field="step", code="step_not_running")
    if step in state.overdue:
        raise OutOfOrder(f"step {step.value} is already overdue", field="step", code="already_overdue")
    due = state.due_at[step]
    if now < due:
        raise OutOfOrder(f"step {step.value} is due at {due.isoformat()}", field="step", code="not_due")
    return [StepWentOverdue(step=step.value, due_at=due, detected_at=now)]


def check_deadline(state: SimProcess, *, now: datetime) -> list[DomainEvent]:
    """What the periodic check records: the overdue event if the open step is newly past due."""
    step = state.open_step
    if step is None or step in state.overdue or now < state.due_at[step]:
        return []
    return mark_step_overdue(state, step=step, now=now)
