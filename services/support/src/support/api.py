"""HTTP commands and queries of support: approvals, releases, installation reports, tickets, surveys,
statistics.

Technicians act; ops may read; an integrator user opens and follows its own tickets (never seeing
internal notes), reads its own approval, submits its installation reports, and reads the releases.
Another integrator's data answers 404. The survey link's signed token is its own credential.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from uuid_utils import uuid7

from chassis.auth import Principal, authorize_integrator, require
from chassis.exports import csv_text
from chassis.files import content_disposition
from chassis.http import RuntimeDep, problem
from chassis.links import verify_link_token
from contracts.errors import CommandRefused, NotFound
from contracts.events.support import VENDOR_WIDE, Category, Channel, Requester, Severity
from support import statistics as stats
from support.calendar_fr import french_holidays
from support.domain import approval, installations, integrators, releases, tickets

router = APIRouter(tags=["support"])

Technician = Annotated[Principal, Depends(require("technician"))]
Staff = Annotated[Principal, Depends(require("ops", "technician"))]
StaffOrIntegrator = Annotated[Principal, Depends(require("ops", "technician", "integrator"))]
TechnicianOrIntegrator = Annotated[Principal, Depends(require("technician", "integrator"))]
IntegratorId = Annotated[str, PathParam(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]
Version = Annotated[str, PathParam(min_length=1, max_length=50, pattern=releases.VERSION.pattern)]

SURVEY = "survey"


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _types(recorded: list[Any]) -> list[str]:
    return [r.envelope.event_type for r in recorded]


# --- approval --------------------------------------------------------------------------------------


def _approval_decide(decide: Any) -> Any:
    return lambda history: decide(approval.fold(r.event for r in history))


async def _on_approval(runtime: Any, integrator_id: str, decide: Any) -> dict[str, Any]:
    recorded = await runtime.execute(
        stream_id=approval.stream_id(integrator_id),
        integrator_id=integrator_id,
        decide=_approval_decide(decide),
    )
    return {"events": _types(recorded)}


class DeclareEmployee(Command):
    employee_name: str = Field(min_length=1, max_length=200)
    represents_integrator: bool = True


@router.post("/approvals/{integrator_id}/employees", status_code=201)
async def declare_employee(
    integrator_id: IntegratorId, body: DeclareEmployee, runtime: RuntimeDep, who: Technician
) -> dict[str, Any]:
    """Declare an employee of the integrator (again, to change whether they represent it)."""
    return await _on_approval(
        runtime,
        integrator_id,
        lambda s: approval.declare_employee(
            s,
            employee_name=body.employee_name,
            represents_integrator=body.represents_integrator,
            by=who.subject,
        ),
    )


class RecordTraining(Command):
    employee_name: str = Field(min_length=1, max_length=200)
    session_date: date
    trainer: str = Field(min_length=1, max_length=200)


@router.post("/approvals/{integrator_id}/trainings", status_code=201)
async def record_training(
    integrator_id: IntegratorId, body: RecordTraining, runtime: RuntimeDep, who: Technician
) -> dict[str, Any]:
    """Record an employee's NF525 training session; approves the integrator when it completes the conditions."""
    today = runtime.clock.now().date()
    return await _on_approval(
        runtime,
        integrator_id,
        lambda s: approval.record_training(
            s,
            employee_name=body.employee_name,
            session_date=body.session_date,
            trainer=body.trainer,
            by=who.subject,
            today=today,
        ),
    )


class SignCharter(Command):
    employee_name: str = Field(min_length=1, max_length=200)
    signed_on: date
    charter_version: str = Field(min_length=1, max_length=100, examples=["DOC-QLT-18122014"])


@router.post("/approvals/{integrator_id}/charter-signatures", status_code=201)
async def sign_charter(
    integrator_id: IntegratorId, body: SignCharter, runtime: RuntimeDep, who: Technician
) -> dict[str, Any]:
    """Record an employee's signature of the NF525 commitment charter (after their training)."""
    today = runtime.clock.now().date()
    return await _on_approval(
        runtime,
        integrator_id,
        lambda s: approval.sign_charter(
            s,
            employee_name=body.employee_name,
            signed_on=body.signed_on,
            charter_version=body.charter_version,
            by=who.subject,
            today=today,
        ),
    )


