"""The support desk's ticket queue: the technicians' working list, filtered and paged in SQL.

Queues: `mine` (taken by the caller, not closed), `unassigned` (nobody took it, not resolved or
closed), `waiting_on_tracker`, `open` (not closed), `all`. Ordered by age (oldest first) or by
severity (critical first, then oldest). Each ticket says its age in support hours, whether it was
reopened and whether the integrator wrote last (a message waiting for an answer).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from chassis.auth import Principal, require
from chassis.business_hours import business_hours, french_holidays
from chassis.http import RuntimeDep

router = APIRouter(tags=["support"])

Staff = Annotated[Principal, Depends(require("ops", "technician"))]
Queue = Literal["mine", "unassigned", "waiting_on_tracker", "open", "all"]

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


def _awaiting_answer(row: dict[str, Any]) -> bool:
    """The integrator wrote last: its message waits for the vendor's answer."""
    public = [m for m in row["messages"] if not m["internal"]]
    return bool(public) and bool(public[-1].get("by_integrator")) and row["status"] != "closed"


@router.get("/ticket-queue")
async def ticket_queue(
    runtime: RuntimeDep,
    who: Staff,
    queue: Queue = "open",
    order: Literal["age", "severity"] = "age",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    """One page of a queue, with how many tickets each queue holds."""
    # Every clause names $1 (the caller) so that one argument list fits them all.
    where = f"({QUEUES[queue]}) AND $1::text IS NOT NULL"
    rows = await runtime.projections.list(
        "support_tickets", where=where, args=[who.subject], order_by=ORDERS[order], limit=limit, offset=offset
    )
    counted = ", ".join(f"count(*) FILTER (WHERE {sql}) AS {name}" for name, sql in QUEUES.items())
    counts = await runtime.pool.fetchrow(f"SELECT {counted} FROM support_tickets", who.subject)
    ids = sorted({r["integrator_id"] for r in rows})
    companies = {
        c["integrator_id"]: c
        for c in await runtime.projections.list(
            "support_integrators", where="key = ANY($1::text[])", args=[ids], limit=max(len(ids), 1)
        )
    }
    now = runtime.clock.now()
    is_holiday = french_holidays(runtime.settings.support_holidays_subdivision)
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
        "opened_at",
    )
    return {
        "tickets": [
            {
                **{k: r.get(k) for k in summary},
                "integrator_name": companies.get(r["integrator_id"], {}).get("legal_name"),
                "age_business_hours": round(
                    business_hours(datetime.fromisoformat(r["opened_at"]), now, is_holiday), 2
                ),
                "reopened": bool(r.get("reopen_reason")) and r["status"] != "closed",
                "awaiting_answer": _awaiting_answer(r),
            }
            for r in rows
        ],
        "counts": dict(counts) if counts else {},
    }


@router.get("/ticket-queue/integrators")
async def integrators_to_ask_for(runtime: RuntimeDep, who: Staff) -> list[dict[str, Any]]:
    """The integrators a call or an email may be registered for, by company name."""
    rows = await runtime.projections.list(
        "support_integrators", order_by="data->>'legal_name', key", limit=10_000
    )
    return [{"integrator_id": r["integrator_id"], "legal_name": r.get("legal_name")} for r in rows]
