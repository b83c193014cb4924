"""Support's command handlers: load the aggregate, let `support.domain` decide, append — named from
the business, called by the HTTP endpoints (`api`), the reaction and the reminder schedule.

Each takes what it needs (the runtime, or a reaction's context; the ids; the command's data; who
acts) and returns what was recorded as plain data. Who may act is the caller's business (`api`
checks it); what is allowed is the domain's. Each works in the chassis's unit of work: it loads the
aggregates declared in `support.aggregates`, reads view rows through it, and what it appends is
written in one statement when it ends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from uuid_utils import uuid7

from chassis.eventstore import Recorded
from chassis.runtime import ReactionContext, ServiceRuntime
from chassis.unit_of_work import UnitOfWork
from contracts.errors import CommandRefused
from contracts.events import DomainEvent
from contracts.events.onboarding import IntegratorContactsUpdated, IntegratorRegistered
from contracts.events.support import VENDOR_WIDE, Category, Channel, Requester, Severity
from support import queries
from support.aggregates import APPROVAL, INSTALLATION_REPORT, INTEGRATOR, RELEASE, TICKET
from support.business_time import IsHoliday
from support.domain import approval, installations, integrators, releases, tickets

Decision = Sequence[DomainEvent]


@dataclass(frozen=True)
class VendorWide:
    """A release's event, and the approved integrators each told on its own approval stream."""

    events: list[str]
    integrators: list[str]


@dataclass(frozen=True)
class OpenedTicket:
    ticket_id: UUID
    ticket_number: str
    events: list[str]


# --- the plumbing: loading aggregates, appending, the view rows a command reads ---------------------


def _types(recorded: list[Recorded]) -> list[str]:
    return [r.envelope.event_type for r in recorded]


async def _on_approval(
    runtime: ServiceRuntime, integrator_id: str, decide: Callable[[approval.Approval], Decision]
) -> list[str]:
    async with runtime.unit_of_work() as uow:
        recorded = await uow.decide(APPROVAL, integrator_id, decide, integrator_id=integrator_id)
    return _types(recorded)


async def _on_ticket(
    runtime: ServiceRuntime, ticket_id: UUID, integrator_id: str, decide: Callable[[tickets.Ticket], Decision]
) -> list[str]:
    async with runtime.unit_of_work() as uow:
        recorded = await uow.decide(TICKET, str(ticket_id), decide, integrator_id=integrator_id)
    return _types(recorded)


async def _on_release_and_each_approved(
    runtime: ServiceRuntime,
    version: str,
    decide_release: Callable[[releases.Release], Decision],
    decide_approval: Callable[[approval.Approval], Decision],
) -> VendorWide:
    """The release's event, then one on each approved integrator's stream, in one unit of work:
    written in one statement, so no approved integrator is left out by a crash half-way."""

    async def tell_each(uow: UnitOfWork) -> tuple[list[Recorded], list[Recorded]]:
        approved = await queries.approved_integrator_ids(runtime)
        recorded = await uow.decide(RELEASE, version, decide_release, integrator_id=VENDOR_WIDE)
        told: list[Recorded] = []
        for integrator_id in approved:
            # The domain tells only the approved: one whose approval ended since the list was read
            # is not told (and one approved later hears of releases from then on).
            told += await uow.decide(APPROVAL, integrator_id, decide_approval, integrator_id=integrator_id)
        return recorded, told

    # Many streams: one that another command moved meanwhile makes it decide again, once.
    recorded, told = await runtime.command(tell_each, retries=1)
    return VendorWide(_types(recorded), [r.envelope.integrator_id for r in told])


async def _contacts(uow: UnitOfWork, integrator_id: str) -> list[str]:
    known = (await uow.load(INTEGRATOR, integrator_id)).state
    return [str(c.email) for c in known.contacts] if known else []


async def _next_ticket_number(uow: UnitOfWork, year: int) -> str:
    """The year's next number, after the last one the log holds (its counter row, rebuilt from the
    log with everything else), read locked: a concurrent opener waits for this one to commit. Where
    the row does not exist yet, two first openers conflict and the command decides again."""
    counter = await uow.view("support_ticket_numbers", f"{year:04d}")
    last: int = counter["last"] if counter else 0
    return tickets.ticket_number(year, last + 1)


