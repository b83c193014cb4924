"""The ISM read models as pure folds: given recorded events, then the row ops and the integrator see."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from contracts.envelope import Envelope
from contracts.events.common import DossierItem, TableSnapshot
from contracts.events.ism_provisioning import (
    IsmConfigurationRejected,
    IsmConfigured,
    IsmTableReceived,
    LogoAcceptanceNoted,
    SimsDeliveryNoted,
    TableError,
)
from ism_provisioning.projections import apply_status, apply_version

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TERMINALS = TableSnapshot(columns=["brand", "model", "price_eur"], rows=[["Nokia", "3310", "59.90"]])


def envelope(event) -> Envelope:
    return Envelope(
        event_id=uuid4(),
        event_type=event.event_type,
        schema_version=1,
        occurred_at=AT,
        producer="ism-provisioning",
        stream_id="ism-acme",
        stream_version=1,
        integrator_id="acme",
        correlation_id=uuid4(),
        payload=event.model_dump(mode="json"),
    )


def fold_status(events):
    row = None
    for event in events:
        row = apply_status(row, envelope(event), event)
    return row


def received(table):
    return IsmTableReceived(table=table, snapshot=TERMINALS, source_event_id=uuid4())


def test_the_errors_of_a_rejection_are_shown_until_the_next_table_arrives():
    rejection = IsmConfigurationRejected(
        errors=[TableError(table=DossierItem.OFFERS_TABLE, row=3, column="code", reason="duplicate 'ESS-5'")]
    )
    row = fold_status([received(DossierItem.OFFERS_TABLE), rejection])
    assert row["errors"] == [
        {"table": "offers_table", "row": 3, "column": "code", "reason": "duplicate 'ESS-5'"}
    ]
    assert row["missing_tables"] == ["tariffs_metropolitan", "tariffs_international", "terminals_table"]
    row = fold_status([received(DossierItem.OFFERS_TABLE), rejection, received(DossierItem.OFFERS_TABLE)])
    assert row["errors"] == []
    assert row["tables"]["offers_table"]["rows"] == 1


def test_ready_for_delivery_once_configured_sims_delivered_and_logo_accepted():
    configured = IsmConfigured(
        configuration_version=1, offers=1, metropolitan_tariffs=3, international_tariffs=1, terminals=1
    )
    row = fold_status([configured, SimsDeliveryNoted(source_event_id=uuid4())])
    assert row["ready_for_delivery"] is False
    row = fold_status(
        [configured, SimsDeliveryNoted(source_event_id=uuid4()), LogoAcceptanceNoted(logo_reference="f" * 64)]
    )
    assert row["ready_for_delivery"] is True


def test_a_configuration_version_row_names_the_table_versions_it_was_built_from():
    configured = IsmConfigured(
        configuration_version=2,
        offers=3,
        metropolitan_tariffs=4,
        international_tariffs=6,
        terminals=1,
        table_versions={DossierItem.OFFERS_TABLE: 1, DossierItem.TERMINALS_TABLE: 2},
    )
    row = apply_version(None, envelope(configured), configured)
    assert row["configuration_version"] == 2
    assert row["table_versions"] == {"offers_table": 1, "terminals_table": 2}
    assert row["configured_at"] == AT.isoformat()
