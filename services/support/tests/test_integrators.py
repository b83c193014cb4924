"""What support knows of integrators, from onboarding's events, as a specification."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from contracts.errors import NotFound, OutOfOrder
from contracts.events.common import Contact, Locale
from contracts.events.onboarding import IntegratorContactsUpdated, IntegratorRegistered
from support.domain import integrators

PAUL = Contact(name="Paul", email="paul@acme.example", phone="+33102030405")
REGISTERED = IntegratorRegistered(
    legal_name="Acme SAS",
    address="1 rue de la Paix, 75002 Paris",
    siret="73282932000074",
    vat_number="FR44732829320",
    contacts=[PAUL],
    locale=Locale.FR,
    customer_service_phone="3900",
    customer_service_cost_per_minute=Decimal("0.35"),
    customer_service_email="service@acme.example",
    registered_by="ops",
)


def test_support_notes_the_company_once_and_the_contacts_at_each_update() -> None:
    source = uuid4()
    noted = integrators.note_registration(None, REGISTERED, source)
    known = integrators.fold(noted)
    assert known is not None and (known.legal_name, known.siret) == ("Acme SAS", "73282932000074")
    assert integrators.note_registration(known, REGISTERED, source) == []  # delivered again
    with pytest.raises(OutOfOrder):
        integrators.note_registration(known, REGISTERED, uuid4())  # a second registration: poison
    carol = Contact(name="Carol", email="carol@acme-groupe.example", phone="+33102030409")
    update = IntegratorContactsUpdated(contacts=[carol], locale=Locale.EN, updated_by="ops")
    updated = integrators.fold([*noted, *integrators.note_contacts_update(known, update, uuid4())])
    assert updated is not None and updated.contacts == (carol,) and updated.legal_name == "Acme SAS"
    with pytest.raises(NotFound):
        integrators.note_contacts_update(None, update, uuid4())


def test_a_requester_is_a_contact_or_at_a_contacts_domain() -> None:
    contacts = ["paul@acme.example"]
    assert integrators.may_ask_tickets(contacts, "PAUL@acme.example")
    assert integrators.may_ask_tickets(contacts, "zoe@acme.example")
    assert not integrators.may_ask_tickets(contacts, "victim@elsewhere.example")
    assert not integrators.may_ask_tickets(contacts, "paul@acme.example.evil.example")
    assert not integrators.may_ask_tickets([], "paul@acme.example")
