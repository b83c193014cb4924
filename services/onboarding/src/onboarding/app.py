"""Wiring of the onboarding service: settings, runtime, command line. The only module that knows all.

Onboarding runs what seed 000 asks of the vendor before and around the SIM work: registering the
integrator, its dossier (checked on submission), step 1 (the electrical profile) and go-live
("GO intégrateur"), learnt from sim-logistics and ism-provisioning through Kafka.
"""

from __future__ import annotations

from chassis.cli import service_cli
from chassis.clock import Clock
from chassis.runtime import ServiceRuntime
from chassis.settings import ServiceSettings
from onboarding import api
from onboarding.metrics import onboarding_gauges
from onboarding.projections import PROJECTIONS
from onboarding.reactions import REACTIONS


class Settings(ServiceSettings):
    http_port: int = 8001


def build_runtime(settings: Settings, clock: Clock | None = None) -> ServiceRuntime:
    runtime = ServiceRuntime(
        name="onboarding",
        settings=settings,
        clock=clock,
        routers=[api.router],
        projections=PROJECTIONS,
        reactions=REACTIONS,
        description=__doc__ or "",
    )
    runtime.metrics.add_gauges(onboarding_gauges)
    return runtime


cli = service_cli(build_runtime, Settings)
