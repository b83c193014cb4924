"""Every sentence a page shows exists in French (the platform's default language), and languages are
negotiated as a browser asks."""

from __future__ import annotations

from web import catalog, i18n


def test_every_message_of_the_pages_has_its_french_translation():
    missing = catalog.missing("fr")
    assert not missing, "no French for:\n" + "\n".join(f"{where}: {m}" for m, where in missing.items())


def test_the_messages_are_found_in_templates_and_page_modules():
    used = catalog.used_messages()
    assert "Sign in" in used  # a template
    assert "Wrong email or password." in used  # a page module


def test_french_by_default_english_when_the_browser_prefers_it():
    assert i18n.negotiate(None) == "fr"
    assert i18n.negotiate("en-GB,en;q=0.9,fr;q=0.5") == "en"
    assert i18n.negotiate("de-DE,de;q=0.9") == "fr"
    assert i18n.negotiate("fr-FR,fr;q=0.9,en;q=0.8") == "fr"


def test_dates_and_amounts_read_in_the_persons_language():
    token = i18n.current_locale.set("fr")
    try:
        assert i18n.amount("1234.5") == "1\u202f234,50\xa0€"
        assert "décembre" in i18n.day("2026-12-01T10:00:00+00:00")
    finally:
        i18n.current_locale.reset(token)
    token = i18n.current_locale.set("en")
    try:
        assert i18n.amount("1234.5") == "€1,234.50"
        assert "December" in i18n.day("2026-12-01T10:00:00+00:00")
    finally:
        i18n.current_locale.reset(token)
