"""Templates to text: Jinja2, one file per (language, template) with a `subject` and a `body` block.

The same body is compiled twice: once for the plain-text part, once with autoescaping for the HTML
part (paragraphs, clickable links, a layout), so the two parts cannot say different things and no
value reaches the HTML unescaped. Every printed value must be present and non-empty (StrictUndefined
and a `finalize` hook): an email never goes out saying "None" or with a blank where a fact should be;
it fails to render instead, and the failure is recorded and shown to ops.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, pass_context
from markupsafe import Markup

from notifier.vocabulary import LABELS

TEMPLATES_DIR = Path(__file__).parent / "templates"
LOCALES = ("fr", "en")
#: The business runs on French time (support hours, appointments).
PARIS = ZoneInfo("Europe/Paris")


class EmptyPlaceholder(ValueError):
    """A template printed a missing, None or empty value."""


def _finalize(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise EmptyPlaceholder(f"a placeholder rendered as {value!r}")
    return value


def _instant(value: str | datetime) -> datetime:
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    if at.tzinfo is None:
        raise ValueError("naive datetime in an email context")
    return at.astimezone(PARIS)


@pass_context
def _when(ctx: Any, value: str | datetime) -> str:
    """An instant in the reader's language, in Paris time: 'lundi 12 janvier 2026 à 10:00 (heure de Paris)'."""
    labels = LABELS[ctx["locale"]]
    at = _instant(value)
    return labels["when"].format(
        weekday=labels["weekdays"][at.weekday()],
        day=at.day,
        month=labels["months"][at.month - 1],
        year=at.year,
        time=at.strftime("%H:%M"),
    )


@pass_context
def _day(ctx: Any, value: str | date | datetime) -> str:
    labels = LABELS[ctx["locale"]]
    # A calendar day (a date someone declared, "2026-11-20") has no time zone to convert from.
    at: date = (
        _instant(value) if isinstance(value, datetime) or len(str(value)) > 10 else _calendar_day(value)
    )
    return f"{at.day} {labels['months'][at.month - 1]} {at.year}"


def _calendar_day(value: str | date) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


@pass_context
def _agreed(ctx: Any, word: str, item: str) -> str:
    """`word` ("accepted") in the form that agrees with the dossier item's gender and number, as
    the vocabulary declares them next to the item's label: "déclaration ARCEP acceptée"."""
    labels = LABELS[ctx["locale"]]
    return str(labels["agreed"][word][labels["item_forms"][item]])


@pass_context
def _detail(ctx: Any, value: str, name: str) -> str:
    """A declared value as a reader reads it: the days in words, the rest as typed."""
    return str(_day(ctx, value)) if name.endswith("_on") else value


@pass_context
def _money(ctx: Any, value: str | float | Decimal) -> str:
    amount = f"{Decimal(str(value)):.2f}"
    return f"{amount.replace('.', ',')} €" if ctx["locale"] == "fr" else f"€{amount}"


def _environment(autoescape: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        # The text part is plain text by design; the HTML part is compiled with autoescaping.
        autoescape=autoescape,  # noqa: S701
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(when=_when, day=_day, money=_money, agreed=_agreed, detail=_detail)
    return env


TEXT = _environment(autoescape=False)
HTML = _environment(autoescape=True)


@dataclass(frozen=True)
class VendorContact:
    """Who the emails are from and whom to call: the vendor's named sales administrator (seed 000)
    and its support line (seed 004), from the notifier's settings. Signs every email."""

    vendor_name: str
    sales_admin_name: str
    sales_admin_role: str
    sales_admin_phone: str
    sales_admin_email: str
    support_phone: str
    support_email: str
    support_hours: dict[str, str]

    @classmethod
    def from_settings(cls, settings: Any) -> VendorContact:
        return cls(
            vendor_name=settings.vendor_name,
            sales_admin_name=settings.sales_admin_name,
            sales_admin_role=settings.sales_admin_role,
            sales_admin_phone=settings.sales_admin_phone,
            sales_admin_email=settings.sales_admin_email,
            support_phone=settings.support_phone,
            support_email=settings.support_email,
            support_hours={"fr": settings.support_hours, "en": settings.support_hours_en},
        )

    def signature_lines(self, locale: str) -> list[str]:
        labels = LABELS[locale]
        return [
            self.sales_admin_name,
            f"{self.sales_admin_role}, {self.vendor_name}",
            f"{labels['phone']} {self.sales_admin_phone} · {self.sales_admin_email}",
            labels["support_line"].format(
                phone=self.support_phone, email=self.support_email, hours=self.support_hours[locale]
            ),
        ]


@functools.cache
def default_vendor() -> VendorContact:
    from notifier.settings import Settings  # the defaults, for rendering without a running service

    return VendorContact.from_settings(Settings())


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _block(template: Template, name: str, variables: dict[str, Any]) -> str:
    if name not in template.blocks:
        raise LookupError(f"template {template.name} has no {name} block")
    return "".join(template.blocks[name](template.new_context(variables)))


_URL = re.compile(r"https?://[^\s<>\"]+")


def _html_paragraphs(escaped_body: str, trusted: tuple[str, ...]) -> Markup:
    """Blank-line separated paragraphs of already-escaped text into <p>; only the platform's own
    URLs (starting with one of `trusted`) into links. A URL someone typed (a ticket message, a
    rejection reason) stays text: the email does not lend it a clickable look of authority."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", escaped_body) if p.strip()]
    html = []

    def link(match: re.Match[str]) -> str:
        url = match.group(0)
        unescaped = url.replace("&amp;", "&")
        if any(unescaped == t or unescaped.startswith(t.rstrip("/") + "/") for t in trusted):
            return f'<a href="{url}">{url}</a>'
        return url

    for paragraph in paragraphs:
        linked = _URL.sub(link, paragraph)
        html.append("<p>" + "<br>\n".join(line.strip() for line in linked.splitlines()) + "</p>")
    return Markup("\n".join(html))  # noqa: S704 (built only from escaped template output)


def render(
    template: str,
    locale: str,
    context: dict[str, Any],
    *,
    link: str | None = None,
    base_url: str = "http://localhost:8000",
    vendor: VendorContact | None = None,
) -> RenderedEmail:
    """Render one email. `link` is the signed set-password or survey URL when the template has one;
    `base_url` the web front's public origin (document pages: `{{ base_url }}/portal/documents`)."""
    if locale not in LOCALES:
        raise LookupError(f"no templates in {locale!r}")
    vendor = vendor or default_vendor()
    base_url = base_url.rstrip("/")
    variables: dict[str, Any] = {
        **context,
        "locale": locale,
        "labels": LABELS[locale],
        "base_url": base_url,
        "vendor": vendor,
    }
    if link is not None:
        variables["link"] = link
    name = f"{locale}/{template}.j2"
    # A subject is one line: whatever a value contains, no line break reaches the header.
    subject = " ".join(_block(TEXT.get_template(name), "subject", variables).split())
    if not subject:
        raise EmptyPlaceholder(f"{name}: empty subject")
    body_text = _block(TEXT.get_template(name), "body", variables).strip()
    body_html = _block(HTML.get_template(name), "body", variables)
    signature = vendor.signature_lines(locale)
    text = f"{body_text}\n\n-- \n" + "\n".join(signature) + "\n"
    trusted = (base_url, link) if link else (base_url,)
    html = HTML.get_template("layout.html.j2").render(
        lang=locale, subject=subject, body=_html_paragraphs(body_html, trusted), signature=signature
    )
    return RenderedEmail(subject=subject, text=text, html=html)
