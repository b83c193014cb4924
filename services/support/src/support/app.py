"""Wiring of the support service: settings, runtime, command line. The only module that knows all.

Support runs seed 004's integrator relations: approval (training, NF525 charter), maintenance
contracts, releases and their withdrawal, installation reports, and the support tickets with
their emails (sent by the notifier from these events), satisfaction surveys and statistics.
From onboarding it learns each integrator's company data and contacts (its own IntegratorNoted).
"""

from __future__ import annotations

from pydantic import Field

from chassis.cli import service_cli
from chassis.clock import Clock
from chassis.runtime import ServiceRuntime
from chassis.settings import ServiceSettings
from support import api, queue, reminders
from support.metrics import support_gauges
from support.projections import MIGRATIONS, PROJECTIONS
from support.reactions import REACTIONS


class Settings(ServiceSettings):
    http_port: int = 8004
    #: Days a satisfaction survey link stays valid after the closing (SURVEY_TTL_DAYS).
    survey_ttl_days: int = Field(default=14, ge=1, le=365)
    #: Business days between reminders while a ticket waits on the tracker (TRACKER_REMINDER_BUSINESS_DAYS).
    tracker_reminder_business_days: int = Field(default=5, ge=1, le=60)
    #: How often the reminder schedule looks (TRACKER_REMINDER_CHECK_SECONDS).
    tracker_reminder_check_seconds: float = Field(default=60.0, gt=0)
    #: `holidays` subdivision for support hours, e.g. "57" for Moselle; "" national (SUPPORT_HOLIDAYS_SUBDIVISION).
    support_holidays_subdivision: str = ""


def build_runtime(settings: Settings, clock: Clock | None = None) -> ServiceRuntime:
    runtime = ServiceRuntime(
        name="support",
        settings=settings,
        clock=clock,
        routers=[api.router, queue.router],
        projections=PROJECTIONS,
        migrations=MIGRATIONS,
        reactions=REACTIONS,
        schedules=reminders.schedules(settings.tracker_reminder_check_seconds),
        description=__doc__ or "",
    )
    runtime.metrics.add_gauges(support_gauges)
    return runtime


cli = service_cli(build_runtime, Settings)
