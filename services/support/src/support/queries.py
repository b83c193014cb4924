"""Support's reads: projection rows, the ticket queue's and the statistics' SQL, returned as plain data.

Every read of a projection table or of a stream outside a command is here (commands read theirs
through their unit of work, in `commands`), so that the HTTP modules, the metrics and the reminder
schedule never write SQL, and a change of the chassis's read API changes this module only.
Who may read what is the caller's business (`api`, `queue`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from chassis.runtime import ServiceRuntime
from contracts.events.support import VENDOR_WIDE
from support import statistics as stats
from support.aggregates import APPROVAL
from support.business_time import IsHoliday
from support.calendar_fr import french_holidays
from support.domain import approval, tickets

Row = dict[str, Any]

# --- approval ----------------------------------------------------------------------------------------


async def approval_file(runtime: ServiceRuntime, integrator_id: str) -> Row | None:
    row: Row | None = await runtime.projections.get("support_approvals", integrator_id)
    return row


async def mandatory_update_terms(runtime: ServiceRuntime, integrator_id: str) -> Row:
    """Whether a mandatory update is free (maintenance contract) or billed per licence, from the
    approval's state (the aggregate, loaded)."""
    async with runtime.unit_of_work() as uow:
        state = (await uow.load(APPROVAL, integrator_id)).state
    return {
        "integrator_id": integrator_id,
        "with_maintenance_contract": state.with_maintenance_contract,
        "mandatory_updates": approval.update_terms(state).value,
    }


async def approved_integrator_ids(runtime: ServiceRuntime) -> list[str]:
    """The integrators approved now, in id order (the ones a release is told to)."""
    rows = await runtime.projections.list(
        "support_approvals", where="(data->>'approved')::boolean", limit=100_000
    )
    return [r["integrator_id"] for r in rows]


async def approved_integrators(runtime: ServiceRuntime) -> list[tuple[Row, Row]]:
    """Each approved integrator's approval row with its company (empty when onboarding told nothing)."""
    rows: list[Row] = await runtime.projections.list(
        "support_approvals", where="(data->>'approved')::boolean", limit=100_000
    )
    found = await companies(runtime, [r["integrator_id"] for r in rows])
    return [(r, found.get(r["integrator_id"], {})) for r in rows]


async def companies(runtime: ServiceRuntime, integrator_ids: Iterable[str]) -> dict[str, Row]:
    """Company data support learnt from onboarding (IntegratorNoted), by integrator id."""
    ids = list(integrator_ids)
    if not ids:
        return {}
    rows = await runtime.projections.list(
        "support_integrators", where="key = ANY($1::text[])", args=[ids], limit=len(ids)
    )
    return {r["integrator_id"]: r for r in rows}


async def integrator_directory(runtime: ServiceRuntime) -> list[Row]:
    """Every integrator support knows, by company name."""
    rows: list[Row] = await runtime.projections.list(
        "support_integrators", order_by="data->>'legal_name', key", limit=10_000
    )
    return rows


# --- releases and installation reports -----------------------------------------------------------------


async def release_catalogue(runtime: ServiceRuntime) -> Row:
    row: Row | None = await runtime.projections.get("support_releases", VENDOR_WIDE)
    return row or {"releases": [], "current_certified": None}


async def installation_reports(runtime: ServiceRuntime, integrator_id: str) -> list[Row]:
    rows: list[Row] = await runtime.projections.list(
        "support_installations", integrator_id=integrator_id, order_by="data->>'reported_at', key"
    )
    return rows


# --- tickets and surveys -------------------------------------------------------------------------------


async def ticket_file(runtime: ServiceRuntime, ticket_id: UUID | str) -> Row | None:
    row: Row | None = await runtime.projections.get("support_tickets", str(ticket_id))
    return row


async def tickets_newest_first(
    runtime: ServiceRuntime, *, integrator_id: str | None, status: tickets.Status | None, limit: int
) -> list[Row]:
    where, args = ("data->>'status' = $1", [status.value]) if status else (None, [])
    rows: list[Row] = await runtime.projections.list(
        "support_tickets",
        integrator_id=integrator_id,
        where=where,
        args=args,
        order_by="data->>'opened_at' DESC, key DESC",
        limit=limit,
    )
    return rows


