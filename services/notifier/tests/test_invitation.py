"""The validation call's iCalendar invitation follows RFC 5545."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from notifier.domain.invitation import escape_text, fold_line, validation_call_invitation

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


def test_the_invitation_is_a_request_for_one_event_in_utc():
    ics = invitation()
    assert ics.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert ics.endswith("END:VCALENDAR\r\n")
    unfolded = ics.replace("\r\n ", "")
    assert "METHOD:REQUEST" in unfolded
    assert "DTSTART:20260114T100000Z\r\n" in unfolded
    assert "DTEND:20260114T103000Z\r\n" in unfolded
    assert "UID:validation-call-acme@integrator-platform\r\n" in unfolded
    assert (
        "ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:alice@acme.example" in unfolded
    )
    assert "\n" not in ics.replace("\r\n", "")  # only CRLF line ends


def test_lines_are_folded_at_75_octets_and_text_is_escaped():
    ics = invitation()
    for line in ics.split("\r\n"):
        assert len(line.encode()) <= 75
    unfolded = ics.replace("\r\n ", "")
    assert "DESCRIPTION:Bonjour Alice\\,\\n\\nDate \\; durée\\, téléphone\\\\ très long" in unfolded


def test_a_rescheduled_call_updates_the_same_entry_with_a_higher_sequence():
    first = invitation().replace("\r\n ", "")
    later = invitation(booked_at=BOOKED + timedelta(hours=2)).replace("\r\n ", "")

    def sequence(ics: str) -> int:
        return int(next(line for line in ics.split("\r\n") if line.startswith("SEQUENCE:")).split(":")[1])

    assert sequence(later) > sequence(first)


def test_folding_never_splits_a_character():
    line = "SUMMARY:" + "é" * 100
    folded = fold_line(line)
    assert folded.replace("\r\n ", "") == line
    for part in folded.split("\r\n"):
        part.encode().decode()  # each part is whole UTF-8
        assert len(part.encode()) <= 75


def test_escape_text():
    assert escape_text("a;b,c\\d\ne") == "a\\;b\\,c\\\\d\\ne"


def test_a_line_break_cannot_smuggle_a_property():
    with pytest.raises(ValueError):
        invitation(attendee_emails=["alice@acme.example\r\nATTENDEE:mailto:eve@evil.example"])
