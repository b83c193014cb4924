"""Read models of the ISM, folded from this service's own events (rebuildable from the log, P4).

- `ism_status`: one row per integrator: tables received (version, rows), the errors of the latest
  rejection (shown to ops and the integrator until corrected tables arrive), the configuration
  version, the delivery, whether the password was set.
- `ism_configuration_versions`: one row per configuration version, the history ops query.
"""

from __future__ import annotations

from typing import Any

from chassis.projections import Projection
from contracts.envelope import Envelope
from contracts.events import DomainEvent
from contracts.events.ism_provisioning import (
    IsmConfigurationRejected,
    IsmConfigured,
    ISMDelivered,
    IsmPasswordSet,
    IsmTableReceived,
    LogoAcceptanceNoted,
    SimsDeliveryNoted,
)

Row = dict[str, Any]

ISM_TABLE_NAMES = ("offers_table", "tariffs_metropolitan", "tariffs_international", "terminals_table")


def _empty_status(integrator_id: str) -> Row:
    return {
        "integrator_id": integrator_id,
        "tables": {},
        "missing_tables": list(ISM_TABLE_NAMES),
        "errors": [],
        "rejected_at": None,
        "configuration_version": 0,
        "configured_at": None,
        "sims_delivered": False,
        "logo_reference": None,
        "delivery": None,
        "password_set": False,
        "ready_for_delivery": False,
    }


def apply_status(row: Row | None, env: Envelope, event: DomainEvent) -> Row:
    row = dict(row or _empty_status(env.integrator_id))
    at = env.occurred_at.isoformat()
    match event:
        case IsmTableReceived():
            row["tables"] = {
                **row["tables"],
                event.table.value: {
                    "version": event.table_version,
                    "rows": len(event.snapshot.rows),
                    "received_at": at,
                },
            }
            row["missing_tables"] = [t for t in ISM_TABLE_NAMES if t not in row["tables"]]
            # A receipt is always followed by a fresh assessment: a rejection, if any, comes next.
            row["errors"], row["rejected_at"] = [], None
        case IsmConfigurationRejected():
            row["errors"] = [e.model_dump(mode="json") for e in event.errors]
            row["rejected_at"] = at
        case IsmConfigured():
            row["configuration_version"] = event.configuration_version
            row["configured_at"] = at
        case SimsDeliveryNoted():
            row["sims_delivered"] = True
        case LogoAcceptanceNoted():
            row["logo_reference"] = event.logo_reference
        case ISMDelivered():
            row["delivery"] = {
                "platform_url": event.platform_url,
                "account_id": event.account_id,
                "configuration_version": event.configuration_version,
                "set_password_token_id": str(event.set_password_token_id),
                "set_password_expires_at": event.set_password_expires_at.isoformat(),
                "delivered_by": event.delivered_by,
                "delivered_at": at,
            }
        case IsmPasswordSet():
            row["password_set"] = True
    row["ready_for_delivery"] = bool(
        row["delivery"] is None
        and row["sims_delivered"]
        and row["configuration_version"] > 0
        and not row["errors"]
        and row["logo_reference"]
    )
    return row


def apply_version(row: Row | None, env: Envelope, event: DomainEvent) -> Row | None:
    if not isinstance(event, IsmConfigured):
        return row
    return {
        "integrator_id": env.integrator_id,
        "configuration_version": event.configuration_version,
        "configured_at": env.occurred_at.isoformat(),
        "offers": event.offers,
        "metropolitan_tariffs": event.metropolitan_tariffs,
        "international_tariffs": event.international_tariffs,
        "terminals": event.terminals,
        "table_versions": {t.value: v for t, v in event.table_versions.items()},
    }


def version_key(integrator_id: str, version: int) -> str:
    # zero-padded so that ordering by key is ordering by version
    return f"{integrator_id}:{version:06d}"


status = Projection(
    name="ism_status",
    handles={
        IsmTableReceived,
        IsmConfigurationRejected,
        IsmConfigured,
        SimsDeliveryNoted,
        LogoAcceptanceNoted,
        ISMDelivered,
        IsmPasswordSet,
    },
    key=lambda env, ev: env.integrator_id,
    apply=apply_status,
    indexes=["((data->'delivery'->>'set_password_token_id'))"],
)

configuration_versions = Projection(
    name="ism_configuration_versions",
    handles={IsmConfigured},
    key=lambda env, ev: (
        version_key(env.integrator_id, ev.configuration_version) if isinstance(ev, IsmConfigured) else None
    ),
    apply=apply_version,
)

PROJECTIONS = [status, configuration_versions]
