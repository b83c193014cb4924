"""The integrator's ISM account: tables received, configuration versions, delivery, password.

One stream per integrator, `ism-<integrator_id>`. Pure: `evolve` folds events into `IsmAccount`;
each command is a function (state, inputs, now) -> events, raising a contracts `Refusal`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from uuid import UUID

from contracts.errors import CommandRefused, OutOfOrder
from contracts.events.common import TABLE_ITEMS, DossierItem, TableSnapshot
from contracts.events.ism_provisioning import (
    IsmConfigurationRejected,
    IsmConfigured,
    ISMDelivered,
    IsmDeliveryWentOverdue,
    IsmEvent,
    IsmPasswordSet,
    IsmTableReceived,
    LogoAcceptanceNoted,
    SimsDeliveryNoted,
)
from ism_provisioning.configuration import Configuration, assess


def stream_id(integrator_id: str) -> str:
    return f"ism-{integrator_id}"


def account_id(integrator_id: str) -> str:
    """The integrator's account on the ISM: one per integrator, stable across re-deliveries."""
    return f"ism-{integrator_id}"


@dataclass(frozen=True)
class Delivery:
    platform_url: str
    account_id: str
    configuration_version: int
    set_password_token_id: UUID
    set_password_expires_at: datetime


@dataclass(frozen=True)
class IsmAccount:
    #: Every accepted version of every table, oldest first (history kept for any configuration).
    tables: dict[DossierItem, tuple[TableSnapshot, ...]] = field(default_factory=dict)
    source_event_ids: frozenset[UUID] = frozenset()
    #: configuration version -> the table versions it was built from.
    configurations: dict[int, dict[DossierItem, int]] = field(default_factory=dict)
    #: True when the latest tables were rejected: a delivery would configure stale tables.
    rejected: bool = False
    sims_delivered: bool = False
    sims_delivered_at: datetime | None = None
    delivery_overdue: bool = False
    logo_reference: str | None = None
    delivery: Delivery | None = None
    password_set: bool = False

    @property
    def configuration_version(self) -> int:
        return max(self.configurations, default=0)

    def current_tables(self) -> dict[DossierItem, TableSnapshot]:
        return {t: versions[-1] for t, versions in self.tables.items()}

    def table_versions(self) -> dict[DossierItem, int]:
        return {t: len(versions) for t, versions in self.tables.items()}

    def configuration(self, version: int | None = None) -> Configuration | None:
        """The configuration of `version` (default: the current one), rebuilt from its tables."""
        version = self.configuration_version if version is None else version
        table_versions = self.configurations.get(version)
        if table_versions is None:
            return None
        return assess({t: self.tables[t][v - 1] for t, v in table_versions.items()}).configuration


def evolve(state: IsmAccount, event: IsmEvent) -> IsmAccount:
    match event:
        case IsmTableReceived():
            versions = state.tables.get(event.table, ())
            return replace(
                state,
                tables={**state.tables, event.table: (*versions, event.snapshot)},
                source_event_ids=state.source_event_ids | {event.source_event_id},
                # Every receipt is followed by a fresh assessment: a rejection, if any, comes next.
                rejected=False,
            )
        case IsmConfigured():
            return replace(
                state,
                configurations={
                    **state.configurations,
                    event.configuration_version: dict(event.table_versions),
                },
                rejected=False,
            )
        case IsmConfigurationRejected():
            return replace(state, rejected=True)
        case SimsDeliveryNoted():
            return replace(
                state,
                sims_delivered=True,
                sims_delivered_at=event.delivered_at,
                source_event_ids=state.source_event_ids | {event.source_event_id},
            )
        case IsmDeliveryWentOverdue():
            return replace(state, delivery_overdue=True)
        case LogoAcceptanceNoted():
            ids = state.source_event_ids
            if event.source_event_id is not None:
                ids = ids | {event.source_event_id}
            return replace(state, logo_reference=event.logo_reference, source_event_ids=ids)
        case ISMDelivered():
            return replace(
                state,
                delivery=Delivery(
                    platform_url=event.platform_url,
                    account_id=event.account_id,
                    configuration_version=event.configuration_version,
                    set_password_token_id=event.set_password_token_id,
                    set_password_expires_at=event.set_password_expires_at,
                ),
            )
        case IsmPasswordSet():
            return replace(state, password_set=True)
    return state


def fold(events: Iterable[IsmEvent]) -> IsmAccount:
    state = IsmAccount()
    for event in events:
        state = evolve(state, event)
    return state


# --- commands ------------------------------------------------------------------------------------


