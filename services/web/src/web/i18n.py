"""French and English for the pages: messages from a gettext catalogue, dates and amounts by Babel.

The source strings are English; `locale/fr/LC_MESSAGES/*.po` hold the French ones (French is the
default language of the platform), one catalogue per part of the site (public, portal, console). The catalogue is read with Babel at start — no compile step —
and `tests` check that every string of the templates and pages has its French translation.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale as BabelLocale
from babel.dates import format_date, format_datetime, format_time, format_timedelta
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

LOCALES = ("fr", "en")
DEFAULT_LOCALE = "fr"
#: The vendor's time zone: every date a person reads is in it.
TIMEZONE = ZoneInfo("Europe/Paris")
LOCALE_DIR = Path(__file__).parent / "locale"

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)


def _load(locale: str) -> dict[str, str]:
    messages: dict[str, str] = {}
    for path in sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as f:
            catalog = read_po(f, locale=locale)
        messages.update({str(m.id): str(m.string) for m in catalog if m.id and m.string and not m.fuzzy})
    return messages


CATALOGS: dict[str, dict[str, str]] = {locale: _load(locale) for locale in LOCALES}


def gettext(message: str, **variables: Any) -> str:
    text = CATALOGS.get(current_locale.get(), {}).get(message, message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    chosen = singular if n == 1 else plural
    variables.setdefault("num", n)
    return gettext(chosen, **variables)


_ = gettext


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
