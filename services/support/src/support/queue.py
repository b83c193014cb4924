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
from support import queries
from support.views import TICKET_SUMMARY

router = APIRouter(tags=["support"])

Staff = Annotated[Principal, Depends(require("ops", "technician"))]
Queue = Literal["mine", "unassigned", "waiting_on_tracker", "open", "all"]


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
    rows = await queries.ticket_queue(
        runtime, queue, caller=who.subject, order=order, limit=limit, offset=offset
    )
    counts = await queries.queue_counts(runtime, caller=who.subject)
    companies = await queries.companies(runtime, sorted({r["integrator_id"] for r in rows}))
    now = runtime.clock.now()
    is_holiday = french_holidays(runtime.settings.support_holidays_subdivision)
    return {
        "tickets": [
            {
                **{k: r.get(k) for k in TICKET_SUMMARY},
                "integrator_name": companies.get(r["integrator_id"], {}).get("legal_name"),
                "age_business_hours": round(
                    business_hours(datetime.fromisoformat(r["opened_at"]), now, is_holiday), 2
                ),
                "reopened": bool(r.get("reopen_reason")) and r["status"] != "closed",
                "awaiting_answer": _awaiting_answer(r),
            }
            for r in rows
        ],
        "counts": counts,
    }


@router.get("/ticket-queue/integrators")
async def integrators_to_ask_for(runtime: RuntimeDep, who: Staff) -> list[dict[str, Any]]:
    """The integrators a call or an email may be registered for, by company name."""
    rows = await queries.integrator_directory(runtime)
    return [{"integrator_id": r["integrator_id"], "legal_name": r.get("legal_name")} for r in rows]
