"""Wiring of the ism-provisioning service: settings, runtime, command line. The only module that knows all.

ISM = the provisioning platform (seed 000: "l'ISM (plateforme de provisionning)"). The service
builds the integrator's ISM configuration from the four dossier tables accepted in onboarding,
and ops deliver it once the SIMs are delivered ("Livraison ISM", just before "GO intégrateur").
"""

from __future__ import annotations

from pydantic import Field

from chassis.cli import service_cli
from chassis.clock import Clock
from chassis.runtime import ServiceRuntime
from chassis.settings import ServiceSettings
from ism_provisioning import api, deadlines, passwords
from ism_provisioning.projections import PROJECTIONS
from ism_provisioning.reactions import REACTIONS


class Settings(ServiceSettings):
    http_port: int = 8003
    #: Where the integrators' ISM accounts live; ISMDelivered carries `<base>/accounts/<account id>`.
    ism_platform_base_url: str = "https://ism.example.invalid"
    #: How long the set-password link mailed at delivery stays usable.
    ism_set_password_link_ttl_hours: int = Field(default=72, ge=1, le=24 * 30)
    #: Days after the SIMs' delivery by which the ISM should be delivered (ISM_DUE_DAYS): past them,
    #: ops and the integrator are told (once).
    ism_due_days: int = Field(default=14, ge=1, le=365)
    #: How often the ISM deadline check runs (ISM_DEADLINE_CHECK_SECONDS).
    ism_deadline_check_seconds: float = Field(default=60.0, gt=0, le=86_400)


def build_runtime(settings: Settings, clock: Clock | None = None) -> ServiceRuntime:
    return ServiceRuntime(
        name="ism-provisioning",
        settings=settings,
        clock=clock,
        routers=[api.router],
        projections=[*PROJECTIONS, deadlines.ism_deadlines],
        reactions=REACTIONS,
        schedules=deadlines.schedules(settings.ism_deadline_check_seconds),
        migrations=passwords.MIGRATIONS,
        description=__doc__ or "",
    )


cli = service_cli(build_runtime, Settings)