class Revoke(Command):
    reason: str = Field(min_length=1, max_length=2000)


@router.post("/approvals/{integrator_id}/revocation", status_code=201)
async def revoke_approval(
    integrator_id: IntegratorId, body: Revoke, runtime: RuntimeDep, who: Technician
) -> dict[str, Any]:
    return await _on_approval(
        runtime, integrator_id, lambda s: approval.revoke(s, reason=body.reason, by=who.subject)
    )


@router.post("/approvals/{integrator_id}/reinstatement", status_code=201)
async def reinstate_approval(
    integrator_id: IntegratorId, runtime: RuntimeDep, who: Technician
) -> dict[str, Any]:
    """Approve again after a revocation (the conditions are checked again)."""
    return await _on_approval(runtime, integrator_id, lambda s: approval.reinstate(s, by=who.subject))


class RecordMaintenanceContract(Command):
    with_contract: bool


@router.post("/approvals/{integrator_id}/maintenance-contract", status_code=201)
async def record_maintenance_contract(
    integrator_id: IntegratorId, body: RecordMaintenanceContract, runtime: RuntimeDep, who: Technician
) -> dict[str, Any]:
    return await _on_approval(
        runtime,
        integrator_id,
        lambda s: approval.record_maintenance_contract(s, with_contract=body.with_contract, by=who.subject),
    )


@router.get("/approvals/{integrator_id}")
async def get_approval(
    integrator_id: IntegratorId, runtime: RuntimeDep, who: StaffOrIntegrator
) -> dict[str, Any]:
    """The integrator's approval file: employees, trainings, charters, approval, and whether a
    mandatory update is free (maintenance contract) or billed per licence."""
    authorize_integrator(who, integrator_id)
    row: dict[str, Any] | None = await runtime.projections.get("support_approvals", integrator_id)
    if row is None:
        raise NotFound("nothing recorded for this integrator")
    return row


@router.get("/integrators/{integrator_id}/mandatory-update-terms")
async def mandatory_update_terms(
    integrator_id: IntegratorId, runtime: RuntimeDep, who: StaffOrIntegrator
) -> dict[str, Any]:
    """Seed 004: with a conformity-maintenance contract a mandatory update is free for the
    integrator's customers; without one (or none recorded), update rights are billed per licence."""
    authorize_integrator(who, integrator_id)
    history = await runtime.read_stream(approval.stream_id(integrator_id))
    state = approval.fold(r.event for r in history)
    return {
        "integrator_id": integrator_id,
        "with_maintenance_contract": state.with_maintenance_contract,
        "mandatory_updates": approval.update_terms(state).value,
    }


