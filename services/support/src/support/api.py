"""HTTP commands and queries of support: approvals, releases, installation reports, tickets, surveys,
statistics.

Technicians act; ops may read; an integrator user opens and follows its own tickets (never seeing
internal notes), reads its own approval, submits its installation reports, and reads the releases.
Another integrator's data answers 404. The survey link's signed token is its own credential.

HTTP only: each endpoint parses the request, checks who may do it, calls a handler of `commands`
(load, decide, append), `queries` (reads) or `views` (what a reader sees), and answers. No SQL, no
event store, no transaction here.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from chassis.auth import Principal, authorize_integrator, require
from chassis.files import content_disposition
from chassis.http import RuntimeDep, problem
from contracts.errors import NotFound
from contracts.events.support import Category, Channel, Requester, Severity
from support import commands, queries, views
from support.domain import installations, releases, tickets
from support.survey_links import survey_token_id

router = APIRouter(tags=["support"])

Technician = Annotated[Principal, Depends(require("technician"))]
Staff = Annotated[Principal, Depends(require("ops", "technician"))]
StaffOrIntegrator = Annotated[Principal, Depends(require("ops", "technician", "integrator"))]
TechnicianOrIntegrator = Annotated[Principal, Depends(require("technician", "integrator"))]
IntegratorId = Annotated[str, PathParam(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]
Version = Annotated[str, PathParam(min_length=1, max_length=50, pattern=releases.VERSION.pattern)]


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _events(types: list[str]) -> dict[str, Any]:
    return {"events": types}


# --- approval --------------------------------------------------------------------------------------


class DeclareEmployee(Command):
    employee_name: str = Field(min_length=1, max_length=200)
    represents_integrator: bool = True


@router.post("/approvals/{integrator_id}/employees", status_code=201)
async def declare_employee(
    integrator_id: IntegratorId, body: DeclareEmployee, runtime: RuntimeDep, who: Technician
) -> dict[str, Any]:
    """Declare an employee of the integrator (again, to change whether they represent it)."""
    return _events(
        await commands.declare_employee(
            runtime,
            integrator_id,
            employee_name=body.employee_name,
            represents_integrator=body.represents_integrator,
            by=who.subject,
        )
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
    return _events(
        await commands.record_training(
            runtime,
            integrator_id,
            employee_name=body.employee_name,
            session_date=body.session_date,
            trainer=body.trainer,
            by=who.subject,
        )
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
    return _events(
        await commands.sign_charter(
            runtime,
            integrator_id,
            employee_name=body.employee_name,
            signed_on=body.signed_on,
            charter_version=body.charter_version,
            by=who.subject,
        )
    )


class Revoke(Command):
    reason: str = Field(min_length=1, max_length=2000)


@router.post("/approvals/{integrator_id}/revocation", status_code=201)
async def revoke_approval(
    integrator_id: IntegratorId, body: Revoke, runtime: RuntimeDep, who: Technician
) -> dict[str, Any]:
    return _events(await commands.revoke_approval(runtime, integrator_id, reason=body.reason, by=who.subject))


@router.post("/approvals/{integrator_id}/reinstatement", status_code=201)
async def reinstate_approval(
    integrator_id: IntegratorId, runtime: RuntimeDep, who: Technician
) -> dict[str, Any]:
    """Approve again after a revocation (the conditions are checked again)."""
    return _events(await commands.reinstate_approval(runtime, integrator_id, by=who.subject))


class RecordMaintenanceContract(Command):
    with_contract: bool


@router.post("/approvals/{integrator_id}/maintenance-contract", status_code=201)
async def record_maintenance_contract(
    integrator_id: IntegratorId, body: RecordMaintenanceContract, runtime: RuntimeDep, who: Technician
) -> dict[str, Any]:
    return _events(
        await commands.record_maintenance_contract(
            runtime, integrator_id, with_contract=body.with_contract, by=who.subject
        )
    )


@router.get("/approvals/{integrator_id}")
async def get_approval(
    integrator_id: IntegratorId, runtime: RuntimeDep, who: StaffOrIntegrator
) -> dict[str, Any]:
    """The integrator's approval file: employees, trainings, charters, approval, and whether a
    mandatory update is free (maintenance contract) or billed per licence."""
    authorize_integrator(who, integrator_id)
    row = await queries.approval_file(runtime, integrator_id)
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
    return await queries.mandatory_update_terms(runtime, integrator_id)


@router.get("/approved-integrators")
async def approved_integrators(runtime: RuntimeDep, who: Staff) -> dict[str, Any]:
    """Seed 004: the up-to-date list of approved integrators, by company name."""
    return views.approved_integrators(await queries.approved_integrators(runtime))


@router.get("/approved-integrators.csv", response_class=Response)
async def approved_integrators_csv(runtime: RuntimeDep, who: Staff) -> Response:
    """The same list, to distribute (CSV): company data only, no employee's name or contact
    (seed 004: the distributable list carries no personal data)."""
    text = views.approved_integrators_csv(await queries.approved_integrators(runtime))
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
    told = await commands.publish_release(
        runtime,
        version=body.version,
        release_notes=body.release_notes,
        certified=body.certified,
        by=who.subject,
    )
    return {"events": told.events, "integrators_told": told.integrators}


class WithdrawRelease(Command):
    reason: str = Field(min_length=1, max_length=5000)
    warning_message: str = Field(min_length=1, max_length=5000)


@router.post("/releases/{version}/withdrawal", status_code=201)
async def withdraw_release(
    version: Version, body: WithdrawRelease, runtime: RuntimeDep, who: Technician
) -> dict[str, Any]:
    """Withdraw a version at once; every approved integrator is told (one event on each one's stream),
    in the same transaction, so no approved integrator is left out by a crash half-way."""
    warned = await commands.withdraw_release(
        runtime,
        version=version,
        reason=body.reason,
        warning_message=body.warning_message,
        by=who.subject,
    )
    return {"events": warned.events, "integrators_warned": warned.integrators}


@router.get("/releases")
async def list_releases(runtime: RuntimeDep, who: StaffOrIntegrator) -> dict[str, Any]:
    """Every version in publication order, with its notes, and the warning of those withdrawn."""
    return await queries.release_catalogue(runtime)


@router.get("/releases/current")
async def current_release(runtime: RuntimeDep, who: StaffOrIntegrator) -> dict[str, Any]:
    """The current certified version: the one new installations must use."""
    current = views.current_release(await queries.release_catalogue(runtime))
    if current is None:
        raise NotFound("no certified version is available")
    return current


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

    The catalogue and the approval are read in the report's transaction with their view rows
    locked: a withdrawal or a revocation writes those rows, so one in flight makes the report wait
    for it and then see it, and a report in flight makes them wait — no report slips past a
    concurrent revocation. Locks are taken in the withdrawal's order (catalogue, then approvals).
    """
    authorize_integrator(who, integrator_id)
    try:
        report_id, events = await commands.report_installation(
            runtime,
            integrator_id,
            report_id=body.report_id,
            end_user_site=body.end_user_site,
            version=body.version,
            hardware_compatible=body.hardware_compatible,
            nf525_checklist=body.nf525_checklist,
            by=who.subject,
        )
    except installations.InstallationRefused as refused:
        return problem(
            422,
            "Refused",
            str(refused.detail),
            code=refused.code,
            errors=[{"field": f, "code": c, "message": m} for f, c, m in refused.problems],
        )
    return {"report_id": str(report_id), "events": events}


@router.get("/integrators/{integrator_id}/installation-reports")
async def list_installation_reports(
    integrator_id: IntegratorId, runtime: RuntimeDep, who: StaffOrIntegrator
) -> dict[str, Any]:
    authorize_integrator(who, integrator_id)
    return {"reports": await queries.installation_reports(runtime, integrator_id)}


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
    opened = await commands.open_ticket(
        runtime,
        integrator_id,
        channel=channel,
        requester=body.requester,
        subject=body.subject,
        description=body.description,
        by=who.subject,
        by_integrator=who.role == "integrator",
    )
    return {
        "ticket_id": str(opened.ticket_id),
        "ticket_number": opened.ticket_number,
        "events": opened.events,
    }


async def _ticket_row(runtime: Any, ticket_id: UUID, who: Principal) -> dict[str, Any]:
    """The ticket's file, when `who` may see it: another integrator's ticket is not found (404)."""
    row = await queries.ticket_file(runtime, ticket_id)
    if row is None or (who.role == "integrator" and row["integrator_id"] != who.integrator_id):
        raise NotFound("no such ticket", field="ticket_id")
    return row


async def _owner(runtime: Any, ticket_id: UUID, who: Principal) -> str:
    """The integrator whose ticket this is, when `who` may act on it."""
    row = await _ticket_row(runtime, ticket_id, who)
    owner: str = row["integrator_id"]
    return owner


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
    rows = await queries.tickets_newest_first(
        runtime, integrator_id=integrator_id, status=status, limit=limit
    )
    companies = await queries.companies(runtime, sorted({r["integrator_id"] for r in rows}))
    return views.ticket_list(rows, companies)


@router.get("/tickets/{ticket_id}")
async def get_ticket(ticket_id: UUID, runtime: RuntimeDep, who: StaffOrIntegrator) -> dict[str, Any]:
    """The whole ticket file, readable at any time, closed or not."""
    row = await _ticket_row(runtime, ticket_id, who)
    return views.ticket_file(row, for_integrator=who.role == "integrator")


class Qualify(Command):
    category: Category
    severity: Severity


@router.post("/tickets/{ticket_id}/qualification", status_code=201)
async def qualify_ticket(
    ticket_id: UUID, body: Qualify, runtime: RuntimeDep, who: Technician
) -> dict[str, Any]:
    owner = await _owner(runtime, ticket_id, who)
    return _events(
        await commands.qualify_ticket(
            runtime, ticket_id, owner, category=body.category, severity=body.severity
        )
    )


class Take(Command):
    #: Defaults to the technician making the request; a lead may assign a colleague.
    technician: str | None = Field(default=None, min_length=1, max_length=200)


@router.post("/tickets/{ticket_id}/assignment", status_code=201)
async def take_ticket(ticket_id: UUID, body: Take, runtime: RuntimeDep, who: Technician) -> dict[str, Any]:
    technician = body.technician or who.subject
    owner = await _owner(runtime, ticket_id, who)
    return _events(await commands.take_ticket(runtime, ticket_id, owner, technician=technician))


class PostMessage(Command):
    body: str = Field(min_length=1, max_length=20_000)
    #: An internal note, never shown or sent to the integrator.
    internal: bool = False


@router.post("/tickets/{ticket_id}/messages", status_code=201)
async def post_message(
    ticket_id: UUID, body: PostMessage, runtime: RuntimeDep, who: TechnicianOrIntegrator
) -> dict[str, Any]:
    _limit_integrator_emails(runtime, who)
    owner = await _owner(runtime, ticket_id, who)
    return _events(
        await commands.post_message(
            runtime,
            ticket_id,
            owner,
            author=who.subject,
            body=body.body,
            internal=body.internal,
            by_integrator=who.role == "integrator",
        )
    )


class DeclareOnTracker(Command):
    tracker_reference: str = Field(min_length=1, max_length=100)


@router.post("/tickets/{ticket_id}/tracker-declaration", status_code=201)
async def declare_on_tracker(
    ticket_id: UUID, body: DeclareOnTracker, runtime: RuntimeDep, who: Technician
) -> dict[str, Any]:
    """The request was declared on the tracker: the ticket waits, and the integrator is reminded."""
    owner = await _owner(runtime, ticket_id, who)
    return _events(
        await commands.declare_on_tracker(runtime, ticket_id, owner, tracker_reference=body.tracker_reference)
    )


class SettleTracker(Command):
    outcome: str = Field(min_length=1, max_length=5000)


@router.post("/tickets/{ticket_id}/tracker-settlement", status_code=201)
async def settle_tracker(
    ticket_id: UUID, body: SettleTracker, runtime: RuntimeDep, who: Technician
) -> dict[str, Any]:
    owner = await _owner(runtime, ticket_id, who)
    return _events(
        await commands.settle_tracker(runtime, ticket_id, owner, outcome=body.outcome, by=who.subject)
    )


class Resolve(Command):
    # No min_length: an empty procedure is a business refusal the domain names (422, field).
    resolution_procedure: str = Field(max_length=20_000)


@router.post("/tickets/{ticket_id}/resolution", status_code=201)
async def resolve_ticket(
    ticket_id: UUID, body: Resolve, runtime: RuntimeDep, who: Technician
) -> dict[str, Any]:
    """Resolve with the procedure applied (required)."""
    owner = await _owner(runtime, ticket_id, who)
    return _events(
        await commands.resolve_ticket(
            runtime, ticket_id, owner, resolution_procedure=body.resolution_procedure, by=who.subject
        )
    )


@router.post("/tickets/{ticket_id}/closing", status_code=201)
async def close_ticket(ticket_id: UUID, runtime: RuntimeDep, who: Technician) -> dict[str, Any]:
    """Close a resolved ticket: a satisfaction survey goes out (its link is signed, single use and
    expires after SURVEY_TTL_DAYS)."""
    owner = await _owner(runtime, ticket_id, who)
    return _events(await commands.close_ticket(runtime, ticket_id, owner, by=who.subject))


class Reopen(Command):
    reason: str = Field(min_length=1, max_length=5000)


@router.post("/tickets/{ticket_id}/reopening", status_code=201)
async def reopen_ticket(
    ticket_id: UUID, body: Reopen, runtime: RuntimeDep, who: TechnicianOrIntegrator
) -> dict[str, Any]:
    _limit_integrator_emails(runtime, who)
    owner = await _owner(runtime, ticket_id, who)
    return _events(
        await commands.reopen_ticket(runtime, ticket_id, owner, reason=body.reason, by=who.subject)
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
    row = await queries.survey(runtime, survey_token_id(runtime, token))
    if row is None:
        raise NotFound("this link is not valid", field="token", code="invalid_token")
    return row


@router.get("/surveys/{token}")
async def show_survey(token: SurveyToken, runtime: RuntimeDep) -> dict[str, Any]:
    """The survey behind a link: the question, and whether it was already answered."""
    survey = await _survey(runtime, token)
    ticket = await queries.ticket_file(runtime, survey["ticket_id"])
    assert ticket is not None
    return views.survey_page(survey, ticket)


class AnswerSurvey(Command):
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=5000)


@router.post("/surveys/{token}", status_code=201)
async def answer_survey(token: SurveyToken, body: AnswerSurvey, runtime: RuntimeDep) -> dict[str, Any]:
    """Rate the intervention, once. A second answer is 409 (survey_already_answered); a bad or
    expired link is 422 (invalid_token / expired_token)."""
    survey = await _survey(runtime, token)
    events = await commands.answer_survey(
        runtime,
        UUID(survey["ticket_id"]),
        survey["integrator_id"],
        survey_token_id=UUID(survey["token_id"]),
        rating=body.rating,
        comment=body.comment,
    )
    return {"events": events, "thanks": "Thank you for your answer."}


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
    return await queries.statistics(runtime, since=since, until=until, integrator_id=integrator_id)
