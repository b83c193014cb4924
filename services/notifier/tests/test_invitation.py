"""The validation call's iCalendar invitation follows RFC 5545 (and reads back with `icalendar`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from notifier.domain.invitation import validation_call_invitation

BOOKED = datetime(2026, 1, 12, 9, 30, tzinfo=UTC)


def invitation(**changes):
    values = dict(
        integrator_id="acme",
        booked_at=BOOKED,
        starts_at=datetime(2026, 1, 14, 10, 0, tzinfo=UTC),
        duration_minutes=30,
        summary="Rendez-vous téléphonique : test et validation des cartes SIM",
        description="Bonjour Alice,\n\nDate ; durée, téléphone\\" + " très long" * 20,
        phone="+33102030405",
        organizer_name="Plateforme intégrateurs",
        organizer_email="noreply@integrator-platform.example",
        attendee_emails=["alice@acme.example"],
    )
    values.update(changes)
    return validation_call_invitation(**values)


def parsed(ics: str):
    calendar = Calendar.from_ical(ics)
    [event] = calendar.walk("VEVENT")
    return calendar, event


def test_the_invitation_is_a_request_for_one_event_in_utc():
    ics = invitation()
    assert ics.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert ics.endswith("END:VCALENDAR\r\n")
    assert "\n" not in ics.replace("\r\n", "")  # only CRLF line ends
    unfolded = ics.replace("\r\n ", "")
    assert "DTSTART:20260114T100000Z\r\n" in unfolded  # UTC, not a floating or zoned time
    calendar, event = parsed(ics)
    assert calendar["METHOD"] == "REQUEST"
    assert event.decoded("DTSTART") == datetime(2026, 1, 14, 10, 0, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2026, 1, 14, 10, 30, tzinfo=UTC)
    assert event["UID"] == "validation-call-acme@integrator-platform"
    assert event["ORGANIZER"] == "mailto:noreply@integrator-platform.example"
    assert event["ORGANIZER"].params["CN"] == "Plateforme intégrateurs"
    attendee = event["ATTENDEE"]
    assert attendee == "mailto:alice@acme.example"
    assert dict(attendee.params) == {"ROLE": "REQ-PARTICIPANT", "PARTSTAT": "NEEDS-ACTION", "RSVP": "TRUE"}


def test_each_attendee_is_invited_once():
    _, event = parsed(
        invitation(attendee_emails=["alice@acme.example", "ops@vendor.example", "alice@acme.example"])
    )
    assert [str(a) for a in event["ATTENDEE"]] == ["mailto:alice@acme.example", "mailto:ops@vendor.example"]


def test_lines_are_folded_at_75_octets_and_text_is_escaped():
    description = "Bonjour Alice,\n\nDate ; durée, téléphone\\" + " très long" * 20
    ics = invitation(description=description, summary="SUMMARY " + "é" * 100)
    for line in ics.split("\r\n"):
        line.encode().decode()  # folding never splits a character: each line is whole UTF-8
        assert len(line.encode()) <= 75
    unfolded = ics.replace("\r\n ", "")
    assert "DESCRIPTION:Bonjour Alice\\,\\n\\nDate \\; durée\\, téléphone\\\\ très long" in unfolded
    _, event = parsed(ics)
    assert event["DESCRIPTION"] == description  # read back as written
    assert event["SUMMARY"] == "SUMMARY " + "é" * 100


def test_a_rescheduled_call_updates_the_same_entry_with_a_higher_sequence():
    _, first = parsed(invitation())
    _, later = parsed(invitation(booked_at=BOOKED + timedelta(hours=2)))
    assert later["UID"] == first["UID"]
    assert later.decoded("SEQUENCE") > first.decoded("SEQUENCE")


def test_a_line_break_cannot_smuggle_a_property():
    with pytest.raises(ValueError):
        invitation(attendee_emails=["alice@acme.example\r\nATTENDEE:mailto:eve@evil.example"])
    # In a TEXT value a line break is escaped: still one LOCATION, no second attendee.
    _, event = parsed(invitation(phone="+33102030405\r\nATTENDEE:mailto:eve@evil.example"))
    assert event["ATTENDEE"] == "mailto:alice@acme.example"


def test_a_naive_instant_is_refused():
    with pytest.raises(ValueError, match="naive"):
        invitation(starts_at=datetime(2026, 1, 14, 10, 0))