async def _approved(runtime: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await runtime.projections.list(
        "support_approvals", where="(data->>'approved')::boolean", limit=100_000
    )
    return rows


async def _companies(runtime: Any, integrator_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Company data support learnt from onboarding (IntegratorNoted), by integrator id."""
    if not integrator_ids:
        return {}
    rows = await runtime.projections.list(
        "support_integrators", where="key = ANY($1::text[])", args=[integrator_ids], limit=len(integrator_ids)
    )
    return {r["integrator_id"]: r for r in rows}


@router.get("/approved-integrators")
async def approved_integrators(runtime: RuntimeDep, who: Staff) -> dict[str, Any]:
    """Seed 004: the up-to-date list of approved integrators, by company name."""
    rows = await _approved(runtime)
    companies = await _companies(runtime, [r["integrator_id"] for r in rows])
    return {
        "integrators": [
            {
                "integrator_id": r["integrator_id"],
                "legal_name": companies.get(r["integrator_id"], {}).get("legal_name"),
                "approved_at": r["approved_at"],
                "with_maintenance_contract": r["with_maintenance_contract"],
            }
            for r in rows
        ]
    }


@router.get("/approved-integrators.csv", response_class=Response)
async def approved_integrators_csv(runtime: RuntimeDep, who: Staff) -> Response:
    """The same list, to distribute (CSV): company data only, no employee's name or contact
    (seed 004: the distributable list carries no personal data)."""
    approved = await _approved(runtime)
    companies = await _companies(runtime, [r["integrator_id"] for r in approved])
    rows = []
    for r in approved:
        company = companies.get(r["integrator_id"], {})
        contract = (
            "" if r["with_maintenance_contract"] is None else str(r["with_maintenance_contract"]).lower()
        )
        rows.append(
            [
                company.get("legal_name") or r["integrator_id"],
                company.get("siret", ""),
                company.get("address", ""),
                r["approved_at"],
                contract,
            ]
        )
    # Names typed by integrators: no cell may be read as a formula by the spreadsheet that opens it.
    text = csv_text(["legal_name", "siret", "address", "approved_at", "with_maintenance_contract"], rows)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": content_disposition("approved-integrators.csv")},
    )


# --- releases --------------------------------------------------------------------------------------


class PublishRelease(Command):
    version: str = Field(min_length=1, max_length=50, examples=["3.2.0"])
    release_notes: str = Field(min_length=1, max_length=100_000)
    certified: bool


@router.post("/releases", status_code=201)
async def publish_release(body: PublishRelease, runtime: RuntimeDep, who: Technician) -> dict[str, Any]:
    """Publish a version; every approved integrator is told (one event on each one's approval
    stream, in the same transaction, as for a withdrawal)."""
    version = releases.check_version(body.version)
    async with runtime.pool.acquire() as conn, conn.transaction():
        recorded = await runtime.execute_in(
            conn,
            stream_id=releases.stream_id(version),
            integrator_id=VENDOR_WIDE,
            decide=lambda history: releases.publish(
                releases.fold(r.event for r in history),
                version=version,
                release_notes=body.release_notes,
                certified=body.certified,
                by=who.subject,
            ),
        )
        rows = await conn.fetch(
            "SELECT key FROM support_approvals WHERE (data->>'approved')::boolean ORDER BY key"
        )
        told = []
        for row in rows:
            integrator_id = row["key"]
            told += await runtime.execute_in(
                conn,
                stream_id=approval.stream_id(integrator_id),
                integrator_id=integrator_id,
                decide=lambda history: approval.tell_of_release(
                    approval.fold(r.event for r in history),
                    version=version,
                    release_notes=body.release_notes,
                    certified=body.certified,
                ),
            )
    return {"events": _types(recorded), "integrators_told": [r.envelope.integrator_id for r in told]}


class WithdrawRelease(Command):
    reason: str = Field(min_length=1, max_length=5000)
    warning_message: str = Field(min_length=1, max_length=5000)


@router.post("/releases/{version}/withdrawal", status_code=201)
async def withdraw_release(
    version: Version, body: WithdrawRelease, runtime: RuntimeDep, who: Technician
) -> dict[str, Any]:
    """Withdraw a version at once; every approved integrator is told (one event on each one's stream),
    in the same transaction, so no approved integrator is left out by a crash half-way."""
    async with runtime.pool.acquire() as conn, conn.transaction():
        recorded = await runtime.execute_in(
            conn,
            stream_id=releases.stream_id(version),
            integrator_id=VENDOR_WIDE,
            decide=lambda history: releases.withdraw(
                releases.fold(r.event for r in history),
                version=version,
                reason=body.reason,
                warning_message=body.warning_message,
                by=who.subject,
            ),
        )
        rows = await conn.fetch(
            "SELECT key FROM support_approvals WHERE (data->>'approved')::boolean ORDER BY key"
        )
        warned = []
        for row in rows:
            integrator_id = row["key"]
            warned += await runtime.execute_in(
                conn,
                stream_id=approval.stream_id(integrator_id),
                integrator_id=integrator_id,
                decide=lambda history: approval.warn_of_withdrawal(
                    approval.fold(r.event for r in history),
                    version=version,
                    reason=body.reason,
                    warning_message=body.warning_message,
                ),
            )
    return {"events": _types(recorded), "integrators_warned": [r.envelope.integrator_id for r in warned]}


async def _catalogue(runtime: Any) -> dict[str, Any]:
    return await runtime.projections.get("support_releases", VENDOR_WIDE) or {
        "releases": [],
        "current_certified": None,
    }


@router.get("/releases")
async def list_releases(runtime: RuntimeDep, who: StaffOrIntegrator) -> dict[str, Any]:
    """Every version in publication order, with its notes, and the warning of those withdrawn."""
    return await _catalogue(runtime)


@router.get("/releases/current")
async def current_release(runtime: RuntimeDep, who: StaffOrIntegrator) -> dict[str, Any]:
    """The current certified version: the one new installations must use."""
    catalogue = await _catalogue(runtime)
    current = catalogue["current_certified"]
    if current is None:
        raise NotFound("no certified version is available")
    return next(r for r in catalogue["releases"] if r["version"] == current)


# --- installation reports ----------------------------------------------------------------------------


class ReportInstallation(Command):
    report_id: UUID | None = None
    end_user_site: str = Field(min_length=1, max_length=500)
    version: str = Field(min_length=1, max_length=50)
    hardware_compatible: bool
    nf525_checklist: dict[str, bool] = Field(
        max_length=50, examples=[dict.fromkeys(installations.NF525_CHECKLIST, True)]
    )


@router.post("/integrators/{integrator_id}/installation-reports", status_code=201, response_model=None)
async def report_installation(
    integrator_id: IntegratorId, body: ReportInstallation, runtime: RuntimeDep, who: TechnicianOrIntegrator
) -> Any:
    """Submit a procès-verbal d'installation. Refused (422, every reason listed) when the integrator
    is not approved, the version is withdrawn or not the current certified one, the hardware is not
    compatible or a mandatory NF525 element is not attested.

    The catalogue and the approval are read in the appending transaction under a share lock on
    their projection rows: a withdrawal or a revocation updates those rows (FOR UPDATE) in its own
    append transaction, so one in flight makes the report wait for it and then see it, and a report
    in flight makes them wait — no report slips past a concurrent revocation. Locks are taken in
    the withdrawal's order (catalogue, then approvals), so the two cannot deadlock.
    """
    authorize_integrator(who, integrator_id)
    report_id = body.report_id or UUID(str(uuid7()))
    async with runtime.pool.acquire() as conn, conn.transaction():
        catalogue_json = await conn.fetchval(
            "SELECT data FROM support_releases WHERE key = $1 FOR SHARE", VENDOR_WIDE
        )
        await conn.execute("SELECT 1 FROM support_approvals WHERE key = $1 FOR SHARE", integrator_id)
        # Read after the lock: a new statement, a new snapshot that includes a revocation just committed.
        history = await runtime.store.read_stream(conn, approval.stream_id(integrator_id))
        state = approval.fold(r.event for r in history)
        catalogue = _loads(catalogue_json) or {"releases": [], "current_certified": None}
        withdrawn = any(r["version"] == body.version and r["withdrawn"] for r in catalogue["releases"])
        try:
            recorded = await runtime.execute_in(
                conn,
                stream_id=installations.stream_id(report_id),
                integrator_id=integrator_id,
                decide=lambda history: installations.report_installation(
                    already_reported=bool(history),
                    report_id=report_id,
                    integrator_approved=state.approved,
                    version=body.version,
                    version_withdrawn=withdrawn,
                    current_certified_version=catalogue["current_certified"],
                    end_user_site=body.end_user_site,
                    hardware_compatible=body.hardware_compatible,
                    nf525_checklist=body.nf525_checklist,
                    by=who.subject,
                ),
            )
        except installations.InstallationRefused as refused:
            return problem(
                422,
                "Refused",
                str(refused.detail),
                code=refused.code,
                errors=[{"field": f, "code": c, "message": m} for f, c, m in refused.problems],
            )
    return {"report_id": str(report_id), "events": _types(recorded)}


def _loads(value: str | None) -> dict[str, Any] | None:
    return json.loads(value) if value is not None else None


@router.get("/integrators/{integrator_id}/installation-reports")
async def list_installation_reports(
    integrator_id: IntegratorId, runtime: RuntimeDep, who: StaffOrIntegrator
) -> dict[str, Any]:
    authorize_integrator(who, integrator_id)
    rows = await runtime.projections.list(
        "support_installations", integrator_id=integrator_id, order_by="data->>'reported_at', key"
    )
    return {"reports": rows}


# --- tickets ---------------------------------------------------------------------------------------


class OpenTicket(Command):
    #: Staff name the integrator; an integrator user opens for itself (may omit it).
    integrator_id: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$"
    )
    channel: Channel = Channel.API
    requester: Requester
    subject: str = Field(min_length=1, max_length=300)
    description: str = Field(min_length=1, max_length=20_000)


@router.post("/tickets", status_code=201)
async def open_ticket(body: OpenTicket, runtime: RuntimeDep, who: TechnicianOrIntegrator) -> dict[str, Any]:
    """Register a request (email, phone call or API) as a ticket — before any answer."""
    _limit_integrator_emails(runtime, who)
    if who.role == "integrator":
        if body.integrator_id not in (None, who.integrator_id):
            raise HTTPException(404, "not found")
        integrator_id = who.integrator_id
        channel = Channel.API  # an integrator's own request through the API is an API request
    else:
        if body.integrator_id is None:
            raise HTTPException(422, "name the integrator whose request this is (integrator_id)")
        integrator_id, channel = body.integrator_id, body.channel
    assert integrator_id is not None
    if who.role == "integrator":
        # The ticket's emails go to the requester from the vendor's address: an integrator names one
        # of its own people, never an outside address (issue 16, finding 9).
        company = await runtime.projections.get("support_integrators", integrator_id)
        contacts = [c["email"] for c in (company or {}).get("contacts", [])]
        if not integrators.may_ask_tickets(contacts, str(body.requester.email)):
            raise CommandRefused(
                "the requester must be one of the integrator's contacts (or at their domain)",
                field="requester.email",
                code="requester_not_a_contact",
            )
    ticket_id = UUID(str(uuid7()))
    year = runtime.clock.now().year
    async with runtime.pool.acquire() as conn, conn.transaction():
        # Numbers are given one opening at a time (a lock held to the commit), after the numbers the
        # log already holds (the projection, updated in this same transaction): unique, and rebuilt
        # from the log with everything else.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"support-ticket-{year}")
        last = await conn.fetchval(
            "SELECT max(split_part(data->>'ticket_number', '-', 3)::int) FROM support_tickets"
            " WHERE data->>'ticket_number' LIKE $1",
            f"T-{year:04d}-%",
        )
        number = tickets.ticket_number(year, (last or 0) + 1)
        recorded = await runtime.execute_in(
            conn,
            stream_id=tickets.stream_id(ticket_id),
            integrator_id=integrator_id,
            decide=lambda history: tickets.open_ticket(
                _ticket(history),
                ticket_id=ticket_id,
                channel=channel,
                requester=body.requester,
                subject=body.subject,
                description=body.description,
                by=who.subject,
                number=number,
            ),
        )
    return {"ticket_id": str(ticket_id), "ticket_number": number, "events": _types(recorded)}


def _ticket(history: list[Any]) -> tickets.Ticket:
    return tickets.fold((r.event, r.envelope.occurred_at) for r in history)


async def _ticket_row(runtime: Any, ticket_id: UUID, who: Principal) -> dict[str, Any]:
    row: dict[str, Any] | None = await runtime.projections.get("support_tickets", str(ticket_id))
    if row is None or (who.role == "integrator" and row["integrator_id"] != who.integrator_id):
        raise NotFound("no such ticket", field="ticket_id")
    return row


async def _on_ticket(runtime: Any, ticket_id: UUID, who: Principal, decide: Any) -> dict[str, Any]:
    row = await _ticket_row(runtime, ticket_id, who)
    recorded = await runtime.execute(
        stream_id=tickets.stream_id(ticket_id),
        integrator_id=row["integrator_id"],
        decide=lambda history: decide(_ticket(history)),
    )
    return {"events": _types(recorded)}


def _for(who: Principal, row: dict[str, Any]) -> dict[str, Any]:
    """An integrator never sees internal notes (nor who wrote them). No one gets a survey's token
    id: half of the link's credential, it stays in the service (and in the mailed link)."""
    row = {
        **row,
        "surveys": [{k: v for k, v in s.items() if k != "token_id"} for s in row.get("surveys", [])],
    }
    if who.role != "integrator":
        return row
    return {**row, "messages": [m for m in row["messages"] if not m["internal"]]}


@router.get("/tickets")
async def list_tickets(
    runtime: RuntimeDep,
    who: StaffOrIntegrator,
    status: Annotated[tickets.Status | None, Query()] = None,
    integrator_id: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """Tickets, newest first; an integrator sees its own only. Closed tickets stay listed for ever."""
    if who.role == "integrator":
        # A filter on another integrator is refused as its data would be (404), not silently
        # replaced by the caller's own: an answer to a question not asked reads as the right one.
        if integrator_id is not None:
            authorize_integrator(who, integrator_id)
        integrator_id = who.integrator_id
    where, args = ("data->>'status' = $1", [status.value]) if status else (None, [])
    rows = await runtime.projections.list(
        "support_tickets",
        integrator_id=integrator_id,
        where=where,
        args=args,
        order_by="data->>'opened_at' DESC, key DESC",
        limit=limit,
    )
    summary = (
        "ticket_id",
        "ticket_number",
        "integrator_id",
        "channel",
        "subject",
        "status",
        "category",
        "severity",
        "technician",
    )
    companies = await _companies(runtime, sorted({r["integrator_id"] for r in rows}))
    return {
        "tickets": [
            {
                **{k: r.get(k) for k in (*summary, "opened_at")},
                "integrator_name": companies.get(r["integrator_id"], {}).get("legal_name"),
            }
            for r in rows
        ]
    }


@router.get("/tickets/{ticket_id}")
async def get_ticket(ticket_id: UUID, runtime: RuntimeDep, who: StaffOrIntegrator) -> dict[str, Any]:
    """The whole ticket file, readable at any time, closed or not."""
    return _for(who, await _ticket_row(runtime, ticket_id, who))


class Qualify(Command):
    category: Category
    severity: Severity


@router.post("/tickets/{ticket_id}/qualification", status_code=201)
async def qualify_ticket(
    ticket_id: UUID, body: Qualify, runtime: RuntimeDep, who: Technician
) -> dict[str, Any]:
    return await _on_ticket(
        runtime,
        ticket_id,
        who,
        lambda t: tickets.qualify(t, ticket_id=ticket_id, category=body.category, severity=body.severity),
    )


class Take(Command):
    #: Defaults to the technician making the request; a lead may assign a colleague.
    technician: str | None = Field(default=None, min_length=1, max_length=200)


@router.post("/tickets/{ticket_id}/assignment", status_code=201)
async def take_ticket(ticket_id: UUID, body: Take, runtime: RuntimeDep, who: Technician) -> dict[str, Any]:
    technician = body.technician or who.subject
    return await _on_ticket(
        runtime, ticket_id, who, lambda t: tickets.take(t, ticket_id=ticket_id, technician=technician)
    )


class PostMessage(Command):
    body: str = Field(min_length=1, max_length=20_000)
    #: An internal note, never shown or sent to the integrator.
    internal: bool = False


@router.post("/tickets/{ticket_id}/messages", status_code=201)
async def post_message(
    ticket_id: UUID, body: PostMessage, runtime: RuntimeDep, who: TechnicianOrIntegrator
) -> dict[str, Any]:
    _limit_integrator_emails(runtime, who)
    return await _on_ticket(
        runtime,
        ticket_id,
        who,
        lambda t: tickets.post_message(
            t,
            ticket_id=ticket_id,
            author=who.subject,
            body=body.body,
            internal=body.internal,
            by_integrator=who.role == "integrator",
        ),
    )


class DeclareOnTracker(Command):
    tracker_reference: str = Field(min_length=1, max_length=100)


@router.post("/tickets/{ticket_id}/tracker-declaration", status_code=201)
async def declare_on_tracker(
    ticket_id: UUID, body: DeclareOnTracker, runtime: RuntimeDep, who: Technician
) -> dict[str, Any]:
    """The request was declared on the tracker: the ticket waits, and the integrator is reminded."""
    return await _on_ticket(
        runtime,
        ticket_id,
        who,
        lambda t: tickets.declare_on_tracker(
            t, ticket_id=ticket_id, tracker_reference=body.tracker_reference
        ),
    )


class SettleTracker(Command):
    outcome: str = Field(min_length=1, max_length=5000)


@router.post("/tickets/{ticket_id}/tracker-settlement", status_code=201)
async def settle_tracker(
    ticket_id: UUID, body: SettleTracker, runtime: RuntimeDep, who: Technician
) -> dict[str, Any]:
    return await _on_ticket(
        runtime,
        ticket_id,
        who,
        lambda t: tickets.settle_tracker_declaration(
            t, ticket_id=ticket_id, outcome=body.outcome, by=who.subject
        ),
    )


class Resolve(Command):
    # No min_length: an empty procedure is a business refusal the domain names (422, field).
    resolution_procedure: str = Field(max_length=20_000)


@router.post("/tickets/{ticket_id}/resolution", status_code=201)
async def resolve_ticket(
    ticket_id: UUID, body: Resolve, runtime: RuntimeDep, who: Technician
) -> dict[str, Any]:
    """Resolve with the procedure applied (required)."""
    return await _on_ticket(
        runtime,
        ticket_id,
        who,
        lambda t: tickets.resolve(
            t, ticket_id=ticket_id, resolution_procedure=body.resolution_procedure, by=who.subject
        ),
    )


@router.post("/tickets/{ticket_id}/closing", status_code=201)
async def close_ticket(ticket_id: UUID, runtime: RuntimeDep, who: Technician) -> dict[str, Any]:
    """Close a resolved ticket: a satisfaction survey goes out (its link is signed, single use and
    expires after SURVEY_TTL_DAYS)."""
    now = runtime.clock.now()
    ttl = timedelta(days=runtime.settings.survey_ttl_days)
    survey_token_id = uuid4()  # random: the link must be unguessable even without the signature
    return await _on_ticket(
        runtime,
        ticket_id,
        who,
        lambda t: tickets.close(
            t, ticket_id=ticket_id, survey_token_id=survey_token_id, now=now, survey_ttl=ttl, by=who.subject
        ),
    )


class Reopen(Command):
    reason: str = Field(min_length=1, max_length=5000)


@router.post("/tickets/{ticket_id}/reopening", status_code=201)
async def reopen_ticket(
    ticket_id: UUID, body: Reopen, runtime: RuntimeDep, who: TechnicianOrIntegrator
) -> dict[str, Any]:
    _limit_integrator_emails(runtime, who)
    return await _on_ticket(
        runtime,
        ticket_id,
        who,
        lambda t: tickets.reopen(t, ticket_id=ticket_id, reason=body.reason, by=who.subject),
    )


# --- satisfaction surveys (the signed link is the credential) -----------------------------------------

SurveyToken = Annotated[str, PathParam(min_length=1, max_length=500)]


def _limit_integrator_emails(runtime: Any, who: Principal) -> None:
    """What an integrator does here makes the vendor's address send email: bounded per integrator
    (staff are the vendor's own people, known and audited)."""
    if who.role == "integrator" and who.integrator_id:
        runtime.rate_limits.enforce(
            "integrator-emails", who.integrator_id, runtime.settings.rate_limit_integrator_emails
        )


async def _survey(runtime: Any, token: str) -> dict[str, Any]:
    # Per link, before anything else: whoever relays it (the web front calls for every person).
    runtime.rate_limits.enforce("survey-link", token, runtime.settings.rate_limit_link)
    secret = runtime.settings.link_signing_secret.get_secret_value()
    token_id, _ = verify_link_token(secret, SURVEY, token, now=runtime.clock.now())
    row: dict[str, Any] | None = await runtime.projections.get("support_surveys", str(token_id))
    if row is None:
        raise NotFound("this link is not valid", field="token", code="invalid_token")
    return row


@router.get("/surveys/{token}")
async def show_survey(token: SurveyToken, runtime: RuntimeDep) -> dict[str, Any]:
    """The survey behind a link: the question, and whether it was already answered."""
    survey = await _survey(runtime, token)
    ticket = await runtime.projections.get("support_tickets", survey["ticket_id"])
    assert ticket is not None
    return {
        "question": "How satisfied are you with how your request was handled? (1 = not at all, 5 = very)",
        "ticket": {"ticket_id": ticket["ticket_id"], "subject": ticket["subject"]},
        "rating": {"minimum": 1, "maximum": 5},
        "comment": "optional",
        "answered": survey["answered"],
        "expires_at": survey["expires_at"],
    }


class AnswerSurvey(Command):
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=5000)


@router.post("/surveys/{token}", status_code=201)
async def answer_survey(token: SurveyToken, body: AnswerSurvey, runtime: RuntimeDep) -> dict[str, Any]:
    """Rate the intervention, once. A second answer is 409 (survey_already_answered); a bad or
    expired link is 422 (invalid_token / expired_token)."""
    survey = await _survey(runtime, token)
    ticket_id = UUID(survey["ticket_id"])
    now = runtime.clock.now()
    recorded = await runtime.execute(
        stream_id=tickets.stream_id(ticket_id),
        integrator_id=survey["integrator_id"],
        decide=lambda history: tickets.rate(
            _ticket(history),
            ticket_id=ticket_id,
            survey_token_id=UUID(survey["token_id"]),
            rating=body.rating,
            comment=body.comment,
            now=now,
        ),
    )
    return {"events": _types(recorded), "thanks": "Thank you for your answer."}


# --- statistics ----------------------------------------------------------------------------------------


@router.get("/statistics")
async def support_statistics(
    runtime: RuntimeDep,
    who: Staff,
    since: Annotated[AwareDatetime | None, Query(description="tickets opened at or after")] = None,
    until: Annotated[AwareDatetime | None, Query(description="tickets opened before")] = None,
    integrator_id: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    """Tickets by status, category and integrator; time to take and to resolve in support hours;
    satisfaction average and response rate — over the tickets opened in the period."""
    where, args = _period_clause(since, until)
    rows = await runtime.projections.list(
        "support_tickets", integrator_id=integrator_id, where=where, args=args, limit=1_000_000
    )
    is_holiday = french_holidays(runtime.settings.support_holidays_subdivision)
    figures: dict[str, Any] = stats.statistics(rows, is_holiday=is_holiday, since=since, until=until)
    return figures


def _period_clause(since: datetime | None, until: datetime | None) -> tuple[str | None, list[Any]]:
    # Narrow in SQL on the indexed text; `statistics` applies the exact bounds on parsed instants.
    clauses, args = [], []
    if since is not None:
        args.append((since - timedelta(days=1)).isoformat())
        clauses.append(f"data->>'opened_at' >= ${len(args)}")
    if until is not None:
        args.append((until + timedelta(days=1)).isoformat())
        clauses.append(f"data->>'opened_at' < ${len(args)}")
    return (" AND ".join(clauses) or None), args
