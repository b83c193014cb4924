"""Support's business gauges for ops (chassis.metrics): open tickets by state, time to take and to
resolve a ticket in support hours.

Read by the chassis's refresh task. The times are those of `statistics` (the staff's statistics page)
over the tickets opened in the last `WINDOW_DAYS`: the figure ops compare week to week, and a bounded
amount of work per refresh however long the platform has run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from prometheus_client.core import GaugeMetricFamily, Metric

from chassis.runtime import ServiceRuntime
from support import queries
from support import statistics as stats
from support.calendar_fr import french_holidays
from support.domain.tickets import Status

WINDOW_DAYS = 30


async def support_gauges(runtime: ServiceRuntime) -> Iterable[Metric]:
    open_tickets = GaugeMetricFamily(
        "support_tickets_open", "Tickets not closed yet, by state.", labels=["state"]
    )
    counts = {s.value: 0 for s in Status if s is not Status.CLOSED}
    counts.update(await queries.open_tickets_by_status(runtime))
    for state, count in counts.items():
        open_tickets.add_metric([state], float(count))

    since = runtime.clock.now() - timedelta(days=WINDOW_DAYS)
    recent = await queries.tickets_opened_since(runtime, since)
    figures = stats.summarise(recent, french_holidays(runtime.settings.support_holidays_subdivision))
    families = [open_tickets]
    for name, key, what in (
        ("support_ticket_time_to_take_business_seconds", "time_to_take", "to its first taking"),
        ("support_ticket_time_to_resolve_business_seconds", "time_to_resolve", "to its last resolution"),
    ):
        family = GaugeMetricFamily(
            name,
            f"Support-hours time from a ticket's opening {what}, over the tickets opened in the last "
            f"{WINDOW_DAYS} days (statistic: mean or median; NaN when none).",
            labels=["statistic"],
        )
        for statistic in ("mean", "median"):
            hours = figures[key][f"{'average' if statistic == 'mean' else 'median'}_business_hours"]
            family.add_metric([statistic], float("nan") if hours is None else hours * 3600)
        families.append(family)
    return families
