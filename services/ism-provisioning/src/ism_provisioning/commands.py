"""The ISM's command handlers, called by the HTTP endpoints (`api`): each loads the integrator's ISM
account through the chassis's unit of work, lets `ism_provisioning.domain` decide, and appends.
Who may act (and whether a link is genuine) is `api`'s business; what is allowed is the domain's."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

from chassis.eventstore import Recorded
from chassis.runtime import ServiceRuntime
from contracts.errors import OutOfOrder
from contracts.events.ism_provisioning import IsmEvent
from ism_provisioning import domain, passwords
from ism_provisioning.aggregates import ISM_ACCOUNT


async def account(runtime: ServiceRuntime, integrator_id: str) -> domain.IsmAccount:
    """The integrator's ISM account as its stream tells it (its configurations, for the exports)."""
    async with runtime.unit_of_work() as uow:
        return (await uow.load(ISM_ACCOUNT, integrator_id)).state


async def deliver(
    runtime: ServiceRuntime, integrator_id: str, *, expected_version: int | None, delivered_by: str
) -> list[Recorded]:
    """Deliver the configured ISM ("Livraison ISM"): `ISMDelivered`. Refused (409) if the
    configuration is no longer the version ops reviewed."""
    settings = runtime.settings

    def delivering(state: domain.IsmAccount) -> list[IsmEvent]:
        if expected_version is not None and expected_version != state.configuration_version:
            raise OutOfOrder(
                f"the configuration is at version {state.configuration_version}, not {expected_version}",
                field="expected_configuration_version",
            )
        return domain.deliver_ism(
            state,
            integrator_id=integrator_id,
            platform_base_url=settings.ism_platform_base_url,
            delivered_by=delivered_by,
            set_password_token_id=uuid4(),
            link_valid_for=timedelta(hours=settings.ism_set_password_link_ttl_hours),
            now=runtime.clock.now(),
        )

    async with runtime.unit_of_work() as uow:
        return await uow.decide(ISM_ACCOUNT, integrator_id, delivering, integrator_id=integrator_id)


async def set_password(
    runtime: ServiceRuntime, integrator_id: str, *, token_id: UUID, account_id: str, password_hash: str
) -> None:
    """Use the set-password link and keep the password's hash, in one transaction: the link is used
    if and only if the password is kept."""
    async with runtime.unit_of_work(transaction=True) as uow:
        await uow.decide(
            ISM_ACCOUNT,
            integrator_id,
            lambda state: domain.set_password(state, token_id=token_id, now=runtime.clock.now()),
            integrator_id=integrator_id,
        )
        await passwords.keep(
            uow.conn,
            integrator_id=integrator_id,
            account_id=account_id,
            password_hash=password_hash,
            at=runtime.clock.now(),
        )
