"""The iCalendar invitation (RFC 5545) attached to the validation call email.

Built with `icalendar`, which escapes TEXT values, folds lines at 75 octets without splitting a UTF-8
character, quotes parameters and refuses a line break in an address (no smuggled property). A single
VEVENT, METHOD:REQUEST. The UID is the integrator's validation call, so a rescheduled call updates the
same entry in the calendar; the SEQUENCE is the booking instant in seconds, which grows with every new
booking as RFC 5545 asks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event, vCalAddress


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("naive datetime")
    return at.astimezone(UTC)


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
    calendar = Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", "-//integrator-platform//notifier//EN")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "REQUEST")
    event = Event()
    event.add("uid", f"validation-call-{integrator_id}@integrator-platform")
    event.add("sequence", int(booked_at.timestamp()))
    event.add("dtstamp", _utc(booked_at))
    event.add("dtstart", _utc(starts_at))
    event.add("dtend", _utc(starts_at + timedelta(minutes=duration_minutes)))
    event.add("summary", summary)
    event.add("description", description)
    event.add("location", phone)
    organizer = vCalAddress(f"mailto:{organizer_email}")
    organizer.params["CN"] = organizer_name
    event.add("organizer", organizer)
    for email in dict.fromkeys(attendee_emails):  # each once, in order
        attendee = vCalAddress(f"mailto:{email}")
        attendee.params.update({"ROLE": "REQ-PARTICIPANT", "PARTSTAT": "NEEDS-ACTION", "RSVP": "TRUE"})
        event.add("attendee", attendee)
    event.add("status", "CONFIRMED")
    calendar.add_component(event)
    return calendar.to_ical().decode()