async def _shared_for_report(uow: UnitOfWork, integrator_id: str) -> tuple[dict[str, Any], approval.Approval]:
    """The catalogue and the integrator's approval, their view rows locked in the report's
    transaction in the withdrawal's order (catalogue, then approvals) so the two cannot deadlock."""
    catalogue = await uow.view("support_releases", VENDOR_WIDE)
    await uow.view("support_approvals", integrator_id)
    # Loaded after the lock: a new statement, a new snapshot that includes a revocation just committed.
    state = (await uow.load(APPROVAL, integrator_id)).state
    return catalogue or {"releases": [], "current_certified": None}, state


# --- approval ----------------------------------------------------------------------------------------


async def declare_employee(
    runtime: ServiceRuntime, integrator_id: str, *, employee_name: str, represents_integrator: bool, by: str
) -> list[str]:
    return await _on_approval(
        runtime,
        integrator_id,
        lambda s: approval.declare_employee(
            s, employee_name=employee_name, represents_integrator=represents_integrator, by=by
        ),
    )


async def record_training(
    runtime: ServiceRuntime,
    integrator_id: str,
    *,
    employee_name: str,
    session_date: date,
    trainer: str,
    by: str,
) -> list[str]:
    today = runtime.clock.now().date()
    return await _on_approval(
        runtime,
        integrator_id,
        lambda s: approval.record_training(
            s, employee_name=employee_name, session_date=session_date, trainer=trainer, by=by, today=today
        ),
    )


async def sign_charter(
    runtime: ServiceRuntime,
    integrator_id: str,
    *,
    employee_name: str,
    signed_on: date,
    charter_version: str,
    by: str,
) -> list[str]:
    today = runtime.clock.now().date()
    return await _on_approval(
        runtime,
        integrator_id,
        lambda s: approval.sign_charter(
            s,
            employee_name=employee_name,
            signed_on=signed_on,
            charter_version=charter_version,
            by=by,
            today=today,
        ),
    )


async def revoke_approval(runtime: ServiceRuntime, integrator_id: str, *, reason: str, by: str) -> list[str]:
    return await _on_approval(runtime, integrator_id, lambda s: approval.revoke(s, reason=reason, by=by))


async def reinstate_approval(runtime: ServiceRuntime, integrator_id: str, *, by: str) -> list[str]:
    return await _on_approval(runtime, integrator_id, lambda s: approval.reinstate(s, by=by))


async def record_maintenance_contract(
    runtime: ServiceRuntime, integrator_id: str, *, with_contract: bool, by: str
) -> list[str]:
    return await _on_approval(
        runtime,
        integrator_id,
        lambda s: approval.record_maintenance_contract(s, with_contract=with_contract, by=by),
    )


# --- releases ----------------------------------------------------------------------------------------


async def publish_release(
    runtime: ServiceRuntime, *, version: str, release_notes: str, certified: bool, by: str
) -> VendorWide:
    """Publish a version; every approved integrator is told (one event on each one's stream)."""
    version = releases.check_version(version)
    return await _on_release_and_each_approved(
        runtime,
        version,
        lambda r: releases.publish(
            r, version=version, release_notes=release_notes, certified=certified, by=by
        ),
        lambda a: approval.tell_of_release(
            a, version=version, release_notes=release_notes, certified=certified
        ),
    )


async def withdraw_release(
    runtime: ServiceRuntime, *, version: str, reason: str, warning_message: str, by: str
) -> VendorWide:
    """Withdraw a version at once; every approved integrator is warned (one event on each one's stream)."""
    return await _on_release_and_each_approved(
        runtime,
        version,
        lambda r: releases.withdraw(
            r, version=version, reason=reason, warning_message=warning_message, by=by
        ),
        lambda a: approval.warn_of_withdrawal(
            a, version=version, reason=reason, warning_message=warning_message
        ),
    )


# --- installation reports ----------------------------------------------------------------------------