async def tickets_waiting_on_tracker(runtime: ServiceRuntime) -> list[Row]:
    rows: list[Row] = await runtime.projections.list(
        "support_tickets",
        where="data->>'status' = $1",
        args=[tickets.Status.WAITING_ON_TRACKER.value],
        limit=10_000,
    )
    return rows


async def survey(runtime: ServiceRuntime, token_id: UUID) -> Row | None:
    """A survey by its token id: the ticket and integrator it belongs to, whether it was answered."""
    row: Row | None = await runtime.projections.get("support_surveys", str(token_id))
    return row


# --- the technicians' queue ----------------------------------------------------------------------------

#: Each queue as SQL over the ticket file; `$1` is the caller (only `mine` uses it).
QUEUES: dict[str, str] = {
    "mine": "data->>'technician' = $1 AND data->>'status' <> 'closed'",
    "unassigned": "data->>'technician' IS NULL AND data->>'status' NOT IN ('resolved', 'closed')",
    "waiting_on_tracker": "data->>'status' = 'waiting_on_tracker'",
    "open": "data->>'status' <> 'closed'",
    "all": "true",
}
ORDERS = {
    "age": "data->>'opened_at', key",
    "severity": (
        "CASE data->>'severity' WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 "
        "WHEN 'low' THEN 3 ELSE 4 END, data->>'opened_at', key"
    ),
}


async def ticket_queue(
    runtime: ServiceRuntime, queue: str, *, caller: str, order: str, limit: int, offset: int
) -> list[Row]:
    """One page of a queue, paged in SQL."""
    # Every clause names $1 (the caller) so that one argument list fits them all.
    where = f"({QUEUES[queue]}) AND $1::text IS NOT NULL"
    rows: list[Row] = await runtime.projections.list(
        "support_tickets", where=where, args=[caller], order_by=ORDERS[order], limit=limit, offset=offset
    )
    return rows


async def queue_counts(runtime: ServiceRuntime, *, caller: str) -> dict[str, int]:
    """How many tickets each queue holds, in one statement."""
    counted = ", ".join(f"count(*) FILTER (WHERE {sql}) AS {name}" for name, sql in QUEUES.items())
    counts = await runtime.pool.fetchrow(f"SELECT {counted} FROM support_tickets", caller)
    return dict(counts) if counts else {}


# --- statistics and the metrics' figures ---------------------------------------------------------------


async def statistics(
    runtime: ServiceRuntime, *, since: datetime | None, until: datetime | None, integrator_id: str | None
) -> dict[str, Any]:
    """`support.statistics` over the tickets opened in [since, until), in the service's support hours."""
    where, args = _period_clause(since, until)
    rows = await runtime.projections.list(
        "support_tickets", integrator_id=integrator_id, where=where, args=args, limit=1_000_000
    )
    figures: dict[str, Any] = stats.statistics(
        rows, is_holiday=_is_holiday(runtime), since=since, until=until
    )
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


async def open_tickets_by_status(runtime: ServiceRuntime) -> dict[str, int]:
    """Tickets not closed, by status (a status with none is absent)."""
    rows = await runtime.pool.fetch(
        "SELECT data->>'status' AS state, count(*) AS tickets FROM support_tickets "
        "WHERE data->>'status' <> $1 GROUP BY 1",
        tickets.Status.CLOSED.value,
    )
    return {row["state"]: row["tickets"] for row in rows}


async def tickets_opened_since(runtime: ServiceRuntime, since: datetime) -> list[Row]:
    rows: list[Row] = await runtime.projections.list(
        "support_tickets", where="data->>'opened_at' >= $1", args=[since.isoformat()], limit=100_000
    )
    return rows


def _is_holiday(runtime: ServiceRuntime) -> IsHoliday:
    settings: Any = runtime.settings  # support's own Settings (app.py)
    return french_holidays(settings.support_holidays_subdivision)
