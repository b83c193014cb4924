"""Wiring of the sim-logistics service: settings, runtime, command line. The only module that knows all.

sim-logistics runs steps 2 and 3 of seed 000: two test SIMs built on the integrator's electrical
profile, their reception, the validation call and its outcome, the SIM purchase order with the
accepted artwork (2 weeks from the profile's creation); then production and delivery with the
delivery note and tariff grid (4 weeks from the order). A deadline check raises a step's overdue
event once. It learns the profile and the accepted artwork from onboarding's events through Kafka.
"""

from __future__ import annotations

from pydantic import Field

from chassis.cli import service_cli
from chassis.clock import Clock
from chassis.runtime import ServiceRuntime
from chassis.settings import ServiceSettings
from sim_logistics import api
from sim_logistics.deadlines import schedules
from sim_logistics.projections import PROJECTIONS
from sim_logistics.reactions import REACTIONS


class Settings(ServiceSettings):
    http_port: int = 8002
    #: How often the deadline check runs (DEADLINE_CHECK_SECONDS): an overdue step is raised
    #: at most this long after its deadline.
    deadline_check_seconds: float = Field(default=1.0, gt=0, le=3600)


def build_runtime(settings: Settings, clock: Clock | None = None) -> ServiceRuntime:
    return ServiceRuntime(
        name="sim-logistics",
        settings=settings,
        clock=clock,
        routers=[api.router],
        projections=PROJECTIONS,
        reactions=REACTIONS,
        schedules=schedules(settings.deadline_check_seconds),
        description=__doc__ or "",
    )


cli = service_cli(build_runtime, Settings)