async def report_installation(
    runtime: ServiceRuntime,
    integrator_id: str,
    *,
    report_id: UUID | None,
    end_user_site: str,
    version: str,
    hardware_compatible: bool,
    nf525_checklist: dict[str, bool],
    by: str,
) -> tuple[UUID, list[str]]:
    """Record a procès-verbal d'installation, or raise `installations.InstallationRefused` (every
    reason listed).

    The catalogue and the approval are read in the report's transaction with their view rows locked:
    a withdrawal or a revocation writes those rows, so one in flight makes the report wait for it
    and then see it, and a report in flight makes them wait — no report slips past a concurrent
    revocation.
    """
    report_id = report_id or UUID(str(uuid7()))
    # A transaction: the view rows read are locked to its end (see `_shared_for_report`).
    async with runtime.unit_of_work(transaction=True) as uow:
        catalogue, state = await _shared_for_report(uow, integrator_id)
        withdrawn = any(r["version"] == version and r["withdrawn"] for r in catalogue["releases"])
        recorded = await uow.decide(
            INSTALLATION_REPORT,
            str(report_id),
            lambda already_reported: installations.report_installation(
                already_reported=already_reported,
                report_id=report_id,
                integrator_approved=state.approved,
                version=version,
                version_withdrawn=withdrawn,
                current_certified_version=catalogue["current_certified"],
                end_user_site=end_user_site,
                hardware_compatible=hardware_compatible,
                nf525_checklist=nf525_checklist,
                by=by,
            ),
            integrator_id=integrator_id,
        )
    return report_id, _types(recorded)


# --- tickets -----------------------------------------------------------------------------------------


async def open_ticket(
    runtime: ServiceRuntime,
    integrator_id: str,
    *,
    channel: Channel,
    requester: Requester,
    subject: str,
    description: str,
    by: str,
    by_integrator: bool,
) -> OpenedTicket:
    """Register a request as a ticket, numbered `T-<year>-<n>`."""
    ticket_id = UUID(str(uuid7()))
    year = runtime.clock.now().year

    async def opening(uow: UnitOfWork) -> tuple[str, list[Recorded]]:
        if by_integrator:
            # The ticket's emails go to the requester from the vendor's address: an integrator names
            # one of its own people, never an outside address (issue 16, finding 9).
            if not integrators.may_ask_tickets(await _contacts(uow, integrator_id), str(requester.email)):
                raise CommandRefused(
                    "the requester must be one of the integrator's contacts (or at their domain)",
                    field="requester.email",
                    code="requester_not_a_contact",
                )
        number = await _next_ticket_number(uow, year)
        recorded = await uow.decide(
            TICKET,
            str(ticket_id),
            lambda t: tickets.open_ticket(
                t,
                ticket_id=ticket_id,
                channel=channel,
                requester=requester,
                subject=subject,
                description=description,
                by=by,
                number=number,
            ),
            integrator_id=integrator_id,
        )
        return number, recorded

    # In a transaction the counter's row is locked when read: openings at once take their numbers
    # one after the other instead of conflicting (the bench opens 5,000 tickets 32 at a time). Only
    # the year's first openings can still race for a row that does not exist yet: they number again.
    number, recorded = await runtime.command(opening, retries=3, transaction=True)
    return OpenedTicket(ticket_id, number, _types(recorded))


async def qualify_ticket(
    runtime: ServiceRuntime, ticket_id: UUID, integrator_id: str, *, category: Category, severity: Severity
) -> list[str]:
    return await _on_ticket(
        runtime,
        ticket_id,
        integrator_id,
        lambda t: tickets.qualify(t, ticket_id=ticket_id, category=category, severity=severity),
    )


async def take_ticket(
    runtime: ServiceRuntime, ticket_id: UUID, integrator_id: str, *, technician: str
) -> list[str]:
    return await _on_ticket(
        runtime,
        ticket_id,
        integrator_id,
        lambda t: tickets.take(t, ticket_id=ticket_id, technician=technician),
    )


async def post_message(
    runtime: ServiceRuntime,
    ticket_id: UUID,
    integrator_id: str,
    *,
    author: str,
    body: str,
    internal: bool,
    by_integrator: bool,
) -> list[str]:
    return await _on_ticket(
        runtime,
        ticket_id,
        integrator_id,
        lambda t: tickets.post_message(
            t, ticket_id=ticket_id, author=author, body=body, internal=internal, by_integrator=by_integrator
        ),
    )


