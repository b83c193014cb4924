"""Events of the ism-provisioning service: the provisioning platform (ISM) configured and delivered.

How the tables reach this service: onboarding's `DossierItemAccepted` carries the parsed rows of the
four tabular items as a `TableSnapshot` (strings; onboarding parsed the CSV/XLSX). ism-provisioning
records them as its own `IsmTableReceived`, so it rebuilds everything from its own log and needs no
shared file store. The columns each table must have are published below (`ISM_TABLE_COLUMNS`), so
onboarding can check them on submission with the same names the ISM configures from.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field

from contracts.events.base import DomainEvent
from contracts.events.common import DossierItem, Frozen, TableSnapshot

#: Columns of each ISM table (lower case; extra columns such as `comment` are tolerated).
#: Prices are plain decimals in euros (`19.99` or `19,99`, at most 4 decimals); allowances are whole
#: numbers (GB: decimal) or `unlimited`/`illimité`; `zones` lists international zone codes, `;`-separated.
ISM_TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    DossierItem.OFFERS_TABLE.value: (
        "code",
        "name",
        "monthly_price_eur",
        "data_gb",
        "voice_minutes",
        "sms",
        "zones",
    ),
    DossierItem.TARIFFS_METROPOLITAN.value: ("code", "label", "unit", "price_eur"),
    DossierItem.TARIFFS_INTERNATIONAL.value: (
        "zone",
        "destination",
        "voice_per_minute_eur",
        "sms_eur",
        "data_per_mb_eur",
    ),
    DossierItem.TERMINALS_TABLE.value: ("brand", "model", "price_eur"),
}

#: The `purpose` the set-password link token is signed with (chassis.links), by ism-provisioning
#: and by the notifier that mails the link: both must use the same string.
SET_PASSWORD_LINK_PURPOSE = "ism-set-password"  # noqa: S105 (a label, not a secret)


class IsmEvent(DomainEvent):
    producer: ClassVar[str] = "ism-provisioning"


class TableError(Frozen):
    """Not an event: kept here so the error shape is part of the published language."""

    table: DossierItem
    #: As in the integrator's spreadsheet: the header is row 1. None: the whole table.
    row: int | None = None
    column: str | None = None
    reason: str


class IsmTableReceived(IsmEvent):
    """An accepted dossier table, recorded from onboarding's DossierItemAccepted."""

    table: DossierItem
    snapshot: TableSnapshot
    source_event_id: UUID
    #: 1 for the first accepted version of this table, then 2, 3...: configurations cite it.
    table_version: int = Field(default=1, ge=1)


class IsmConfigurationRejected(IsmEvent):
    """The tables as they stand do not make a consistent configuration.

    Raised as soon as a received table has errors (the integrator need not wait for the other
    tables to learn what to fix); the last one is shown to ops and the integrator until fixed.
    """

    errors: list[TableError]
    #: The version of each table that was assessed (tables not yet received are absent).
    table_versions: dict[DossierItem, int] = Field(default_factory=dict)


class IsmConfigured(IsmEvent):
    """All four tables are present and consistent: a new configuration version, history kept."""

    configuration_version: int = Field(ge=1)
    offers: int = Field(ge=0)
    metropolitan_tariffs: int = Field(ge=0)
    international_tariffs: int = Field(ge=0)
    terminals: int = Field(ge=0)
    #: Which version of each table this configuration was built from (see IsmTableReceived).
    table_versions: dict[DossierItem, int] = Field(default_factory=dict)


class SimsDeliveryNoted(IsmEvent):
    """ism-provisioning learnt from sim-logistics that the SIMs were delivered."""

    source_event_id: UUID
    #: When sim-logistics recorded the delivery: the ISM's own deadline runs from it.
    delivered_at: AwareDatetime | None = None


class IsmDeliveryWentOverdue(IsmEvent):
    """The ISM is still not delivered `due_at` after the SIMs were (ism-provisioning's delay setting).
    Raised once; ops and the integrator are told."""

    due_at: AwareDatetime
    detected_at: AwareDatetime


class LogoAcceptanceNoted(IsmEvent):
    """ism-provisioning learnt from onboarding that the logo was accepted (shown on the platform).

    `logo_reference` is the sha256 of the logo's FileRef.
    """

    logo_reference: str
    source_event_id: UUID | None = None


class ISMDelivered(IsmEvent):
    """The ISM is delivered. No password: a single-use set-password link is mailed instead.

    `set_password_token_id` is not a secret: the link's token is signed from it by whoever holds
    the link-signing key, and only the holder of the token can use it, once, before `expires_at`.
    """

    platform_url: str
    account_id: str
    logo_reference: str
    configuration_version: int
    set_password_token_id: UUID
    set_password_expires_at: AwareDatetime
    delivered_by: str


class IsmPasswordSet(IsmEvent):
    """The integrator chose its ISM password through the set-password link (used once).

    The password itself never enters an event: only a salted hash is kept, outside the log.
    """

    set_password_token_id: UUID
