"""The portal names its contact (issue 23): the vendor's named person, support phone, email, hours and
postal address on the home and support pages, in French and English, as links and semantic markup;
the same names and defaults as the notifier's signature, so the pages and the emails agree."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from notifier.settings import Settings as NotifierSettings
from web import i18n, progress, reasons
from web.app import Settings
from web.contact import VendorContact
from web.pages.common import templates

STATUS = {
    "legal_name": "Acme Télécom",
    "step": "registered",
    "overdue": False,
    "profile_reference": None,
    "milestones": [],
    "due_at": {},
    "dossier": {},
    "missing_for_go_live": [],
}
SUPPORT = {
    "tickets": [],
    "approval": None,
    "reports": [],
    "catalogue": {"current_certified": None, "releases": []},
    "checklist": [],
    "failed": None,
    "refusal": None,
    "given": {},
}


@pytest.fixture(params=["fr", "en"])
def lang(request: pytest.FixtureRequest) -> Iterator[str]:
    token = i18n.current_locale.set(request.param)
    yield request.param
    i18n.current_locale.reset(token)


def page(template: str, contact: VendorContact, **context: Any) -> str:
    base = {"person": None, "csrf_token": "t", "path": "/portal", "flash": None}
    return templates.get_template(template).render(
        **base,
        lang=i18n.current_locale.get(),
        reasons=reasons,
        progress=progress,
        contact=contact,
        **context,
    )


def rendered_pages(contact: VendorContact) -> list[str]:
    home = page("portal/home.html", contact, status=STATUS, steps=[], ism=None)
    support = page("portal/support.html", contact, **SUPPORT)
    return [home, support]


LABELS = {
    "fr": ("Votre contact chez Caisse Libre Éditions", "Téléphone du support", "Horaires du support"),
    "en": ("Your contact at Caisse Libre Éditions", "Support phone", "Support hours"),
}
HOURS = {
    "fr": "lundi–vendredi 9 h–12 h, 14 h–18 h",
    "en": "Monday–Friday 9:00–12:00, 14:00–18:00 (Paris time)",
}


def contact_block(html: str) -> str:
    start = html.index('<section id="contact"')
    return html[start : html.index("</section>", start)]


@pytest.mark.parametrize("template", ["home", "support"])
def test_the_home_and_support_pages_name_the_contact_in_the_readers_language(
    lang: str, template: str
) -> None:
    contact = VendorContact.from_settings(Settings())
    html = dict(zip(["home", "support"], rendered_pages(contact), strict=True))[template]
    assert '<section id="contact"' in html, "no contact block"
    block = contact_block(html)
    title, phone_label, hours_label = LABELS[lang]
    assert f'<h2 id="contact-title">{title}</h2>' in block
    # Semantic: an <address> holding a definition list, each label a <dt> followed by its <dd>.
    assert "<address>\n<dl>" in block and "</dl>\n</address>" in block
    assert f"<dt>{phone_label}</dt>" in block and f"<dt>{hours_label}</dt>" in block
    assert block.count("<dt>") == block.count("<dd") == 5
    assert '<dd id="contact-person">Claire Dubois, Administratrice des ventes</dd>' in block
    assert '<a id="contact-phone" href="tel:+33184801200">+33 1 84 80 12 00</a>' in block
    assert (
        '<a id="contact-email" href="mailto:support@caisse-libre.example">support@caisse-libre.example</a>'
        in block
    )
    assert f'<dd id="contact-hours">{HOURS[lang]}</dd>' in block
    assert (
        '<dd id="contact-address">Caisse Libre Éditions<br>18 rue de la Caisse<br>75011 Paris<br>France</dd>'
        in block
    )


def test_the_portal_says_what_the_emails_signature_says() -> None:
    # Same setting names, same defaults: set SUPPORT_PHONE once (both services' config) and the
    # portal and the emails change together.
    web, notifier = Settings(), NotifierSettings()
    for name in (
        "vendor_name",
        "sales_admin_name",
        "sales_admin_role",
        "support_phone",
        "support_email",
        "support_hours",
        "support_hours_en",
    ):
        assert getattr(web, name) == getattr(notifier, name), name


def test_a_hostile_setting_is_text_not_markup(lang: str) -> None:
    contact = VendorContact.from_settings(
        Settings(support_phone='+33 1"><script>alert(1)</script>', vendor_address="<b>1 rue</b>; Paris")
    )
    for html in rendered_pages(contact):
        block = contact_block(html)
        assert "<script>" not in block and "<b>" not in block
        assert "&lt;script&gt;" in block and "&lt;b&gt;1 rue&lt;/b&gt;" in block
        assert 'href="tel:+3311"' in block  # digits only: no quote can end the attribute


def test_an_invalid_support_email_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="not an email address"):
        Settings(support_email="support at example")
