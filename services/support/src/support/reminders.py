"""The reminder while a ticket waits on the tracker (DOMAIN.md §2: an email "while waiting for it").

A schedule, not a reaction: nothing arrives to react to, time passes. It looks up the waiting
tickets in the projection and asks the domain, ticket by ticket, whether a reminder is due; the
decision is taken on the ticket's own stream, so two replicas finding the same ticket conflict
(one wins) instead of sending two reminders.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog

from chassis.eventstore import ConcurrencyConflict
from chassis.runtime import Schedule, ServiceRuntime
from support import commands, queries
from support.calendar_fr import french_holidays

log = structlog.get_logger()


async def remind_tickets_waiting_on_tracker(runtime: ServiceRuntime) -> None:
    settings: Any = runtime.settings
    is_holiday = french_holidays(settings.support_holidays_subdivision)
    waiting = await queries.tickets_waiting_on_tracker(runtime)
    now = runtime.clock.now()
    for row in waiting:
        ticket_id = UUID(row["ticket_id"])
        try:
            await commands.remind_of_tracker(
                runtime,
                ticket_id,
                row["integrator_id"],
                now=now,
                every_business_days=settings.tracker_reminder_business_days,
                is_holiday=is_holiday,
            )
        except ConcurrencyConflict:
            log.info("tracker_reminder_raced", ticket_id=str(ticket_id))  # another replica or a command won


def schedules(every_seconds: float) -> list[Schedule]:
    return [
        Schedule(name="tracker-reminders", every_seconds=every_seconds, run=remind_tickets_waiting_on_tracker)
    ]
