"""HTTP commands and queries of sim-logistics: test SIMs, the validation call, the production order,
production and delivery; the SIM timeline per integrator, and what is overdue for ops.

Ops ship, record the call's outcome, start production, deliver and send the delivery note. The
integrator's own users (and ops on their behalf) confirm receptions, book the call and place the
production order; another integrator's data answers 404.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from chassis.auth import Principal, authorize_integrator, require
from chassis.business_hours import french_holidays, within_business_hours
from chassis.files import content_disposition
from chassis.http import RuntimeDep
from chassis.runtime import ServiceRuntime
from contracts.errors import NotFound
from contracts.events import DomainEvent
from sim_logistics import documents, domain
from sim_logistics.aggregates import SIM_PROCESS
from sim_logistics.projections import instant, parse_instant

router = APIRouter(tags=["sim-logistics"])

Ops = Annotated[Principal, Depends(require("ops"))]
OpsOrIntegrator = Annotated[Principal, Depends(require("ops", "integrator"))]

Text = Annotated[str, Field(min_length=1, max_length=100)]


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ShipTestSims(Command):
    #: Exactly two (the domain says so by name); a few more are accepted here only to be refused clearly.
    iccids: list[Annotated[str, Field(max_length=40)]] = Field(
        min_length=1, max_length=10, examples=[["89330123456700000018", "89330123456700000026"]]
    )
    carrier: Text
    tracking_number: Text


class BookValidationCall(Command):
    starts_at: AwareDatetime = Field(examples=["2026-01-07T10:00:00+01:00"])
    duration_minutes: int = Field(default=30, ge=5, le=240)
    phone: str = Field(min_length=4, max_length=40, examples=["+33 1 70 61 81 81"])


class RejectSims(Command):
    reason: str = Field(min_length=1, max_length=2000)


class OrderProduction(Command):
    quantity: int = Field(ge=1, le=10_000_000)
    delivery_address: str = Field(min_length=1, max_length=500)
    #: The sha256 of the SIM artwork accepted in the onboarding dossier.
    artwork_reference: str = Field(pattern=r"^[0-9a-f]{64}$")


class DeliverSims(Command):
    quantity: int = Field(ge=1, le=10_000_000)
    iccid_first: str = Field(min_length=1, max_length=40)
    iccid_last: str = Field(min_length=1, max_length=40)
    delivery_note_number: Text


class SendDeliveryNote(Command):
    delivery_note_number: Text
    #: Which tariff grid (offers and mobiles) went with the note: a document reference or version.
    tariff_grid_reference: Text


Decision = Callable[[domain.SimProcess, datetime], Sequence[DomainEvent]]


async def _run(runtime: ServiceRuntime, integrator_id: str, decision: Decision) -> dict[str, Any]:
    """Load the integrator's SIM process, decide at the clock's now, append (409 on a concurrent write)."""
    async with runtime.unit_of_work() as uow:
        recorded = await uow.decide(
            SIM_PROCESS,
            integrator_id,
            lambda state: decision(state, runtime.clock.now()),
            integrator_id=integrator_id,
        )
    return {"events": [r.envelope.event_type for r in recorded]}


# --- step 2: test SIMs ----------------------------------------------------------------------------


@router.post("/integrators/{integrator_id}/test-sims/shipments", status_code=201)
async def ship_test_sims(
    integrator_id: str, body: ShipTestSims, runtime: RuntimeDep, who: Ops
) -> dict[str, Any]:
    """Ops ship the two test SIMs built on the integrator's electrical profile (again after a rejection)."""
    return await _run(
        runtime,
        integrator_id,
        lambda state, now: domain.ship_test_sims(
            state,
            iccids=body.iccids,
            carrier=body.carrier,
            tracking_number=body.tracking_number,
            shipped_by=who.subject,
        ),
    )


@router.post("/integrators/{integrator_id}/test-sims/reception", status_code=201)
async def confirm_test_sims_reception(
    integrator_id: str, runtime: RuntimeDep, who: OpsOrIntegrator
) -> dict[str, Any]:
    """The integrator confirms it received the test SIMs."""
    authorize_integrator(who, integrator_id)
    return await _run(
        runtime,
        integrator_id,
        lambda state, now: domain.confirm_test_sims_reception(state, confirmed_by=who.subject),
    )


