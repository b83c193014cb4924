"""The SIM process: given past events, when a command, then new events (or a refusal)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chassis.business_hours import french_holidays, within_business_hours
from contracts.errors import CommandRefused, OutOfOrder
from contracts.events.sim_logistics import (
    ArtworkAcceptanceNoted,
    DeliveryNoteSent,
    ProductionOrdered,
    ProductionStarted,
    SimsDelivered,
    SimsReceptionConfirmed,
    SimsRejected,
    SimsValidated,
    StepWentOverdue,
    TestSimsReceived,
    TestSimsShipped,
    TestSimsStepOpened,
    ValidationCallBooked,
)
from sim_logistics import domain
from sim_logistics.domain import Step, fold, luhn_check_digit

#: Monday 5 January 2026, 10:00 in Paris.
PROFILE_CREATED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
STEP_2_DUE = PROFILE_CREATED + timedelta(days=14)
#: Wednesday 7 January 2026, 10:00 in Paris: within support hours.
CALL_AT = datetime(2026, 1, 7, 9, 0, tzinfo=UTC)
ARTWORK = "a" * 64


def iccid(serial: int, prefix: str = "893301234567") -> str:
    body = f"{prefix}{serial:07d}"  # 19 digits, then the check digit: 20
    return body + luhn_check_digit(body)


SIM_A, SIM_B, SIM_C, SIM_D = iccid(1), iccid(2), iccid(3), iccid(4)


def opened() -> list:
    return [TestSimsStepOpened(profile_reference="EP-ACME-1", due_at=STEP_2_DUE)]


def shipped(iccids=(SIM_A, SIM_B)) -> list:
    return [
        *opened(),
        TestSimsShipped(
            iccids=list(iccids),
            carrier="Chronopost",
            tracking_number="XY123",
            profile_reference="EP-ACME-1",
            shipped_by="ops-anne",
        ),
    ]


def received() -> list:
    return [*shipped(), TestSimsReceived(confirmed_by="integrator-bob")]


def booked(at: datetime = CALL_AT) -> list:
    return [
        *received(),
        ValidationCallBooked(starts_at=at, duration_minutes=30, phone="+33 1 70 61 81 81", booked_by="bob"),
    ]


def validated() -> list:
    return [
        *booked(),
        SimsValidated(validated_by="ops-anne"),
        ArtworkAcceptanceNoted(artwork_reference=ARTWORK),
    ]


ORDERED_AT = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
STEP_3_DUE = ORDERED_AT + timedelta(weeks=4)


def ordered(quantity: int = 1000) -> list:
    return [
        *validated(),
        ProductionOrdered(
            quantity=quantity,
            delivery_address="1 rue de la Paix, 75002 Paris",
            artwork_reference=ARTWORK,
            due_at=STEP_3_DUE,
            ordered_by="bob",
        ),
    ]


def started() -> list:
    return [*ordered(), ProductionStarted(started_by="ops-anne")]


def delivered() -> list:
    return [
        *started(),
        SimsDelivered(
            quantity=1000,
            iccid_first=iccid(1000),
            iccid_last=iccid(1999),
            delivery_note_number="BL-42",
            delivered_by="ops-anne",
        ),
    ]


def refused(kind: type[Exception], command, *args, **kwargs):
    with pytest.raises(kind) as caught:
        command(*args, **kwargs)
    return caught.value


# --- ICCIDs and support hours ---------------------------------------------------------------------


def test_an_iccid_has_19_or_20_digits_and_a_valid_luhn_check_digit() -> None:
    assert domain.check_iccid(SIM_A, field="x") == SIM_A
    nineteen = "893301234567000001"
    nineteen += luhn_check_digit(nineteen)
    assert domain.check_iccid(nineteen, field="x") == nineteen
    assert (
        refused(
            CommandRefused, domain.check_iccid, SIM_A[:-1] + str((int(SIM_A[-1]) + 1) % 10), field="x"
        ).code
        == "iccid_luhn"
    )
    assert refused(CommandRefused, domain.check_iccid, "89330123", field="x").code == "iccid_format"
    assert refused(CommandRefused, domain.check_iccid, SIM_A + "0", field="x").code == "iccid_format"
    assert (
        refused(CommandRefused, domain.check_iccid, "8933O1234567000001X", field="iccids.0").field
        == "iccids.0"
    )


def test_the_luhn_check_digit_of_the_textbook_example() -> None:
    assert luhn_check_digit("7992739871") == "3"


@pytest.mark.parametrize(
    ("paris_time", "minutes", "inside"),
    [
        ("2026-01-07T09:00", 30, True),
        ("2026-01-07T11:30", 30, True),
        ("2026-01-07T11:45", 30, False),  # runs over the lunch break
        ("2026-01-07T08:45", 30, False),
        ("2026-01-07T12:30", 30, False),
        ("2026-01-07T14:00", 240, True),
        ("2026-01-07T17:45", 15, True),
        ("2026-01-07T17:50", 15, False),
        ("2026-01-10T10:00", 30, False),  # Saturday
        ("2026-01-11T10:00", 30, False),  # Sunday
        ("2026-07-07T09:00", 30, True),  # summer time: 07:00 UTC
        ("2026-07-14T10:00", 30, False),  # Tuesday, but Bastille Day
        ("2026-04-06T10:00", 30, False),  # Easter Monday
    ],
)
def test_support_hours_are_paris_working_hours(paris_time: str, minutes: int, inside: bool) -> None:
    from zoneinfo import ZoneInfo

    at = datetime.fromisoformat(paris_time).replace(tzinfo=ZoneInfo("Europe/Paris")).astimezone(UTC)
    assert in_support_hours(at, timedelta(minutes=minutes)) is inside


def in_support_hours(starts_at: datetime, duration: timedelta) -> bool:
    return within_business_hours(starts_at, duration, french_holidays())


def test_an_iccid_range_counts_its_cards() -> None:
    assert domain.cards_in_range(iccid(1000), iccid(1999)) == 1000
    assert domain.cards_in_range(iccid(5), iccid(5)) == 1
    assert refused(CommandRefused, domain.cards_in_range, iccid(9), iccid(5)).field == "iccid_last"


# --- step 2 opens ---------------------------------------------------------------------------------


def test_the_electrical_profile_created_opens_step_2_due_two_weeks_later() -> None:
    events = domain.open_test_sims_step(
        fold([]), profile_reference="EP-ACME-1", profile_created_at=PROFILE_CREATED
    )
    assert events == [TestSimsStepOpened(profile_reference="EP-ACME-1", due_at=STEP_2_DUE)]
    state = fold(events)
    assert state.open_step is Step.TEST_SIMS and state.due_at[Step.TEST_SIMS] == STEP_2_DUE


def test_a_second_profile_creation_keeps_the_first_deadline() -> None:
    later = PROFILE_CREATED + timedelta(days=3)
    assert (
        domain.open_test_sims_step(fold(opened()), profile_reference="EP-2", profile_created_at=later) == []
    )


def test_the_accepted_artwork_is_noted_once_even_before_step_2() -> None:
    assert domain.note_artwork_acceptance(fold([]), artwork_reference=ARTWORK) == [
        ArtworkAcceptanceNoted(artwork_reference=ARTWORK)
    ]
    noted = [ArtworkAcceptanceNoted(artwork_reference=ARTWORK)]
    assert domain.note_artwork_acceptance(fold(noted), artwork_reference=ARTWORK) == []
    assert domain.note_artwork_acceptance(fold(noted), artwork_reference="b" * 64) == [
        ArtworkAcceptanceNoted(artwork_reference="b" * 64)
    ]


# --- shipping test SIMs ---------------------------------------------------------------------------


def ship(history, iccids=(SIM_A, SIM_B), carrier="Chronopost", tracking="XY123"):
    return domain.ship_test_sims(
        fold(history), iccids=list(iccids), carrier=carrier, tracking_number=tracking, shipped_by="ops-anne"
    )


def test_ops_ship_two_test_sims_built_on_the_profile() -> None:
    assert ship(opened()) == shipped()[1:]


def test_no_test_sims_before_the_profile_exists() -> None:
    assert refused(OutOfOrder, ship, []).code == "step_not_open"
    assert (
        refused(OutOfOrder, ship, [ArtworkAcceptanceNoted(artwork_reference=ARTWORK)]).code == "step_not_open"
    )


@pytest.mark.parametrize(
    ("iccids", "field"),
    [
        ((SIM_A,), "iccids"),
        ((SIM_A, SIM_B, SIM_C), "iccids"),
        ((SIM_A, SIM_A), "iccids.1"),
        ((SIM_A, "1234"), "iccids.1"),
        ((SIM_A[:-1] + ("0" if SIM_A[-1] != "0" else "1"), SIM_B), "iccids.0"),
    ],
)
def test_test_sims_are_exactly_two_valid_distinct_iccids(iccids, field) -> None:
    assert refused(CommandRefused, ship, opened(), iccids=iccids).field == field


def test_a_shipment_names_its_carrier_and_tracking_number() -> None:
    assert refused(CommandRefused, ship, opened(), carrier="  ").field == "carrier"
    assert refused(CommandRefused, ship, opened(), tracking=" ").field == "tracking_number"


def test_no_second_shipment_while_the_first_is_not_rejected() -> None:
    assert refused(OutOfOrder, ship, shipped(), iccids=(SIM_C, SIM_D)).code == "test_sims_outstanding"
    assert refused(OutOfOrder, ship, booked(), iccids=(SIM_C, SIM_D)).code == "test_sims_outstanding"


def rejected() -> list:
    return [*booked(), SimsRejected(reason="no network attach on SIM 2", rejected_by="ops-anne")]


def test_after_a_rejection_new_test_sims_go_out_as_other_cards() -> None:
    assert ship(rejected(), iccids=(SIM_C, SIM_D))[0].iccids == [SIM_C, SIM_D]
    assert refused(CommandRefused, ship, rejected(), iccids=(SIM_A, SIM_C)).field == "iccids"


def test_no_shipment_after_validation() -> None:
    assert refused(OutOfOrder, ship, validated(), iccids=(SIM_C, SIM_D)).code == "sims_already_validated"


# --- reception and the validation call ------------------------------------------------------------


def test_the_integrator_confirms_receiving_the_test_sims_once() -> None:
    assert domain.confirm_test_sims_reception(fold(shipped()), confirmed_by="integrator-bob") == [
        TestSimsReceived(confirmed_by="integrator-bob")
    ]
    assert refused(
        OutOfOrder, domain.confirm_test_sims_reception, fold(received()), confirmed_by="x"
    ).code == ("already_received")
    assert refused(OutOfOrder, domain.confirm_test_sims_reception, fold(opened()), confirmed_by="x").code == (
        "test_sims_not_shipped"
    )
    assert refused(
        OutOfOrder, domain.confirm_test_sims_reception, fold(rejected()), confirmed_by="x"
    ).code == ("test_sims_rejected")


def book(
    history, at=CALL_AT, minutes=30, phone="+33 1 70 61 81 81", now=PROFILE_CREATED + timedelta(hours=2)
):
    return domain.book_validation_call(
        fold(history),
        starts_at=at,
        duration_minutes=minutes,
        phone=phone,
        booked_by="bob",
        now=now,
        in_support_hours=in_support_hours,
    )


def test_the_validation_call_is_booked_within_support_hours() -> None:
    assert book(received()) == [
        ValidationCallBooked(
            starts_at=CALL_AT, duration_minutes=30, phone="+33 1 70 61 81 81", booked_by="bob"
        )
    ]


def test_booking_again_is_a_reschedule() -> None:
    later = CALL_AT + timedelta(days=1, hours=5)  # Thursday 15:00 in Paris
    [event] = book(booked(), at=later)
    assert event.rescheduled is True and event.starts_at == later


def test_a_missed_call_can_be_rescheduled_after_its_time() -> None:
    [event] = book(booked(), at=CALL_AT + timedelta(days=1), now=CALL_AT + timedelta(hours=2))
    assert event.rescheduled


def test_no_call_before_the_test_sims_are_received() -> None:
    assert refused(OutOfOrder, book, shipped()).code == "test_sims_not_received"
    assert refused(OutOfOrder, book, opened()).code == "test_sims_not_shipped"


@pytest.mark.parametrize(
    ("at", "minutes", "phone", "field"),
    [
        (CALL_AT.replace(hour=11, minute=45), 30, "+33 1 70 61 81 81", "starts_at"),  # 12:45 in Paris
        (CALL_AT + timedelta(days=3), 30, "+33 1 70 61 81 81", "starts_at"),  # Saturday
        (PROFILE_CREATED, 30, "+33 1 70 61 81 81", "starts_at"),  # in the past
        (CALL_AT + timedelta(days=364), 30, "+33 1 70 61 81 81", "starts_at"),  # absurdly far
        (CALL_AT, 2, "+33 1 70 61 81 81", "duration_minutes"),
        (CALL_AT, 30, "call me", "phone"),
    ],
)
def test_a_booking_is_refused_with_the_field_named(at, minutes, phone, field) -> None:
    assert refused(CommandRefused, book, received(), at=at, minutes=minutes, phone=phone).field == field


def test_after_the_call_ops_validate_the_test_sims() -> None:
    after = CALL_AT + timedelta(minutes=30)
    assert domain.validate_sims(fold(booked()), validated_by="ops-anne", now=after) == [
        SimsValidated(validated_by="ops-anne", late_by_seconds=0)
    ]


def test_validation_past_the_step_2_deadline_records_how_late() -> None:
    [event] = domain.validate_sims(fold(booked()), validated_by="ops", now=STEP_2_DUE + timedelta(hours=3))
    assert event.late_by_seconds == 3 * 3600


def test_no_outcome_before_reception_booking_or_the_call_itself() -> None:
    now = CALL_AT + timedelta(hours=1)
    assert refused(OutOfOrder, domain.validate_sims, fold(shipped()), validated_by="o", now=now).code == (
        "test_sims_not_received"
    )
    assert refused(OutOfOrder, domain.validate_sims, fold(received()), validated_by="o", now=now).code == (
        "call_not_booked"
    )
    too_early = CALL_AT - timedelta(hours=1)
    assert refused(
        OutOfOrder, domain.validate_sims, fold(booked()), validated_by="o", now=too_early
    ).code == ("call_not_held")
    assert (
        refused(OutOfOrder, domain.reject_sims, fold(received()), reason="bad", rejected_by="o", now=now).code
        == "call_not_booked"
    )
    assert refused(OutOfOrder, domain.validate_sims, fold(validated()), validated_by="o", now=now).code == (
        "sims_already_validated"
    )
    assert refused(OutOfOrder, domain.validate_sims, fold(rejected()), validated_by="o", now=now).code == (
        "test_sims_rejected"
    )


def test_a_rejection_gives_its_reason() -> None:
    now = CALL_AT + timedelta(hours=1)
    assert domain.reject_sims(fold(booked()), reason=" no data session ", rejected_by="ops", now=now) == [
        SimsRejected(reason="no data session", rejected_by="ops")
    ]
    assert refused(
        CommandRefused, domain.reject_sims, fold(booked()), reason="  ", rejected_by="o", now=now
    ).field == ("reason")


def test_after_a_rejection_the_second_pair_goes_through_to_validation() -> None:
    history = [*rejected(), *ship(rejected(), iccids=(SIM_C, SIM_D))]
    history += domain.confirm_test_sims_reception(fold(history), confirmed_by="bob")
    second_call = CALL_AT + timedelta(days=2)
    [booking] = book(history, at=second_call, now=CALL_AT + timedelta(hours=2))
    assert booking.rescheduled is False  # a new pair's call, not a reschedule of the first
    history.append(booking)
    assert domain.validate_sims(fold(history), validated_by="o", now=second_call + timedelta(hours=1))


# --- the production order -------------------------------------------------------------------------


def order(history, quantity=1000, address="1 rue de la Paix, 75002 Paris", artwork=ARTWORK, now=ORDERED_AT):
    return domain.order_production(
        fold(history),
        quantity=quantity,
        delivery_address=address,
        artwork_reference=artwork,
        ordered_by="bob",
        now=now,
    )


def test_the_production_order_closes_step_2_and_is_due_four_weeks_later() -> None:
    assert order(validated()) == ordered()[-1:]
    state = fold(ordered())
    assert state.open_step is Step.PRODUCTION and state.due_at[Step.PRODUCTION] == STEP_3_DUE


def test_a_late_production_order_records_how_late_step_2_was() -> None:
    [event] = order(validated(), now=STEP_2_DUE + timedelta(days=1))
    assert event.late_by_seconds == 86400
    assert event.due_at == STEP_2_DUE + timedelta(days=1, weeks=4)


def test_the_order_names_the_artwork_accepted_in_the_dossier() -> None:
    assert refused(CommandRefused, order, validated(), artwork="b" * 64).field == "artwork_reference"
    without_artwork = [e for e in validated() if not isinstance(e, ArtworkAcceptanceNoted)]
    error = refused(OutOfOrder, order, without_artwork)
    assert (error.field, error.code) == ("artwork_reference", "artwork_not_accepted")
    # a newer accepted artwork replaces the older one
    newer = [*validated(), ArtworkAcceptanceNoted(artwork_reference="c" * 64)]
    assert refused(CommandRefused, order, newer).field == "artwork_reference"
    assert order(newer, artwork="c" * 64)[0].artwork_reference == "c" * 64


def test_no_order_before_validation_and_no_second_order() -> None:
    assert refused(OutOfOrder, order, booked()).code == "sims_not_validated"
    assert refused(OutOfOrder, order, []).code == "step_not_open"
    assert refused(OutOfOrder, order, ordered()).code == "already_ordered"


def test_an_order_has_a_quantity_and_an_address() -> None:
    assert refused(CommandRefused, order, validated(), quantity=0).field == "quantity"
    assert refused(CommandRefused, order, validated(), address=" ").field == "delivery_address"


# --- step 3 ---------------------------------------------------------------------------------------


def test_production_starts_once_after_the_order() -> None:
    assert domain.start_production(fold(ordered()), started_by="ops-anne") == [
        ProductionStarted(started_by="ops-anne")
    ]
    assert (
        refused(OutOfOrder, domain.start_production, fold(validated()), started_by="o").code == "not_ordered"
    )
    assert (
        refused(OutOfOrder, domain.start_production, fold(started()), started_by="o").code
        == "already_started"
    )


def deliver(history, quantity=1000, first=None, last=None, note="BL-42", now=ORDERED_AT + timedelta(days=20)):
    return domain.deliver_sims(
        fold(history),
        quantity=quantity,
        iccid_first=first or iccid(1000),
        iccid_last=last or iccid(1999),
        delivery_note_number=note,
        delivered_by="ops-anne",
        now=now,
    )


def test_the_ordered_sims_are_delivered_as_a_range_of_iccids() -> None:
    assert deliver(started()) == delivered()[-1:]
    assert fold(delivered()).open_step is None


def test_a_late_delivery_records_how_late_step_3_was() -> None:
    [event] = deliver(started(), now=STEP_3_DUE + timedelta(minutes=5))
    assert event.late_by_seconds == 300


def test_no_delivery_before_production_nor_twice() -> None:
    assert refused(OutOfOrder, deliver, ordered()).code == "production_not_started"
    assert refused(OutOfOrder, deliver, validated()).code == "not_ordered"
    assert refused(OutOfOrder, deliver, delivered()).code == "already_delivered"


def test_a_delivery_matches_the_order_and_its_iccid_range() -> None:
    assert refused(CommandRefused, deliver, started(), quantity=999).field == "quantity"
    assert refused(CommandRefused, deliver, started(), last=iccid(1998)).field == "iccid_last"
    assert refused(CommandRefused, deliver, started(), first="123").field == "iccid_first"
    assert refused(CommandRefused, deliver, started(), note=" ").field == "delivery_note_number"


def test_the_delivery_note_goes_with_the_tariff_grid_once() -> None:
    state = fold(delivered())
    assert domain.send_delivery_note(
        state, delivery_note_number="BL-42", tariff_grid_reference="grid-2026-01", sent_by="ops"
    ) == [DeliveryNoteSent(delivery_note_number="BL-42", tariff_grid_reference="grid-2026-01", sent_by="ops")]
    assert (
        refused(
            CommandRefused,
            domain.send_delivery_note,
            state,
            delivery_note_number="BL-1",
            tariff_grid_reference="g",
            sent_by="o",
        ).field
        == "delivery_note_number"
    )
    assert (
        refused(
            CommandRefused,
            domain.send_delivery_note,
            state,
            delivery_note_number="BL-42",
            tariff_grid_reference=" ",
            sent_by="o",
        ).field
        == "tariff_grid_reference"
    )
    assert (
        refused(
            OutOfOrder,
            domain.send_delivery_note,
            fold(started()),
            delivery_note_number="BL-42",
            tariff_grid_reference="g",
            sent_by="o",
        ).code
        == "not_delivered"
    )
    sent = [
        *delivered(),
        DeliveryNoteSent(delivery_note_number="BL-42", tariff_grid_reference="g", sent_by="o"),
    ]
    assert (
        refused(
            OutOfOrder,
            domain.send_delivery_note,
            fold(sent),
            delivery_note_number="BL-42",
            tariff_grid_reference="g",
            sent_by="o",
        ).code
        == "note_already_sent"
    )


def test_the_integrator_confirms_receiving_the_sims_once_delivered() -> None:
    assert domain.confirm_sims_reception(fold(delivered()), confirmed_by="bob") == [
        SimsReceptionConfirmed(confirmed_by="bob")
    ]
    assert (
        refused(OutOfOrder, domain.confirm_sims_reception, fold(started()), confirmed_by="b").code
        == "not_delivered"
    )
    done = [*delivered(), SimsReceptionConfirmed(confirmed_by="bob")]
    assert (
        refused(OutOfOrder, domain.confirm_sims_reception, fold(done), confirmed_by="b").code
        == "already_received"
    )


# --- deadlines ------------------------------------------------------------------------------------


def test_nothing_is_overdue_before_the_deadline() -> None:
    assert domain.check_deadline(fold(shipped()), now=STEP_2_DUE - timedelta(seconds=1)) == []
    assert domain.check_deadline(fold([]), now=STEP_2_DUE) == []


def test_step_2_past_its_deadline_goes_overdue_once() -> None:
    now = STEP_2_DUE + timedelta(minutes=1)
    events = domain.check_deadline(fold(shipped()), now=now)
    assert events == [StepWentOverdue(step="test_sims", due_at=STEP_2_DUE, detected_at=now)]
    history = [*shipped(), *events]
    assert domain.check_deadline(fold(history), now=now + timedelta(days=3)) == []
    error = refused(OutOfOrder, domain.mark_step_overdue, fold(history), step=Step.TEST_SIMS, now=now)
    assert (error.field, error.code) == ("step", "already_overdue")


def test_a_step_is_marked_overdue_only_when_running_and_due() -> None:
    early = STEP_2_DUE - timedelta(hours=1)
    assert (
        refused(OutOfOrder, domain.mark_step_overdue, fold(shipped()), step=Step.TEST_SIMS, now=early).code
        == "not_due"
    )
    late = STEP_3_DUE + timedelta(days=1)
    assert refused(
        OutOfOrder, domain.mark_step_overdue, fold(shipped()), step=Step.PRODUCTION, now=late
    ).code == ("step_not_running")
    assert refused(
        OutOfOrder, domain.mark_step_overdue, fold(delivered()), step=Step.PRODUCTION, now=late
    ).code == ("step_not_running")


def test_step_3_has_its_own_deadline_and_overdue_event() -> None:
    overdue_2 = [*shipped(), StepWentOverdue(step="test_sims", due_at=STEP_2_DUE, detected_at=STEP_2_DUE)]
    history = [*overdue_2, *ordered()[len(shipped()) :]]
    assert domain.check_deadline(fold(history), now=STEP_3_DUE - timedelta(seconds=1)) == []
    [event] = domain.check_deadline(fold(history), now=STEP_3_DUE)
    assert (event.step, event.due_at) == ("production", STEP_3_DUE)


def test_a_delivered_process_has_no_deadline_left() -> None:
    assert domain.check_deadline(fold(delivered()), now=STEP_3_DUE + timedelta(days=100)) == []
