"""The emails' French agrees with each dossier item's gender and number, and ops read labels, not the
events' field keys or codes (issue 24)."""

from __future__ import annotations

import pytest

from contracts.events.common import DossierItem
from notifier.rendering import render
from notifier.vocabulary import LABELS


def accepted_subject(item: str, locale: str) -> str:
    return render(
        "dossier_item_accepted", locale, {"recipient_name": "Chloé", "event": {"item": item}}
    ).subject


@pytest.mark.parametrize(
    ("item", "subject"),
    [
        ("offers_table", "Dossier : table des offres commerciales acceptée"),
        ("arcep_declaration", "Dossier : déclaration ARCEP acceptée"),
        ("tariffs_international", "Dossier : tarifs internationaux acceptés"),
        ("logo", "Dossier : logo (jpg ou png, 95 × 95 px en 300 dpi) accepté"),
    ],
)
def test_the_accepted_item_agrees_in_french(item, subject):
    assert accepted_subject(item, "fr") == subject


def test_the_accepted_item_in_english():
    assert accepted_subject("arcep_declaration", "en") == "Dossier: ARCEP declaration accepted"


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_every_dossier_item_has_a_declared_form(locale):
    labels = LABELS[locale]
    assert set(labels["items"]) == set(labels["item_forms"]) == {i.value for i in DossierItem}
    assert set(labels["item_forms"].values()) <= set(labels["agreed"]["accepted"])


def submitted_ops_body(item: str, details: dict[str, str], locale: str) -> str:
    event = {"item": item, "file": None, "details": details, "submitted_by": "chloe@acme.example"}
    context = {"integrator_name": "Acme", "integrator_id": "i-1", "event": event}
    return render("dossier_item_submitted_ops", locale, context).text


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("fr", ["Date d'envoi à l'ARCEP : 20 novembre 2026", "Adresse e-mail : factures@acme.example"]),
        ("en", ["Date sent to ARCEP: 20 November 2026", "Email address: factures@acme.example"]),
    ],
)
def test_ops_read_the_declared_values_under_labels(locale, expected):
    body = submitted_ops_body("arcep_declaration", {"sent_on": "2026-11-20"}, locale)
    body += submitted_ops_body("invoice_sender_email", {"email": "factures@acme.example"}, locale)
    for line in expected:
        assert line in body
    for key in ("sent_on", "email :", "email:", "2026-11-20"):
        assert key not in body


@pytest.mark.parametrize(("locale", "label"), [("fr", "Texte du bandeau : "), ("en", "Banner text: ")])
def test_the_banner_text_under_its_label(locale, label):
    body = submitted_ops_body("footer_banner", {"footer_text": "ACME SAS, 1 rue X"}, locale)
    assert label + "ACME SAS, 1 rue X" in body
    assert "footer_text" not in body


@pytest.mark.parametrize(
    ("locale", "line"), [("fr", "Canal : portail / API"), ("en", "Channel: portal / API")]
)
def test_ops_read_the_channels_label(locale, line):
    event = {
        "requester": {"name": "Chloé", "email": "chloe@acme.example"},
        "channel": "api",
        "subject": "Caisse bloquée",
        "description": "Elle ne démarre plus.",
    }
    context = {"integrator_name": "Acme", "integrator_id": "i-1", "ticket_number": "T-1", "event": event}
    text = render("ticket_opened_ops", locale, context).text
    assert line in text