async def declare_on_tracker(
    runtime: ServiceRuntime, ticket_id: UUID, integrator_id: str, *, tracker_reference: str
) -> list[str]:
    return await _on_ticket(
        runtime,
        ticket_id,
        integrator_id,
        lambda t: tickets.declare_on_tracker(t, ticket_id=ticket_id, tracker_reference=tracker_reference),
    )


async def settle_tracker(
    runtime: ServiceRuntime, ticket_id: UUID, integrator_id: str, *, outcome: str, by: str
) -> list[str]:
    return await _on_ticket(
        runtime,
        ticket_id,
        integrator_id,
        lambda t: tickets.settle_tracker_declaration(t, ticket_id=ticket_id, outcome=outcome, by=by),
    )


async def resolve_ticket(
    runtime: ServiceRuntime, ticket_id: UUID, integrator_id: str, *, resolution_procedure: str, by: str
) -> list[str]:
    return await _on_ticket(
        runtime,
        ticket_id,
        integrator_id,
        lambda t: tickets.resolve(t, ticket_id=ticket_id, resolution_procedure=resolution_procedure, by=by),
    )


async def close_ticket(runtime: ServiceRuntime, ticket_id: UUID, integrator_id: str, *, by: str) -> list[str]:
    """Close a resolved ticket: a satisfaction survey goes out, its link valid SURVEY_TTL_DAYS."""
    settings: Any = runtime.settings  # support's own Settings (app.py)
    now = runtime.clock.now()
    ttl = timedelta(days=settings.survey_ttl_days)
    survey_token_id = uuid4()  # random: the link must be unguessable even without the signature
    return await _on_ticket(
        runtime,
        ticket_id,
        integrator_id,
        lambda t: tickets.close(
            t, ticket_id=ticket_id, survey_token_id=survey_token_id, now=now, survey_ttl=ttl, by=by
        ),
    )


async def reopen_ticket(
    runtime: ServiceRuntime, ticket_id: UUID, integrator_id: str, *, reason: str, by: str
) -> list[str]:
    return await _on_ticket(
        runtime,
        ticket_id,
        integrator_id,
        lambda t: tickets.reopen(t, ticket_id=ticket_id, reason=reason, by=by),
    )


async def answer_survey(
    runtime: ServiceRuntime,
    ticket_id: UUID,
    integrator_id: str,
    *,
    survey_token_id: UUID,
    rating: int,
    comment: str | None,
) -> list[str]:
    """Rate the intervention, once, before the survey expires (the domain says which)."""
    now = runtime.clock.now()
    return await _on_ticket(
        runtime,
        ticket_id,
        integrator_id,
        lambda t: tickets.rate(
            t, ticket_id=ticket_id, survey_token_id=survey_token_id, rating=rating, comment=comment, now=now
        ),
    )


async def remind_of_tracker(
    runtime: ServiceRuntime,
    ticket_id: UUID,
    integrator_id: str,
    *,
    now: datetime,
    every_business_days: int,
    is_holiday: IsHoliday,
) -> list[str]:
    """Remind the integrator of a ticket waiting on the tracker, if a reminder is due (nothing otherwise)."""
    return await _on_ticket(
        runtime,
        ticket_id,
        integrator_id,
        lambda t: tickets.remind_if_due(
            t, ticket_id=ticket_id, now=now, every_business_days=every_business_days, is_holiday=is_holiday
        ),
    )


# --- what support learns from onboarding ---------------------------------------------------------------


async def note_integrator(
    ctx: ReactionContext,
    integrator_id: str,
    event: IntegratorRegistered | IntegratorContactsUpdated,
    source_id: UUID,
) -> list[str]:
    """Record what onboarding said of an integrator as support's own fact, in the reaction's unit of
    work; a redelivery records nothing."""

    def decide(known: integrators.Integrator | None) -> Decision:
        if isinstance(event, IntegratorRegistered):
            return integrators.note_registration(known, event, source_id)
        return integrators.note_contacts_update(known, event, source_id)

    recorded = await ctx.decide(INTEGRATOR, integrator_id, decide, integrator_id=integrator_id)
    return _types(recorded)
