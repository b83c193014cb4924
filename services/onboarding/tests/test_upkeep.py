"""Contacts and language kept up to date, and the dossier's own deadline, as specifications."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts.errors import CommandRefused, OutOfOrder
from contracts.events.common import Contact, DossierItem, Locale
from contracts.events.onboarding import (
    DossierItemAccepted,
    DossierItemRejected,
    DossierItemSubmitted,
    DossierWentOverdue,
    IntegratorContactsUpdated,
)
from onboarding import domain

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
