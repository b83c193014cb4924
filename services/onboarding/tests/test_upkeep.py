"""Contacts and language kept up to date, and the dossier's own deadline, as specifications."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from contracts.envelope import Envelope
from contracts.errors import CommandRefused, OutOfOrder
from contracts.events import DomainEvent
from contracts.events.common import Contact, DossierItem, Locale
from contracts.events.onboarding import (
    DossierItemAccepted,
    DossierItemRejected,
    DossierItemSubmitted,
    DossierWentOverdue,
    IntegratorContactsUpdated,
)
from onboarding import domain
from onboarding.deadlines import apply_deadline

from .test_domain import registered

REGISTERED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DELAY = timedelta(days=30)
CAROL = Contact(name="Carol", email="carol@acme.example", phone="+33102030409")


def test_contacts_and_language_are_replaced_and_an_unchanged_update_is_refused() -> None:
    state = domain.fold(registered())
    events = domain.update_contacts(state, contacts=[CAROL], locale=Locale.EN, updated_by="alice")
    assert events == [IntegratorContactsUpdated(contacts=[CAROL], locale=Locale.EN, updated_by="alice")]
    after = domain.fold([*registered(), *events])
    assert after.contacts == (CAROL,) and after.locale is Locale.EN
    with pytest.raises(OutOfOrder):
        domain.update_contacts(after, contacts=[CAROL], locale=Locale.EN, updated_by="alice")


def test_every_bad_contact_is_named_at_once() -> None:
    state = domain.fold(registered())
    bad = [CAROL.model_copy(update={"phone": "12"}), CAROL.model_copy(update={"email": "a..b@acme.example"})]
    with pytest.raises(CommandRefused) as refused:
        domain.update_contacts(state, contacts=bad, locale=Locale.FR, updated_by="ops")
    assert [p.field for p in refused.value.problems] == ["contacts.0.phone", "contacts.1.email"]


def test_the_dossier_goes_overdue_once_with_the_items_still_awaited_from_the_integrator() -> None:
    history = [
        *registered(),
        DossierItemAccepted(item=DossierItem.LOGO, accepted_by="ops"),
        DossierItemSubmitted(item=DossierItem.FOOTER_BANNER, submitted_by="i"),  # waits on ops: not listed
        DossierItemRejected(item=DossierItem.ARCEP_DECLARATION, reason="r", rejected_by="ops"),
    ]
    state = domain.fold(history)
    early = REGISTERED_AT + DELAY - timedelta(seconds=1)
    assert domain.check_dossier_deadline(state, registered_at=REGISTERED_AT, now=early, delay=DELAY) == []
    now = REGISTERED_AT + DELAY
    [overdue] = domain.check_dossier_deadline(state, registered_at=REGISTERED_AT, now=now, delay=DELAY)
    assert isinstance(overdue, DossierWentOverdue) and overdue.due_at == REGISTERED_AT + DELAY
    assert DossierItem.LOGO not in overdue.missing_items
    assert DossierItem.FOOTER_BANNER not in overdue.missing_items
    assert DossierItem.ARCEP_DECLARATION in overdue.missing_items
    again = domain.fold([*history, overdue])
    assert domain.check_dossier_deadline(again, registered_at=REGISTERED_AT, now=now, delay=DELAY) == []


def deadline_row(history: list[DomainEvent]) -> dict[str, object] | None:
    row = None
    for version, event in enumerate(history, start=1):
        envelope = Envelope(
            event_id=uuid4(),
            event_type=event.event_type,
            schema_version=1,
            occurred_at=REGISTERED_AT,
            producer="onboarding",
            stream_id="integrator-acme",
            stream_version=version,
            integrator_id="acme",
            correlation_id=uuid4(),
            payload=event.model_dump(mode="json"),
        )
        row = apply_deadline(row, envelope, event)
    return row


def test_the_deadline_row_says_what_the_check_will_see() -> None:
    history = [
        *registered(),
        DossierItemAccepted(item=DossierItem.LOGO, accepted_by="ops"),
        DossierItemSubmitted(item=DossierItem.FOOTER_BANNER, submitted_by="i"),
        DossierItemRejected(item=DossierItem.ARCEP_DECLARATION, reason="r", rejected_by="ops"),
    ]
    row = deadline_row(history)
    assert row is not None
    assert row["registered_at"] == REGISTERED_AT.isoformat()
    assert row["items"] == {
        **{item.value: "missing" for item in DossierItem},
        "logo": "accepted",
        "footer_banner": "submitted",
        "arcep_declaration": "rejected",
    }
    assert (row["awaiting_integrator"], row["done"]) == (True, False)
    # Every item sent: nothing waits on the integrator (what is submitted waits on ops).
    rest = [
        DossierItemSubmitted(item=i, submitted_by="i")
        for i in domain.awaiting_integrator(domain.fold(history))
    ]
    row = deadline_row([*history, *rest])
    assert row is not None and (row["awaiting_integrator"], row["done"]) == (False, False)
    # Gone overdue once: done with, whatever comes after.
    overdue = DossierWentOverdue(
        due_at=REGISTERED_AT + DELAY,
        detected_at=REGISTERED_AT + DELAY,
        missing_items=[DossierItem.ARCEP_DECLARATION],
    )
    row = deadline_row(
        [*history, overdue, DossierItemAccepted(item=DossierItem.FOOTER_BANNER, accepted_by="ops")]
    )
    assert row is not None and row["done"] is True and row["items"]["footer_banner"] == "accepted"
    assert deadline_row([DossierItemAccepted(item=DossierItem.LOGO, accepted_by="ops")]) is None
