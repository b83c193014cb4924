"""HTTP commands and queries of the ISM: status, configuration versions, exports, delivery, password."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from chassis.auth import Principal, authorize_integrator, require
from chassis.files import content_disposition
from chassis.http import RuntimeDep
from chassis.links import verify_link_token
from chassis.runtime import ServiceRuntime
from contracts.errors import CommandRefused, NotFound, OutOfOrder
from contracts.events.ism_provisioning import SET_PASSWORD_LINK_PURPOSE
from ism_provisioning import commands
from ism_provisioning.passwords import hash_password
from ism_provisioning.tables import SECTIONS, configuration_as_json, section_as_csv

router = APIRouter(tags=["ism"])

Reader = Annotated[Principal, Depends(require("ops", "integrator"))]
Ops = Annotated[Principal, Depends(require("ops"))]
Section = Literal["offers", "metropolitan_tariffs", "international_tariffs", "terminals"]


class DeliverIsm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The version ops reviewed: if the tables changed since, the delivery is refused (409).
    expected_configuration_version: int | None = Field(default=None, ge=1)


class SetPassword(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=10, max_length=500)
    password: SecretStr = Field(min_length=12, max_length=128)


# --- queries -------------------------------------------------------------------------------------


@router.get("/integrators/{integrator_id}/ism")
async def ism_status(integrator_id: str, runtime: RuntimeDep, who: Reader) -> dict[str, Any]:
    """Tables received, the errors to fix (per table, row, column), configuration, delivery."""
    authorize_integrator(who, integrator_id)
    row = await runtime.projections.get("ism_status", integrator_id)
    if row is None:
        raise NotFound("no ISM table received for this integrator yet")
    status = dict(row)
    if status.get("delivery"):
        # The link's token id is half of a credential: it stays in the service (and the mailed link).
        status["delivery"] = {k: v for k, v in status["delivery"].items() if k != "set_password_token_id"}
    return status


@router.get("/integrators/{integrator_id}/ism/configuration/versions")
async def configuration_versions(
    integrator_id: str, runtime: RuntimeDep, who: Reader
) -> list[dict[str, Any]]:
    """Every configuration version, oldest first, with the table versions it was built from."""
    authorize_integrator(who, integrator_id)
    versions: list[dict[str, Any]] = await runtime.projections.list(
        "ism_configuration_versions", integrator_id=integrator_id
    )
    return versions


async def _configuration(runtime: ServiceRuntime, integrator_id: str, version: int | None) -> tuple[int, Any]:
    state = await commands.account(runtime, integrator_id)
    chosen = state.configuration_version if version is None else version
    configuration = state.configuration(chosen)
    if configuration is None:
        raise NotFound(
            "the ISM is not configured yet" if version is None else f"no configuration version {version}",
            field="version" if version is not None else None,
        )
    return chosen, configuration


@router.get("/integrators/{integrator_id}/ism/configuration")
async def export_configuration_json(
    integrator_id: str, runtime: RuntimeDep, who: Reader, version: Annotated[int | None, Query(ge=1)] = None
) -> Response:
    """The configuration (default: current) as JSON; prices are exact decimal strings."""
    authorize_integrator(who, integrator_id)
    chosen, configuration = await _configuration(runtime, integrator_id, version)
    body = configuration_as_json(configuration, integrator_id=integrator_id, configuration_version=chosen)
    return Response(body, media_type="application/json")


@router.get("/integrators/{integrator_id}/ism/configuration/{section}.csv", response_class=PlainTextResponse)
async def export_configuration_csv(
    integrator_id: str,
    section: Section,
    runtime: RuntimeDep,
    who: Reader,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """One section of the configuration as CSV, with the dossier table's columns."""
    authorize_integrator(who, integrator_id)
    chosen, configuration = await _configuration(runtime, integrator_id, version)
    return Response(
        section_as_csv(configuration, section),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": content_disposition(f"ism-{integrator_id}-v{chosen}-{section}.csv"),
        },
    )


assert set(SECTIONS) == set(Section.__args__)  # type: ignore[attr-defined]


# --- commands ------------------------------------------------------------------------------------


@router.post("/integrators/{integrator_id}/ism/delivery", status_code=201)
async def deliver_ism(
    integrator_id: str, runtime: RuntimeDep, who: Ops, body: DeliverIsm | None = None
) -> dict[str, Any]:
    """Ops deliver the configured ISM ("Livraison ISM"). The integrator gets a set-password link by
    email (the notifier signs it from the event's token id): no password, no token in the answer."""
    recorded = await commands.deliver(
        runtime,
        integrator_id,
        expected_version=body.expected_configuration_version if body else None,
        delivered_by=who.subject,
    )
    delivered = recorded[0].event
    return {
        "events": [r.envelope.event_type for r in recorded],
        "platform_url": delivered.platform_url,
        "account_id": delivered.account_id,
        "configuration_version": delivered.configuration_version,
        "set_password_expires_at": delivered.set_password_expires_at.isoformat(),
    }


async def _account_of_link(runtime: Any, token: str) -> tuple[Any, dict[str, Any]]:
    """Check the link's signature and expiry, then find the delivery it was issued for."""
    # Per link, before anything else: whoever relays it (the web front calls for every person).
    runtime.rate_limits.enforce("set-password-link", token, runtime.settings.rate_limit_link)
    secret = runtime.settings.link_signing_secret.get_secret_value()
    token_id, _ = verify_link_token(secret, SET_PASSWORD_LINK_PURPOSE, token, now=runtime.clock.now())
    rows = await runtime.projections.list(
        "ism_status", where="data->'delivery'->>'set_password_token_id' = $1", args=[str(token_id)], limit=2
    )
    if len(rows) != 1:
        raise CommandRefused("this link is not valid", field="token", code="invalid_token")
    return token_id, rows[0]


@router.get("/ism/set-password")
async def check_set_password_link(
    token: Annotated[str, Query(min_length=10, max_length=500)], runtime: RuntimeDep
) -> dict[str, Any]:
    """What the page behind the mailed link shows before asking for the password (does not use it)."""
    _, row = await _account_of_link(runtime, token)
    if row["password_set"]:
        raise OutOfOrder("this set-password link was already used", field="token")
    delivery = row["delivery"]
    return {
        "account_id": delivery["account_id"],
        "platform_url": delivery["platform_url"],
        "expires_at": delivery["set_password_expires_at"],
    }


@router.post("/ism/set-password")
async def set_password(body: SetPassword, runtime: RuntimeDep) -> dict[str, Any]:
    """The set-password link, used once before it expires. The signed token is the credential."""
    token_id, row = await _account_of_link(runtime, body.token)
    delivery = row["delivery"]
    integrator_id = row["integrator_id"]
    # The cheap refusals first: scrypt (~50 ms of CPU) is for a link that can still be used, or anyone
    # replaying a used link would make the service hash for free. The domain checks again, in order.
    if row["password_set"]:
        raise OutOfOrder("this set-password link was already used", field="token")
    if runtime.clock.now() >= datetime.fromisoformat(delivery["set_password_expires_at"]):
        raise CommandRefused("this set-password link has expired", field="token")
    # scrypt is deliberately slow: off the event loop
    password_hash = await asyncio.to_thread(hash_password, body.password.get_secret_value())
    await commands.set_password(
        runtime,
        integrator_id,
        token_id=token_id,
        account_id=delivery["account_id"],
        password_hash=password_hash,
    )
    return {
        "account_id": delivery["account_id"],
        "platform_url": delivery["platform_url"],
    }


#: `hash_password` stays importable from here (the link tests hash with it).
__all__ = ["hash_password", "router"]
