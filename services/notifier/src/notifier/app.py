"""Wiring of the notifier: settings, runtime, command line. The only module that knows all.

The notifier turns the other services' events into emails (DOMAIN.md §3): the mapping is declared
data (`domain.mapping`), each email is recorded as intended in the transaction that consumes its
event, sent after commit, recorded as sent, retried with backoff, and given up on visibly (P5).
"""

from __future__ import annotations

from chassis.cli import service_cli
from chassis.clock import Clock
from chassis.runtime import Schedule, ServiceRuntime
from notifier import api
from notifier.delivery import deliver_due_emails
from notifier.health import email_gauges, email_status
from notifier.metrics import email_metrics
from notifier.projections import PROJECTIONS
from notifier.reactions import REACTIONS
from notifier.settings import Settings

__all__ = ["Settings", "build_runtime", "cli"]


def build_runtime(settings: Settings, clock: Clock | None = None) -> ServiceRuntime:
    runtime = ServiceRuntime(
        name="notifier",
        settings=settings,
        clock=clock,
        routers=[api.router],
        projections=PROJECTIONS,
        reactions=REACTIONS,
        schedules=[
            Schedule(
                name="emails-due", every_seconds=settings.email_retry_check_seconds, run=deliver_due_emails
            )
        ],
        description=__doc__ or "",
    )
    email_metrics(runtime)  # every template's series from the first scrape
    # Pending, retrying, given up, the oldest's wait and the SMTP server as last seen: in /ops/status.
    runtime.status_parts["emails"] = email_status
    runtime.metrics.add_gauges(email_gauges)
    return runtime


cli = service_cli(build_runtime, Settings)
