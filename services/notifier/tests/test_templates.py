"""Every mapped email renders in French and English with every placeholder filled; headers are safe."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

import pytest
from icalendar import Calendar

from chassis.links import verify_link_token
from contracts.events.common import Locale
from contracts.events.ism_provisioning import SET_PASSWORD_LINK_PURPOSE
from notifier.domain.emails import intend_emails
from notifier.domain.mapping import MAPPING
from notifier.domain.recipients import IntegratorContacts, TicketRequester
from notifier.mailer import HeaderInjection, compose, one_line
from notifier.rendering import TEMPLATES_DIR, EmptyPlaceholder, render
from notifier.settings import Settings

from .samples import NOW, envelope, mapped_events, registered

SETTINGS = Settings()
REQUESTER = TicketRequester("Chloé Requester", "chloe@acme.example", "Caisse bloquée <après mise à jour>")
CASES = [(event_type, locale) for event_type in sorted(MAPPING) for locale in (Locale.FR, Locale.EN)]


def emails_for(event_type: str, locale: Locale):
    reg = registered(locale)
    contacts = IntegratorContacts(reg.legal_name, tuple(reg.contacts), locale)
    source = envelope(mapped_events()[event_type])
    return intend_emails(source, integrator=contacts, ticket=REQUESTER, ops_email=SETTINGS.ops_email)


def parts(message):
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return text, html


def test_every_template_exists_in_both_languages():
    for rules in MAPPING.values():
        for rule in rules:
            for locale in ("fr", "en"):
                assert (TEMPLATES_DIR / locale / f"{rule.template}.j2").is_file(), (rule.template, locale)


@pytest.mark.parametrize(("event_type", "locale"), CASES)
def test_every_mapped_email_renders_with_every_field_filled(event_type, locale):
    intended = emails_for(event_type, locale)
    assert intended
    for email in intended:
        message = compose(email, intended_at=NOW, settings=SETTINGS)
        # Sent and read back as the SMTP sink would.
        message = message_from_bytes(message.as_bytes(), policy=policy.default)
        text, html = parts(message)
        subject = str(message["Subject"])
        assert subject.strip()
        text = text.replace("\r\n", "\n")
        for content in (subject, text, html):
            assert "None" not in content
            assert "{{" not in content and "{%" not in content
        for content in (subject, text):
            # A label with nothing after it ("Carrier: " then a line break), or an empty « ».
            assert not re.search(r"[:«][ \t]*(»|\n(?!\n)|$)", content), content
        assert "<p></p>" not in html
        if email.locale is Locale.FR and email.recipients[0] != SETTINGS.ops_email:
            assert "Bonjour" in text
        if email.locale is Locale.EN:
            assert "Hello" in text
        # Values from the events are escaped in the HTML part, raw in the text part.
        assert "<SAS>" not in html and "<après" not in html
        assert message["Message-ID"].strip() == email.message_id
        assert message["To"] == email.recipients[0]
        # Replies reach a named person; the platform writes on the vendor's behalf.
        assert message["Reply-To"] in (SETTINGS.sales_admin_email, SETTINGS.support_email)
        assert "noreply@integrator-platform.example" in message["From"]
        assert SETTINGS.vendor_name in message["From"]
        # Every email is signed by the named sales administrator, with the support line.
        for content in (text, html):
            assert SETTINGS.sales_admin_name in content and SETTINGS.sales_admin_phone in content
            assert SETTINGS.support_phone in content and SETTINGS.support_email in content
        # A document an email mentions is one the portal's documents page serves.
        for content in (text, html):
            assert (
                "disponible sur la plateforme" not in content and "available on the platform" not in content
            )
        if "documents" in text:
            assert f"{SETTINGS.public_base_url}/portal/documents" in text


@pytest.mark.parametrize("locale", [Locale.FR, Locale.EN])
def test_values_are_escaped_in_html_and_kept_in_text(locale):
    [alice, _] = emails_for("IntegratorRegistered", locale)
    text, html = parts(compose(alice, intended_at=NOW, settings=SETTINGS))
    assert "Acme Télécom <SAS>" in text
    assert "Acme Télécom &lt;SAS&gt;" in html
    for label in ("logo", "ARCEP"):
        assert label in text  # the dossier checklist


def test_the_validation_call_carries_an_ics_invitation():
    email = emails_for("ValidationCallBooked", Locale.FR)[0]
    message = compose(email, intended_at=NOW, settings=SETTINGS)
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_filename() == "invitation.ics"
    ics = attachment.get_content().replace("\r\n ", "")  # unfolded
    assert "METHOD:REQUEST" in ics and "mailto:alice@acme.example" in ics
    assert "DTSTART:20260114T103000Z" in ics
    [event] = Calendar.from_ical(attachment.get_content()).walk("VEVENT")  # a calendar reads it back
    attendees = event["ATTENDEE"] if isinstance(event["ATTENDEE"], list) else [event["ATTENDEE"]]
    assert "mailto:alice@acme.example" in attendees


def test_the_set_password_link_is_signed_for_ism_provisioning():
    email = emails_for("ISMDelivered", Locale.EN)[0]
    text, _ = parts(compose(email, intended_at=NOW, settings=SETTINGS))
    [token] = re.findall(r"/ism/set-password\?token=(\S+)", text)
    token_id, _ = verify_link_token(
        SETTINGS.link_signing_secret.get_secret_value(), SET_PASSWORD_LINK_PURPOSE, token, now=NOW
    )
    assert str(token_id) == email.context["event"]["set_password_token_id"]


def test_the_survey_link_opens_the_web_fronts_survey_page_signed_for_support():
    email = emails_for("TicketClosed", Locale.FR)[0]
    text, _ = parts(compose(email, intended_at=NOW, settings=SETTINGS))
    [token] = re.findall(r"http://localhost:8000/survey/(\S+)", text)
    token_id, _ = verify_link_token(SETTINGS.link_signing_secret.get_secret_value(), "survey", token, now=NOW)
    assert str(token_id) == email.context["event"]["survey_token_id"]


@pytest.mark.parametrize(
    ("event_type", "page", "purpose", "id_field"),
    [
        ("PortalUserInvited", "/invitation/", "portal_invitation", "invitation_token_id"),
        ("PasswordResetRequested", "/password-reset/", "password_reset", "reset_token_id"),
    ],
)
def test_the_portal_links_go_to_the_person_the_event_names(event_type, page, purpose, id_field):
    [email] = emails_for(event_type, Locale.EN)
    assert email.recipients == ["new.person@acme.example"]
    text, _ = parts(compose(email, intended_at=NOW, settings=SETTINGS))
    [token] = re.findall(re.escape(page) + r"(\S+)", text)
    token_id, _ = verify_link_token(SETTINGS.link_signing_secret.get_secret_value(), purpose, token, now=NOW)
    assert str(token_id) == email.context["event"][id_field]


def test_ops_read_the_email_with_the_personal_link_hidden():
    email = emails_for("TicketClosed", Locale.FR)[0]
    text, html = parts(compose(email, intended_at=NOW, settings=SETTINGS, for_ops=True))
    assert "/surveys/" not in text and "/surveys/" not in html
    assert "[lien personnel masqué]" in text


def test_the_same_intent_composes_the_same_bytes():
    email = emails_for("ValidationCallBooked", Locale.EN)[0]
    assert (
        compose(email, intended_at=NOW, settings=SETTINGS).as_bytes()
        == compose(email, intended_at=NOW, settings=SETTINGS).as_bytes()
    )


def test_a_missing_or_empty_value_refuses_to_render():
    email = emails_for("TicketTaken", Locale.FR)[0]
    context = dict(email.context)
    del context["ticket_subject"]
    with pytest.raises(Exception, match="ticket_subject"):
        render("ticket_taken", "fr", context)
    with pytest.raises(EmptyPlaceholder):
        render("ticket_taken", "fr", {**email.context, "recipient_name": "  "})


def test_a_line_break_in_a_value_never_reaches_a_header():
    email = emails_for("TicketTaken", Locale.FR)[0]
    sneaky = email.model_copy(
        update={"context": {**email.context, "ticket_subject": "Caisse\r\nBcc: eve@evil.example"}}
    )
    message = compose(sneaky, intended_at=NOW, settings=SETTINGS)
    assert "Bcc" not in message.keys()
    assert "\n" not in str(message["Subject"])
    with pytest.raises(HeaderInjection):
        one_line("x\r\nBcc: eve@evil.example")
    evil = email.model_copy(update={"recipients": ["chloe@acme.example\r\nBcc: eve@evil.example"]})
    with pytest.raises(HeaderInjection):
        compose(evil, intended_at=NOW, settings=SETTINGS)


def test_settings_refuse_a_line_break_in_an_address():
    with pytest.raises(ValueError):
        Settings(mail_from="noreply@x.example\r\nBcc: eve@evil.example")


def test_settings_refuse_an_address_email_validator_refuses():
    for field in ("mail_from", "sales_admin_email", "support_email", "ops_email"):
        with pytest.raises(ValueError, match="two periods"):
            Settings(**{field: "adv..ventes@caisse-libre.example"})
    assert Settings(mail_from="Plateforme <noreply@laposte.net>", ops_email="jean-marie.d'arc@laposte.fr")


def test_recipients_are_checked_by_email_validator_and_kept_as_written():
    email = emails_for("TicketTaken", Locale.FR)[0]
    for address in (
        "jean-marie.dupont@laposte.net",
        "service.client+pro@laposte.fr",
        "anne-sophie.d'arc@laposte.fr",
    ):
        message = compose(
            email.model_copy(update={"recipients": [address]}), intended_at=NOW, settings=SETTINGS
        )
        assert message["To"].addresses[0].addr_spec == address
        assert f"To: {address}\r\n".encode() in message.as_bytes()
    for address in ("a..b@acme.example", "chloe.acme.example"):
        with pytest.raises(ValueError, match="not an email address"):
            compose(email.model_copy(update={"recipients": [address]}), intended_at=NOW, settings=SETTINGS)