def _in_support_hours(starts_at: datetime, duration: timedelta) -> bool:
    # The vendor's one calendar (support's too): vendor staff are not there on public holidays.
    return within_business_hours(starts_at, duration, french_holidays())


@router.post("/integrators/{integrator_id}/test-sims/validation-call", status_code=201)
async def book_validation_call(
    integrator_id: str, body: BookValidationCall, runtime: RuntimeDep, who: OpsOrIntegrator
) -> dict[str, Any]:
    """Book (or reschedule) the phone appointment to test and validate the SIMs, in support hours."""
    authorize_integrator(who, integrator_id)
    return await _run(
        runtime,
        integrator_id,
        lambda state, now: domain.book_validation_call(
            state,
            starts_at=body.starts_at,
            duration_minutes=body.duration_minutes,
            phone=body.phone,
            booked_by=who.subject,
            now=now,
            in_support_hours=_in_support_hours,
        ),
    )


@router.post("/integrators/{integrator_id}/test-sims/validation", status_code=201)
async def validate_sims(integrator_id: str, runtime: RuntimeDep, who: Ops) -> dict[str, Any]:
    """After the call, ops record that the test SIMs work."""
    return await _run(
        runtime,
        integrator_id,
        lambda state, now: domain.validate_sims(state, validated_by=who.subject, now=now),
    )


@router.post("/integrators/{integrator_id}/test-sims/rejection", status_code=201)
async def reject_sims(integrator_id: str, body: RejectSims, runtime: RuntimeDep, who: Ops) -> dict[str, Any]:
    """After the call, ops record that the test SIMs failed, and why: new ones can be shipped."""
    return await _run(
        runtime,
        integrator_id,
        lambda state, now: domain.reject_sims(state, reason=body.reason, rejected_by=who.subject, now=now),
    )


@router.post("/integrators/{integrator_id}/production-order", status_code=201)
async def order_production(
    integrator_id: str, body: OrderProduction, runtime: RuntimeDep, who: OpsOrIntegrator
) -> dict[str, Any]:
    """The SIM purchase order with the accepted graphic customisation: step 3 starts, due in 4 weeks."""
    authorize_integrator(who, integrator_id)
    return await _run(
        runtime,
        integrator_id,
        lambda state, now: domain.order_production(
            state,
            quantity=body.quantity,
            delivery_address=body.delivery_address,
            artwork_reference=body.artwork_reference,
            ordered_by=who.subject,
            now=now,
        ),
    )


# --- step 3: production and delivery --------------------------------------------------------------


@router.post("/integrators/{integrator_id}/production/start", status_code=201)
async def start_production(integrator_id: str, runtime: RuntimeDep, who: Ops) -> dict[str, Any]:
    return await _run(
        runtime, integrator_id, lambda state, now: domain.start_production(state, started_by=who.subject)
    )


@router.post("/integrators/{integrator_id}/production/delivery", status_code=201)
async def deliver_sims(
    integrator_id: str, body: DeliverSims, runtime: RuntimeDep, who: Ops
) -> dict[str, Any]:
    """The ordered SIMs delivered: quantity, the range of consecutive ICCIDs, the delivery note number."""
    return await _run(
        runtime,
        integrator_id,
        lambda state, now: domain.deliver_sims(
            state,
            quantity=body.quantity,
            iccid_first=body.iccid_first,
            iccid_last=body.iccid_last,
            delivery_note_number=body.delivery_note_number,
            delivered_by=who.subject,
            now=now,
        ),
    )


@router.post("/integrators/{integrator_id}/production/delivery-note", status_code=201)
async def send_delivery_note(
    integrator_id: str, body: SendDeliveryNote, runtime: RuntimeDep, who: Ops
) -> dict[str, Any]:
    """The delivery note goes to the integrator with the tariff grid of offers and mobiles."""
    return await _run(
        runtime,
        integrator_id,
        lambda state, now: domain.send_delivery_note(
            state,
            delivery_note_number=body.delivery_note_number,
            tariff_grid_reference=body.tariff_grid_reference,
            sent_by=who.subject,
        ),
    )