def receive_table(
    state: IsmAccount, table: DossierItem, snapshot: TableSnapshot, source_event_id: UUID
) -> list[IsmEvent]:
    """Record a table accepted in onboarding, then assess the tables as they now stand.

    Each accepted version is a new table version; when the four tables are consistent, it makes a
    new configuration version. A redelivered acceptance (same source event) changes nothing.
    """
    if table not in TABLE_ITEMS:
        raise CommandRefused(f"{table.value} is not an ISM table", field="item")
    if source_event_id in state.source_event_ids:
        return []
    received = IsmTableReceived(
        table=table,
        snapshot=snapshot,
        source_event_id=source_event_id,
        table_version=len(state.tables.get(table, ())) + 1,
    )
    after = evolve(state, received)
    verdict = assess(after.current_tables())
    table_versions = after.table_versions()
    if verdict.errors:
        return [
            received,
            IsmConfigurationRejected(errors=list(verdict.errors), table_versions=table_versions),
        ]
    if verdict.configuration is None:
        return [received]  # consistent so far, tables still missing
    config = verdict.configuration
    return [
        received,
        IsmConfigured(
            configuration_version=state.configuration_version + 1,
            offers=len(config.offers),
            metropolitan_tariffs=len(config.metropolitan_tariffs),
            international_tariffs=len(config.international_tariffs),
            terminals=len(config.terminals),
            table_versions=table_versions,
        ),
    ]


def note_sims_delivery(
    state: IsmAccount, source_event_id: UUID, delivered_at: datetime | None = None
) -> list[IsmEvent]:
    if state.sims_delivered or source_event_id in state.source_event_ids:
        return []
    return [SimsDeliveryNoted(source_event_id=source_event_id, delivered_at=delivered_at)]


def check_delivery_deadline(state: IsmAccount, *, now: datetime, delay: timedelta) -> list[IsmEvent]:
    """What the periodic check records: the ISM overdue once, when it is still not delivered
    `delay` after the SIMs were (the last step before go-live, waiting on the vendor)."""
    if state.delivery is not None or state.delivery_overdue or state.sims_delivered_at is None:
        return []
    due_at = state.sims_delivered_at + delay
    if now < due_at:
        return []
    return [IsmDeliveryWentOverdue(due_at=due_at, detected_at=now)]


def note_logo_acceptance(state: IsmAccount, logo_reference: str, source_event_id: UUID) -> list[IsmEvent]:
    """The latest accepted logo is the one the ISM shows (a new logo replaces the old one)."""
    if source_event_id in state.source_event_ids or logo_reference == state.logo_reference:
        return []
    return [LogoAcceptanceNoted(logo_reference=logo_reference, source_event_id=source_event_id)]


def deliver_ism(
    state: IsmAccount,
    *,
    integrator_id: str,
    platform_base_url: str,
    delivered_by: str,
    set_password_token_id: UUID,
    link_valid_for: timedelta,
    now: datetime,
) -> list[IsmEvent]:
    """Ops hand the configured ISM over to the integrator (seed 000: "Livraison ISM").

    Only once the SIMs are delivered, the four tables make a current configuration and the logo
    (shown on the platform) is accepted. No password: a single-use set-password link, expiring.
    """
    if state.delivery is not None:
        raise OutOfOrder("the ISM is already delivered to this integrator")
    if not state.sims_delivered:
        raise OutOfOrder("the SIMs are not delivered yet: the ISM is delivered after them")
    if state.configuration_version == 0:
        missing = [t.value for t in sorted(TABLE_ITEMS) if t not in state.tables]
        detail = f"missing tables: {', '.join(missing)}" if missing else "the tables are not consistent"
        raise OutOfOrder(f"the ISM is not configured yet ({detail})")
    if state.rejected:
        raise OutOfOrder(
            "the latest tables were rejected: the ISM would be delivered with a stale configuration; "
            "the integrator must send corrected tables first"
        )
    if state.logo_reference is None:
        raise OutOfOrder("the logo is not accepted yet: the ISM shows it")
    account = account_id(integrator_id)
    return [
        ISMDelivered(
            platform_url=f"{platform_base_url.rstrip('/')}/accounts/{account}",
            account_id=account,
            logo_reference=state.logo_reference,
            configuration_version=state.configuration_version,
            set_password_token_id=set_password_token_id,
            set_password_expires_at=now + link_valid_for,
            delivered_by=delivered_by,
        )
    ]


def set_password(state: IsmAccount, *, token_id: UUID, now: datetime) -> list[IsmEvent]:
    """Consume the set-password link: once, before it expires, and only the link of the delivery.

    The caller has already checked the token's signature; this checks what only the log knows.
    """
    delivery = state.delivery
    if delivery is None or delivery.set_password_token_id != token_id:
        raise CommandRefused("this set-password link is not valid for this ISM account", field="token")
    if state.password_set:
        raise OutOfOrder("this set-password link was already used", field="token")
    if now >= delivery.set_password_expires_at:
        raise CommandRefused("this set-password link has expired", field="token")
    return [IsmPasswordSet(set_password_token_id=token_id)]
