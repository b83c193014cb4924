"""Support's command handlers: load the aggregate, let `support.domain` decide, append — named from
the business, called by the HTTP endpoints (`api`), the reaction and the reminder schedule.

Each takes what it needs (the runtime, or a reaction's context; the ids; the command's data; who
acts) and returns what was recorded as plain data. Who may act is the caller's business (`api`
checks it); what is allowed is the domain's. Every touch of the event store and of projection
tables by a command is in this module, behind the few helpers of its first section, so that moving
to the chassis's unit of work changes this module only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from uuid_utils import uuid7

from chassis.db import Conn
from chassis.eventstore import Recorded
from chassis.runtime import ReactionContext, ServiceRuntime
from contracts.errors import CommandRefused
from contracts.events import DomainEvent
from contracts.events.onboarding import IntegratorContactsUpdated, IntegratorRegistered
from contracts.events.support import VENDOR_WIDE, Category, Channel, Requester, Severity
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


def _approval(history: list[Recorded]) -> approval.Approval:
    return approval.fold(r.event for r in history)


def _release(history: list[Recorded]) -> releases.Release:
    return releases.fold(r.event for r in history)


def _ticket(history: list[Recorded]) -> tickets.Ticket:
    return tickets.fold((r.event, r.envelope.occurred_at) for r in history)


async def _on_approval(
    runtime: ServiceRuntime, integrator_id: str, decide: Callable[[approval.Approval], Decision]
) -> list[str]:
    recorded = await runtime.execute(
        stream_id=approval.stream_id(integrator_id),
        integrator_id=integrator_id,
        decide=lambda history: decide(_approval(history)),
    )
    return _types(recorded)


async def _on_ticket(
    runtime: ServiceRuntime, ticket_id: UUID, integrator_id: str, decide: Callable[[tickets.Ticket], Decision]
) -> list[str]:
    recorded = await runtime.execute(
        stream_id=tickets.stream_id(ticket_id),
        integrator_id=integrator_id,
        decide=lambda history: decide(_ticket(history)),
    )
    return _types(recorded)


async def _on_release_and_each_approved(
    runtime: ServiceRuntime,
    version: str,
    decide_release: Callable[[releases.Release], Decision],
    decide_approval: Callable[[approval.Approval], Decision],
) -> VendorWide:
    """The release's event, then one on each approved integrator's stream, in one transaction: no
    approved integrator is left out by a crash half-way."""
    async with runtime.pool.acquire() as conn, conn.transaction():
        recorded = await runtime.execute_in(
            conn,
            stream_id=releases.stream_id(version),
            integrator_id=VENDOR_WIDE,
            decide=lambda history: decide_release(_release(history)),
        )
        rows = await conn.fetch(
            "SELECT key FROM support_approvals WHERE (data->>'approved')::boolean ORDER BY key"
        )
        told: list[Recorded] = []
        for row in rows:
            integrator_id = row["key"]
            told += await runtime.execute_in(
                conn,
                stream_id=approval.stream_id(integrator_id),
                integrator_id=integrator_id,
                decide=lambda history: decide_approval(_approval(history)),
            )
    return VendorWide(_types(recorded), [r.envelope.integrator_id for r in told])


async def _contacts(runtime: ServiceRuntime, integrator_id: str) -> list[str]:
    company = await runtime.projections.get("support_integrators", integrator_id)
    return [c["email"] for c in (company or {}).get("contacts", [])]


async def _next_ticket_number(conn: Conn, year: int) -> str:
    """Numbers are given one opening at a time (a lock held to the commit), after the numbers the
    log already holds (the projection, updated in the same transaction): unique, and rebuilt from
    the log with everything else."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"support-ticket-{year}")
    last = await conn.fetchval(
        "SELECT max(split_part(data->>'ticket_number', '-', 3)::int) FROM support_tickets"
        " WHERE data->>'ticket_number' LIKE $1",
        f"T-{year:04d}-%",
    )
    return tickets.ticket_number(year, (last or 0) + 1)


async def _shared_for_report(
    runtime: ServiceRuntime, conn: Conn, integrator_id: str
) -> tuple[dict[str, Any], approval.Approval]:
    """The catalogue and the integrator's approval, read under a share lock on their projection
    rows, taken in the withdrawal's order (catalogue, then approvals) so the two cannot deadlock."""
    catalogue_json = await conn.fetchval(
        "SELECT data FROM support_releases WHERE key = $1 FOR SHARE", VENDOR_WIDE
    )
    await conn.execute("SELECT 1 FROM support_approvals WHERE key = $1 FOR SHARE", integrator_id)
    # Read after the lock: a new statement, a new snapshot that includes a revocation just committed.
    history = await runtime.store.read_stream(conn, approval.stream_id(integrator_id))
    catalogue = json.loads(catalogue_json) if catalogue_json is not None else None
    return catalogue or {"releases": [], "current_certified": None}, _approval(history)


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

    The catalogue and the approval are read in the appending transaction under a share lock on
    their projection rows: a withdrawal or a revocation updates those rows (FOR UPDATE) in its own
    append transaction, so one in flight makes the report wait for it and then see it, and a report
    in flight makes them wait — no report slips past a concurrent revocation.
    """
    report_id = report_id or UUID(str(uuid7()))
    async with runtime.pool.acquire() as conn, conn.transaction():
        catalogue, state = await _shared_for_report(runtime, conn, integrator_id)
        withdrawn = any(r["version"] == version and r["withdrawn"] for r in catalogue["releases"])
        recorded = await runtime.execute_in(
            conn,
            stream_id=installations.stream_id(report_id),
            integrator_id=integrator_id,
            decide=lambda history: installations.report_installation(
                already_reported=bool(history),
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
    if by_integrator:
        # The ticket's emails go to the requester from the vendor's address: an integrator names one
        # of its own people, never an outside address (issue 16, finding 9).
        if not integrators.may_ask_tickets(await _contacts(runtime, integrator_id), str(requester.email)):
            raise CommandRefused(
                "the requester must be one of the integrator's contacts (or at their domain)",
                field="requester.email",
                code="requester_not_a_contact",
            )
    ticket_id = UUID(str(uuid7()))
    year = runtime.clock.now().year
    async with runtime.pool.acquire() as conn, conn.transaction():
        number = await _next_ticket_number(conn, year)
        recorded = await runtime.execute_in(
            conn,
            stream_id=tickets.stream_id(ticket_id),
            integrator_id=integrator_id,
            decide=lambda history: tickets.open_ticket(
                _ticket(history),
                ticket_id=ticket_id,
                channel=channel,
                requester=requester,
                subject=subject,
                description=description,
                by=by,
                number=number,
            ),
        )
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
    """Record what onboarding said of an integrator as support's own fact, in the reaction's
    transaction; a redelivery records nothing."""

    def decide(history: list[Recorded]) -> Decision:
        known = integrators.fold(r.event for r in history)
        if isinstance(event, IntegratorRegistered):
            return integrators.note_registration(known, event, source_id)
        return integrators.note_contacts_update(known, event, source_id)

    recorded = await ctx.execute(
        stream_id=integrators.stream_id(integrator_id), integrator_id=integrator_id, decide=decide
    )
    return _types(recorded)
