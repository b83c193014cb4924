"""The ISM account: given past events, when a command, then new events (or a refusal)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from contracts.errors import CommandRefused, OutOfOrder
from contracts.events.common import DossierItem, TableSnapshot
from contracts.events.ism_provisioning import (
    IsmConfigurationRejected,
    IsmConfigured,
    ISMDelivered,
    IsmPasswordSet,
    IsmTableReceived,
    LogoAcceptanceNoted,
    SimsDeliveryNoted,
)
from ism_provisioning import domain
from ism_provisioning.domain import fold

from .samples import GOOD_FILES, good_tables, sample

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
LOGO = "a" * 64
TOKEN = UUID("00000000-0000-4000-8000-000000000001")


def received(table: DossierItem, snapshot: TableSnapshot, version: int = 1) -> IsmTableReceived:
    return IsmTableReceived(table=table, snapshot=snapshot, source_event_id=uuid4(), table_version=version)


def configured_history():
    tables = good_tables()
    history = [received(t, s) for t, s in tables.items()]
    history.append(
        IsmConfigured(
            configuration_version=1,
            offers=3,
            metropolitan_tariffs=4,
            international_tariffs=6,
            terminals=3,
            table_versions=dict.fromkeys(tables, 1),
        )
    )
    return history


def ready_for_delivery():
    return [
        *configured_history(),
        SimsDeliveryNoted(source_event_id=uuid4()),
        LogoAcceptanceNoted(logo_reference=LOGO, source_event_id=uuid4()),
    ]


def deliver(history, now=NOW):
    return domain.deliver_ism(
        fold(history),
        integrator_id="acme",
        platform_base_url="https://ism.example.invalid/",
        delivered_by="ops-1",
        set_password_token_id=TOKEN,
        link_valid_for=timedelta(hours=72),
        now=now,
    )


# --- tables and configuration versions -----------------------------------------------------------


def test_a_first_table_is_recorded_and_nothing_is_configured_yet():
    source = uuid4()
    events = domain.receive_table(fold([]), DossierItem.OFFERS_TABLE, sample("offers.csv"), source)
    assert events == [
        IsmTableReceived(
            table=DossierItem.OFFERS_TABLE,
            snapshot=sample("offers.csv"),
            source_event_id=source,
            table_version=1,
        )
    ]


def test_the_fourth_consistent_table_configures_the_ism():
    tables = good_tables()
    history = [received(t, s) for t, s in tables.items() if t is not DossierItem.TERMINALS_TABLE]
    events = domain.receive_table(
        fold(history), DossierItem.TERMINALS_TABLE, tables[DossierItem.TERMINALS_TABLE], uuid4()
    )
    assert isinstance(events[0], IsmTableReceived)
    assert events[1] == IsmConfigured(
        configuration_version=1,
        offers=3,
        metropolitan_tariffs=4,
        international_tariffs=6,
        terminals=3,
        table_versions=dict.fromkeys(GOOD_FILES, 1),
    )


def test_a_new_version_of_a_table_makes_a_new_configuration_version_and_keeps_the_old_one():
    history = configured_history()
    terminals = TableSnapshot(columns=["brand", "model", "price_eur"], rows=[["Nokia", "3310", "59.90"]])
    events = domain.receive_table(fold(history), DossierItem.TERMINALS_TABLE, terminals, uuid4())
    assert events[0].table_version == 2
    assert (events[1].configuration_version, events[1].terminals) == (2, 1)
    assert events[1].table_versions[DossierItem.TERMINALS_TABLE] == 2
    state = fold([*history, *events])
    assert len(state.configuration(1).terminals) == 3
    assert state.configuration().terminals[0].model == "3310"


def test_a_bad_table_is_rejected_with_its_errors_even_before_the_others_arrive():
    events = domain.receive_table(fold([]), DossierItem.OFFERS_TABLE, sample("offers_bad.csv"), uuid4())
    rejected = events[1]
    assert isinstance(rejected, IsmConfigurationRejected)
    assert {(e.row, e.column) for e in rejected.errors} >= {(3, "code"), (4, "monthly_price_eur")}
    assert rejected.table_versions == {DossierItem.OFFERS_TABLE: 1}


def test_a_new_table_that_breaks_a_cross_check_is_rejected_and_the_configuration_stays_at_its_version():
    history = configured_history()
    international = TableSnapshot(
        columns=["zone", "destination", "voice_per_minute_eur", "sms_eur", "data_per_mb_eur"],
        rows=[["EU", "Espagne", "0.15", "0.10", "0.05"]],
    )
    events = domain.receive_table(fold(history), DossierItem.TARIFFS_INTERNATIONAL, international, uuid4())
    assert [type(e) for e in events] == [IsmTableReceived, IsmConfigurationRejected]
    assert [(e.row, e.column) for e in events[1].errors] == [(4, "zones")]
    assert fold([*history, *events]).configuration_version == 1


def test_the_same_acceptance_delivered_twice_is_recorded_once():
    source = uuid4()
    first = domain.receive_table(fold([]), DossierItem.OFFERS_TABLE, sample("offers.csv"), source)
    assert domain.receive_table(fold(first), DossierItem.OFFERS_TABLE, sample("offers.csv"), source) == []


def test_a_dossier_item_that_is_not_a_table_is_refused():
    with pytest.raises(CommandRefused):
        domain.receive_table(fold([]), DossierItem.LOGO, sample("offers.csv"), uuid4())


# --- what the ISM learns from other services -----------------------------------------------------


def test_sims_delivery_is_noted_once():
    source = uuid4()
    events = domain.note_sims_delivery(fold([]), source)
    assert events == [SimsDeliveryNoted(source_event_id=source)]
    assert domain.note_sims_delivery(fold(events), uuid4()) == []


def test_the_latest_accepted_logo_is_the_one_noted():
    first = domain.note_logo_acceptance(fold([]), LOGO, uuid4())
    assert domain.note_logo_acceptance(fold(first), LOGO, uuid4()) == []
    again = domain.note_logo_acceptance(fold(first), "b" * 64, uuid4())
    assert fold([*first, *again]).logo_reference == "b" * 64


# --- delivery ------------------------------------------------------------------------------------


def test_ops_deliver_the_ism_with_a_set_password_link_and_no_password():
    [delivered] = deliver(ready_for_delivery())
    assert delivered == ISMDelivered(
        platform_url="https://ism.example.invalid/accounts/ism-acme",
        account_id="ism-acme",
        logo_reference=LOGO,
        configuration_version=1,
        set_password_token_id=TOKEN,
        set_password_expires_at=NOW + timedelta(hours=72),
        delivered_by="ops-1",
    )
    assert "password" not in {k for k in delivered.model_dump() if not k.startswith("set_password")}


@pytest.mark.parametrize(
    ("leave_out", "why"),
    [
        (SimsDeliveryNoted, "SIMs are not delivered"),
        (IsmConfigured, "not configured yet"),
        (LogoAcceptanceNoted, "logo is not accepted"),
    ],
)
def test_the_ism_is_not_delivered_before_its_conditions_hold(leave_out, why):
    history = [e for e in ready_for_delivery() if not isinstance(e, leave_out)]
    with pytest.raises(OutOfOrder, match=why):
        deliver(history)


def test_the_ism_is_not_delivered_while_the_latest_tables_are_rejected():
    history = [*ready_for_delivery(), IsmConfigurationRejected(errors=[])]
    with pytest.raises(OutOfOrder, match="rejected"):
        deliver(history)


def test_the_ism_is_delivered_once():
    history = [*ready_for_delivery(), *deliver(ready_for_delivery())]
    with pytest.raises(OutOfOrder, match="already delivered"):
        deliver(history)


def test_without_tables_the_refusal_names_the_missing_ones():
    with pytest.raises(OutOfOrder, match="missing tables: offers_table"):
        deliver([SimsDeliveryNoted(source_event_id=uuid4())])


# --- the set-password link -----------------------------------------------------------------------


def delivered_history():
    return [*ready_for_delivery(), *deliver(ready_for_delivery())]


def test_the_set_password_link_sets_the_password_once():
    history = delivered_history()
    events = domain.set_password(fold(history), token_id=TOKEN, now=NOW + timedelta(hours=1))
    assert events == [IsmPasswordSet(set_password_token_id=TOKEN)]
    with pytest.raises(OutOfOrder, match="already used"):
        domain.set_password(fold([*history, *events]), token_id=TOKEN, now=NOW + timedelta(hours=2))


def test_an_expired_set_password_link_is_refused():
    with pytest.raises(CommandRefused, match="expired"):
        domain.set_password(fold(delivered_history()), token_id=TOKEN, now=NOW + timedelta(hours=72))


def test_a_link_of_another_delivery_or_before_delivery_is_refused():
    with pytest.raises(CommandRefused, match="not valid"):
        domain.set_password(fold(delivered_history()), token_id=uuid4(), now=NOW)
    with pytest.raises(CommandRefused, match="not valid"):
        domain.set_password(fold(ready_for_delivery()), token_id=TOKEN, now=NOW)
