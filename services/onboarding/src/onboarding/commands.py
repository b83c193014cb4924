"""Onboarding's command handlers, called by the HTTP endpoints (`api`): each loads the integrator
through the chassis's unit of work, lets `onboarding.domain` decide on its state, and appends.

Who may act is `api`'s business; what is allowed is the domain's. What a handler appends is written
when its unit of work ends, in one statement with the view rows it changes: a concurrent write to
the same integrator (or to a view row it read) answers 409, unless the handler decides again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from uuid_utils import uuid7

from chassis.eventstore import Recorded
from chassis.runtime import ServiceRuntime
from chassis.unit_of_work import UnitOfWork
from contracts.errors import NotFound
from contracts.events import DomainEvent
from onboarding import domain
from onboarding.aggregates import INTEGRATOR

Decision = Callable[[domain.Integrator], Sequence[DomainEvent]]


def _types(recorded: list[Recorded]) -> list[str]:
    return [r.envelope.event_type for r in recorded]


async def register(
    runtime: ServiceRuntime, registration: domain.Registration, *, registered_by: str
) -> tuple[str, list[str]]:
    """A new integrator: its id and the events recorded. A SIRET already registered is refused."""
    integrator_id = str(uuid7())
    siret = registration.siret.replace(" ", "")

    async def registering(uow: UnitOfWork) -> list[Recorded]:
        # The domain sees one stream, not the others: who holds the SIRET is a view row (rebuilt
        # from the log). Its write is guarded by the position it was read at, so of two concurrent
        # registrations of one SIRET the second's write conflicts; it decides again, sees the first,
        # and is refused (duplicate_siret) rather than answered 409.
        holder = await uow.view("integrator_sirets", siret)
        return await uow.decide(
            INTEGRATOR,
            integrator_id,
            lambda state: domain.register(
                state,
                registration,
                registered_by=registered_by,
                siret_holder=holder["integrator_id"] if holder else None,
            ),
            integrator_id=integrator_id,
        )

    return integrator_id, _types(await runtime.command(registering, retries=1))


async def on_integrator(runtime: ServiceRuntime, integrator_id: str, decision: Decision) -> list[str]:
    """The common command: load the integrator, let the domain decide on its state, append. Returns
    the types of the events recorded (409 when the integrator moved meanwhile)."""
    async with runtime.unit_of_work() as uow:
        recorded = await uow.decide(INTEGRATOR, integrator_id, decision, integrator_id=integrator_id)
    return _types(recorded)


async def registered_integrator(runtime: ServiceRuntime, integrator_id: str) -> domain.Integrator:
    """The integrator's state, for what the status view does not keep (its files, its tables); 404
    when it was never registered."""
    async with runtime.unit_of_work() as uow:
        state = (await uow.load(INTEGRATOR, integrator_id)).state
    if not state.registered:
        raise NotFound("no such integrator")
    return state
