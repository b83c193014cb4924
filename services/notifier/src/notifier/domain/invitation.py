"""The iCalendar invitation (RFC 5545) attached to the validation call email.

Written by hand (no calendar library is installed): a single VEVENT, METHOD:REQUEST. The UID is the
integrator's validation call, so a rescheduled call updates the same entry in the calendar; the
SEQUENCE is the booking instant in seconds, which grows with every new booking as RFC 5545 asks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

#: RFC 5545 §3.1: lines longer than 75 octets are folded.
_MAX_LINE_OCTETS = 75


def escape_text(value: str) -> str:
    """TEXT values (§3.3.11): backslash, semicolon, comma and newlines are escaped."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\r", "\\n")
        .replace("\n", "\\n")
    )


def fold_line(line: str) -> str:
    """Fold at 75 octets without splitting a UTF-8 character; continuation lines start with a space."""
    parts: list[str] = []
    current = ""
    limit = _MAX_LINE_OCTETS
    for char in line:
        if len((current + char).encode()) > limit:
            parts.append(current)
            current = ""
            limit = _MAX_LINE_OCTETS - 1  # the leading space counts
        current += char
    parts.append(current)
    return "\r\n ".join(parts)


def _utc(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("naive datetime")
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def validation_call_invitation(
    *,
    integrator_id: str,
    booked_at: datetime,
    starts_at: datetime,
    duration_minutes: int,
    summary: str,
    description: str,
    phone: str,
    organizer_name: str,
    organizer_email: str,
    attendee_emails: list[str],
) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//integrator-platform//notifier//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:REQUEST",
        "BEGIN:VEVENT",
        f"UID:validation-call-{integrator_id}@integrator-platform",
        f"SEQUENCE:{int(booked_at.timestamp())}",
        f"DTSTAMP:{_utc(booked_at)}",
        f"DTSTART:{_utc(starts_at)}",
        f"DTEND:{_utc(starts_at + timedelta(minutes=duration_minutes))}",
        f"SUMMARY:{escape_text(summary)}",
        f"DESCRIPTION:{escape_text(description)}",
        f"LOCATION:{escape_text(phone)}",
        f'ORGANIZER;CN="{organizer_name.replace(chr(34), "")}":mailto:{organizer_email}',
        *(
            f"ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{email}"
            for email in dict.fromkeys(attendee_emails)  # each once, in order
        ),
        "STATUS:CONFIRMED",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    for line in lines:
        if "\r" in line or "\n" in line:
            raise ValueError("a line break inside an iCalendar property")
    return "".join(fold_line(line) + "\r\n" for line in lines)
