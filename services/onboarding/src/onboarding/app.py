"""Wiring of the onboarding service: settings, runtime, command line. The only module that knows all.

Onboarding runs what seed 000 asks of the vendor before and around the SIM work: registering the
integrator, its dossier (checked on submission), step 1 (the electrical profile) and go-live
("GO intégrateur"), learnt from sim-logistics and ism-provisioning through Kafka.
"""

from __future__ import annotations

from pydantic import Field

from chassis.cli import service_cli
from chassis.clock import Clock
from chassis.runtime import ServiceRuntime
from chassis.settings import ServiceSettings
from onboarding import api, deadlines
from onboarding.metrics import onboarding_gauges
from onboarding.projections import PROJECTIONS
from onboarding.reactions import REACTIONS


class Settings(ServiceSettings):
    http_port: int = 8001
    #: Days after registration by which the dossier should be complete (DOSSIER_DUE_DAYS): past them,
    #: with items still missing or rejected, ops and the integrator are told (once).
    dossier_due_days: int = Field(default=30, ge=1, le=365)
    #: How often the dossier deadline check runs (DOSSIER_DEADLINE_CHECK_SECONDS).
    dossier_deadline_check_seconds: float = Field(default=60.0, gt=0, le=86_400)


def build_runtime(settings: Settings, clock: Clock | None = None) -> ServiceRuntime:
    runtime = ServiceRuntime(
        name="onboarding",
        settings=settings,
        clock=clock,
        routers=[api.router],
        projections=[*PROJECTIONS, deadlines.dossier_deadlines],
        reactions=REACTIONS,
        schedules=deadlines.schedules(settings.dossier_deadline_check_seconds),
        description=__doc__ or "",
    )
    runtime.metrics.add_gauges(onboarding_gauges)
    return runtime


cli = service_cli(build_runtime, Settings)
