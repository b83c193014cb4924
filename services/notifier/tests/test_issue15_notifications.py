"""The notifications issue 15 asked for: who is told what, in which language, once each; the named
vendor contact in every email; documents linked, not promised; user URLs left as text."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from uuid import uuid4

import pytest

from contracts.events.common import Contact, Locale
from contracts.events.notifier import IntegratorContactsNoted
from contracts.events.onboarding import IntegratorContactsUpdated
from contracts.events.support import TicketMessagePosted
from notifier.domain.emails import intend_emails
from notifier.domain.recipients import (
    IntegratorContacts,
    TicketRequester,
    contacts_from,
    note_contacts,
    update_contacts,
)
from notifier.mailer import compose
from notifier.settings import Settings

from .samples import NOW, TICKET, envelope, mapped_events, registered

SETTINGS = Settings()
OPS = SETTINGS.ops_email
ALICE, BOB, CHLOE = "alice@acme.example", "bob@acme.example", "chloe@acme.example"
CONTACTS = [ALICE, BOB]
REQUESTER = TicketRequester("Chloé Requester", CHLOE, "Caisse bloquée", "T-2026-000123")

#: event type -> the (template, recipient) pairs it must produce, in this order, each once.
EXPECTED: dict[str, list[tuple[str, str]]] = {
    # to ops: what they must act on
    "DossierItemSubmitted": [("dossier_item_submitted_ops", OPS)],
    "ProductionOrdered": [
        ("production_ordered", ALICE),
        ("production_ordered", BOB),
        ("production_ordered_ops", OPS),
    ],
    "ValidationCallBooked": [
        ("validation_call_booked", ALICE),
        ("validation_call_booked", BOB),
        ("validation_call_booked_ops", OPS),
    ],
    "TicketOpened": [("ticket_opened", CHLOE), ("ticket_opened_ops", OPS)],
    "TicketMessagePosted": [("ticket_message_ops", OPS)],  # the sample is the integrator's message
    "TicketReopened": [("ticket_reopened_ops", OPS)],
    # to the integrator: key outcomes
    "DossierItemAccepted": [("dossier_item_accepted", ALICE), ("dossier_item_accepted", BOB)],
    "IsmConfigurationRejected": [("ism_tables_refused", ALICE), ("ism_tables_refused", BOB)],
    "IntegratorApproved": [("approval_granted", ALICE), ("approval_granted", BOB)],
    "IntegratorApprovalSuspended": [("approval_suspended", ALICE), ("approval_suspended", BOB)],
    "IntegratorApprovalRevoked": [("approval_revoked", ALICE), ("approval_revoked", BOB)],
    "IntegratorToldOfRelease": [("release_published", ALICE), ("release_published", BOB)],
    "TrackerDeclarationSettled": [("tracker_settled", CHLOE)],
    "ProductionStarted": [("production_started", ALICE), ("production_started", BOB)],
    # overdue for every waiting state: ops and the integrator
    "DossierWentOverdue": [
        ("dossier_overdue", ALICE),
        ("dossier_overdue", BOB),
        ("dossier_overdue_ops", OPS),
    ],
    "IsmDeliveryWentOverdue": [("ism_overdue", ALICE), ("ism_overdue", BOB), ("ism_overdue_ops", OPS)],
}


def contacts(locale: Locale) -> IntegratorContacts:
    reg = registered(locale)
    return IntegratorContacts(reg.legal_name, tuple(reg.contacts), locale)


def intended(event, locale: Locale = Locale.FR):
    return intend_emails(envelope(event), integrator=contacts(locale), ticket=REQUESTER, ops_email=OPS)


def read(email):
    message = compose(email, intended_at=NOW, settings=SETTINGS)
    message = message_from_bytes(message.as_bytes(), policy=policy.default)
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content()
    return message, text, html


@pytest.mark.parametrize("locale", [Locale.FR, Locale.EN])
@pytest.mark.parametrize("event_type", sorted(EXPECTED))
def test_each_new_notification_reaches_the_right_people_once_in_their_language(event_type, locale):
    emails = intended(mapped_events()[event_type], locale)
    assert [(e.template, e.recipients[0]) for e in emails] == EXPECTED[event_type]
    for email in emails:
        # Ops read French; the integrator's people and its requesters read the integrator's language.
        assert email.locale is (Locale.FR if email.recipients == [OPS] else locale)
        _message, text, html = read(email)
        greeting = "Bonjour" if email.locale is Locale.FR else "Hello"
        assert text.startswith(greeting)
        assert SETTINGS.sales_admin_name in text and SETTINGS.sales_admin_name in html


def test_a_technicians_reply_reaches_the_requester_and_an_internal_note_nobody():
    reply = TicketMessagePosted(
        ticket_id=TICKET, author="Tom Technicien", body="Merci de redémarrer.", internal=False
    )
    [email] = intended(reply, Locale.EN)
    assert (email.template, email.recipients) == ("technician_reply", [CHLOE])
    _, text, _ = read(email)
    assert "Merci de redémarrer." in text and "T-2026-000123" in text
    note = reply.model_copy(update={"internal": True, "body": "client difficile"})
    assert intended(note) == []


def test_the_ism_refusal_lists_every_row_to_correct():
    [email, _] = intended(mapped_events()["IsmConfigurationRejected"], Locale.FR)
    _, text, html = read(email)
    assert "table des offres commerciales, ligne 3, colonne zones : zone « Z9 » inconnue" in text
    assert "table des terminaux mobiles : la table est vide" in text
    assert "zone « Z9 » inconnue" in html


def test_emails_show_the_ticket_number_and_the_artworks_file_name_not_ids_or_hashes():
    for event_type in ("TicketOpened", "TicketReopened"):
        for email in intended(mapped_events()[event_type]):
            _message, text, _ = read(email)
            assert "T-2026-000123" in text and str(TICKET) not in text
    ordered = mapped_events()["ProductionOrdered"]
    for email in intended(ordered):
        _, text, _ = read(email)
        assert "carte-acme.pdf" in text and ordered.artwork_reference not in text


def test_a_url_typed_by_a_person_is_not_made_a_link_but_the_platforms_own_are():
    [email] = intended(mapped_events()["TicketMessagePosted"])
    _, _, html = read(email)
    assert "https://evil.example/login" in html and 'href="https://evil.example' not in html
    [welcome, _] = intended(mapped_events()["IntegratorRegistered"])
    _, _text, html = read(welcome)
    assert f'<a href="{SETTINGS.public_base_url}/portal/documents">' in html


def test_replies_go_to_the_named_contact_and_the_email_is_sent_on_the_vendors_behalf():
    [onboarding, _] = intended(mapped_events()["DossierItemAccepted"])
    message, _, _ = read(onboarding)
    assert message["Reply-To"] == SETTINGS.sales_admin_email
    assert (
        message["From"].addresses[0].display_name == f"{SETTINGS.vendor_name} via la plateforme intégrateurs"
    )
    assert message["From"].addresses[0].addr_spec == "noreply@integrator-platform.example"
    ticket, _ = intended(mapped_events()["TicketOpened"])
    assert read(ticket)[0]["Reply-To"] == SETTINGS.support_email


@pytest.mark.parametrize("template", ["validation_call_booked", "validation_call_booked_ops"])
def test_the_call_invitation_is_organised_by_the_sales_contact_who_is_invited_too(template):
    email = next(e for e in intended(mapped_events()["ValidationCallBooked"]) if e.template == template)
    message = compose(email, intended_at=NOW, settings=SETTINGS)
    [attachment] = list(message.iter_attachments())
    ics = attachment.get_content().replace("\r\n ", "")
    assert f'ORGANIZER;CN="{SETTINGS.sales_admin_name}":mailto:{SETTINGS.sales_admin_email}' in ics
    attendees = re.findall(r"ATTENDEE;[^:]*:mailto:(\S+)", ics)
    assert attendees == [email.recipients[0], SETTINGS.sales_admin_email]


def test_updated_contacts_and_locale_replace_the_old_ones_for_later_emails():
    history = note_contacts([], registered(Locale.FR), uuid4())
    source = uuid4()
    carol = Contact(name="Carol New", email="carol@acme.example", phone="+33102030407")
    update = IntegratorContactsUpdated(contacts=[carol], locale=Locale.EN, updated_by="alice@acme.example")
    noted = update_contacts(history, update, source)
    assert isinstance(noted[0], IntegratorContactsNoted)
    assert update_contacts(history + noted, update, source) == []  # once per update
    known = contacts_from(history + noted)
    assert known is not None and known.legal_name == "Acme Télécom <SAS>"
    emails = intend_emails(
        envelope(mapped_events()["SimsValidated"]), integrator=known, ticket=None, ops_email=OPS
    )
    assert [(e.recipients, e.locale) for e in emails] == [(["carol@acme.example"], Locale.EN)]


@pytest.mark.parametrize("locale", [Locale.FR, Locale.EN])
@pytest.mark.parametrize("event_type", ["SimsDelivered", "DeliveryNoteSent"])
def test_the_delivery_note_is_linked_where_the_portal_serves_it(event_type, locale):
    """The portal downloads sim-logistics' generated note at /portal/sims/delivery-note.xlsx."""
    email = intended(mapped_events()[event_type], locale)[0]
    _, text, html = read(email)
    link = f"{SETTINGS.public_base_url}/portal/sims/delivery-note.xlsx"
    assert link in text and f'<a href="{link}">' in html