@router.post("/integrators/{integrator_id}/production/reception", status_code=201)
async def confirm_sims_reception(
    integrator_id: str, runtime: RuntimeDep, who: OpsOrIntegrator
) -> dict[str, Any]:
    """The integrator confirms it received the SIMs."""
    authorize_integrator(who, integrator_id)
    return await _run(
        runtime,
        integrator_id,
        lambda state, now: domain.confirm_sims_reception(state, confirmed_by=who.subject),
    )


# --- queries --------------------------------------------------------------------------------------


def _seconds_late(due_at: str | None, now: datetime) -> int:
    if due_at is None:
        return 0
    return max(0, int((now - datetime.fromisoformat(due_at)).total_seconds()))


@router.get("/integrators/{integrator_id}/sims")
async def sim_timeline(integrator_id: str, runtime: RuntimeDep, who: OpsOrIntegrator) -> dict[str, Any]:
    """The SIM timeline: every event in order, each step's due date, and how late it is or was
    (`late_by_seconds`: recorded at completion, or counted up to now while the step runs)."""
    authorize_integrator(who, integrator_id)
    row = await runtime.projections.get("sims_timeline", integrator_id)
    if row is None:
        raise NotFound("no SIM process for this integrator yet: its electrical profile is not created")
    now = runtime.clock.now()
    for name, step in row["steps"].items():
        running = name == row["current_step"]
        step["running"] = running
        if running:
            step["late_by_seconds"] = _seconds_late(step["due_at"], now)
    return {**row, "as_of": now.isoformat()}


async def _process(runtime: ServiceRuntime, integrator_id: str) -> domain.SimProcess:
    async with runtime.unit_of_work() as uow:
        return (await uow.load(SIM_PROCESS, integrator_id)).state


def _xlsx(content: bytes, filename: str) -> Response:
    return Response(
        content,
        media_type=documents.XLSX,
        headers={"Content-Disposition": content_disposition(filename), "Cache-Control": "no-store"},
    )


@router.get("/integrators/{integrator_id}/delivery-note.xlsx", response_class=Response)
async def download_delivery_note(integrator_id: str, runtime: RuntimeDep, who: OpsOrIntegrator) -> Response:
    """The delivery note of the integrator's SIMs (number, quantity, ICCID range, address, artwork),
    with the tariff grid: generated from this service's log once the SIMs are delivered."""
    authorize_integrator(who, integrator_id)
    state = await _process(runtime, integrator_id)
    if state.delivery is None:
        raise NotFound("the SIMs are not delivered yet: no delivery note", field="integrator_id")
    filename = f"bon-de-livraison-{state.delivery.delivery_note_number}.xlsx"
    return _xlsx(documents.delivery_note(integrator_id, state), filename)


@router.get("/integrators/{integrator_id}/tariff-grid.xlsx", response_class=Response)
async def download_tariff_grid(integrator_id: str, runtime: RuntimeDep, who: OpsOrIntegrator) -> Response:
    """The tariff grid of offers and mobiles: the offers, tariffs and terminals tables accepted in
    the integrator's dossier (learnt from onboarding's events), one sheet each."""
    authorize_integrator(who, integrator_id)
    state = await _process(runtime, integrator_id)
    if not state.tables:
        raise NotFound("no offers, tariffs or terminals table accepted yet", field="integrator_id")
    return _xlsx(documents.tariff_grid(state), "grille-tarifaire.xlsx")


@router.get("/sims/overdue")
async def overdue_now(runtime: RuntimeDep, who: Ops) -> list[dict[str, Any]]:
    """For ops: every running step past its deadline now, the most overdue first (`overdue_raised`
    tells whether the overdue event, and so the emails, already went out)."""
    now = runtime.clock.now()
    rows = await runtime.projections.list(
        "sims_deadlines",
        where="data->>'due_at' <= $1",
        args=[instant(now)],
        order_by="data->>'due_at'",
        limit=10_000,
    )
    overdue = []
    for row in rows:
        due_at = parse_instant(row["due_at"])
        overdue.append(
            {
                "integrator_id": row["integrator_id"],
                "step": row["step"],
                "due_at": due_at.isoformat(),
                "late_by_seconds": int((now - due_at).total_seconds()),
                "overdue_raised": row["overdue"],
            }
        )
    return overdue
