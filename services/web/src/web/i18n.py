"""French and English for the pages: messages from a gettext catalogue, dates and amounts by Babel.

The source strings are English; `locale/fr/LC_MESSAGES/*.po` hold the French ones (French is the
default language of the platform), one catalogue per part of the site (public, portal, console). The catalogue is read with Babel at start — no compile step — and
served by the standard library's gettext (plural forms from the `.po` header's `Plural-Forms`,
`pgettext` contexts for words that agree with what they are said of); `tests` check that every string
of the templates and pages has its French translation, plural ones as plural entries.
"""

from __future__ import annotations

import gettext as gettext_module
from collections.abc import Callable
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale as BabelLocale
from babel.dates import format_date, format_datetime, format_time, format_timedelta
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

LOCALES = ("fr", "en")
DEFAULT_LOCALE = "fr"
#: The vendor's time zone: every date a person reads is in it.
TIMEZONE = ZoneInfo("Europe/Paris")
LOCALE_DIR = Path(__file__).parent / "locale"

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)


def _translated(message: Message) -> bool:
    forms = message.string if isinstance(message.string, tuple) else (message.string,)
    return bool(message.id) and not message.fuzzy and all(forms)


def _catalog(locale: str) -> Catalog:
    """The part catalogues of one language merged (the first one's header, its `Plural-Forms`, rules
    them all); a message's context (`msgctxt`) stays part of its key. Untranslated ones are left out."""
    merged = Catalog(locale=locale)
    for n, path in enumerate(sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po"))):
        with path.open("rb") as f:
            part = read_po(f, locale=locale)
        if n == 0:
            merged.mime_headers = part.mime_headers
        for message in part:
            if _translated(message):
                merged[message.id] = message
    return merged


def _translations(catalog: Catalog) -> gettext_module.NullTranslations:
    """The catalogue as the standard library's translations: gettext's plural forms (the `.po`
    header's `Plural-Forms`) and contexts, without a compile step at build time."""
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext_module.GNUTranslations(compiled)


#: Per language: which messages are translated, (msgid, context) — what `web.catalog` checks; a
#: plural message by its singular, and in PLURALS too (a singular entry does not serve `ngettext`).
CATALOGS: dict[str, set[tuple[str, str | None]]] = {}
PLURALS: dict[str, set[tuple[str, str | None]]] = {}
TRANSLATIONS: dict[str, gettext_module.NullTranslations] = {}
for _locale in LOCALES:
    _merged = _catalog(_locale)
    CATALOGS[_locale] = {
        (str(m.id[0] if isinstance(m.id, tuple) else m.id), m.context) for m in _merged if m.id
    }
    PLURALS[_locale] = {(str(m.id[0]), m.context) for m in _merged if isinstance(m.id, tuple)}
    # English is the source language: its messages are the msgids themselves.
    TRANSLATIONS[_locale] = _translations(_merged) if CATALOGS[_locale] else gettext_module.NullTranslations()


def _current() -> gettext_module.NullTranslations:
    return TRANSLATIONS.get(current_locale.get(), TRANSLATIONS[DEFAULT_LOCALE])


def gettext(message: str, **variables: Any) -> str:
    text = _current().gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    """The form for `n` by the language's plural rule ("1 réponse", "0 réponse", "2 réponses")."""
    variables.setdefault("num", n)
    return _current().ngettext(singular, plural, n) % variables


def pgettext(context: str, message: str, **variables: Any) -> str:
    """A message whose translation depends on what it is said of (`context`): French "delivered"
    agrees with what was delivered ("commande livrée", "logo livré")."""
    text = _current().pgettext(context, message)
    return text % variables if variables else text


def npgettext(context: str, singular: str, plural: str, n: int, **variables: Any) -> str:
    variables.setdefault("num", n)
    return _current().npgettext(context, singular, plural, n) % variables


_ = gettext


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is declared; it is translated where it is shown."""
    return message


def negotiate(accept_language: str | None) -> str:
    """The best of our languages for an `Accept-Language` header; French when none fits."""
    if not accept_language:
        return DEFAULT_LOCALE
    preferred = [part.split(";")[0].strip().replace("-", "_") for part in accept_language.split(",")]
    best = BabelLocale.negotiate(preferred, list(LOCALES), sep="_")
    return str(best) if best else DEFAULT_LOCALE


def _as_datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def when(value: Any, fmt: str | None = None) -> str:
    """A date and time to the minute (`14 déc. 2026, 09:00`), in the person's language and the
    vendor's time zone; `fmt` a Babel format name for another length."""
    moment = _as_datetime(value)
    if moment is None:
        return "—"
    locale = current_locale.get()
    if fmt is not None:
        return format_datetime(moment, fmt, tzinfo=TIMEZONE, locale=locale)
    local = moment.astimezone(TIMEZONE)
    return (
        f"{format_date(local.date(), 'medium', locale=locale)}, {format_time(local, 'short', locale=locale)}"
    )


def day(value: Any) -> str:
    if isinstance(value, date) and not isinstance(value, datetime):
        return format_date(value, "long", locale=current_locale.get())
    moment = _as_datetime(value)
    if moment is None:
        return "—"
    return format_date(moment.astimezone(TIMEZONE).date(), "long", locale=current_locale.get())


def amount(value: Any, currency: str = "EUR") -> str:
    if value is None or value == "":
        return "—"
    return format_currency(Decimal(str(value)), currency, locale=current_locale.get())


def number(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return format_decimal(Decimal(str(value)), locale=current_locale.get())


def duration(seconds: Any) -> str:
    if seconds is None:
        return "—"
    return format_timedelta(float(seconds), locale=current_locale.get(), threshold=1.0)


FILTERS: dict[str, Callable[..., str]] = {
    "when": when,
    "day": day,
    "amount": amount,
    "number": number,
    "duration": duration,
}
