"""Whom an integrator calls: the vendor's named contact and support line, shown on the portal's home
and support pages. The settings carry the notifier's names and defaults (VENDOR_NAME,
SALES_ADMIN_NAME/_ROLE, SUPPORT_PHONE/_EMAIL/_HOURS/_HOURS_EN) so the portal and the emails'
signature say the same thing; VENDOR_ADDRESS is the portal's own (the postal address)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from web import i18n


@dataclass(frozen=True)
class VendorContact:
    vendor_name: str
    person_name: str
    person_role: str
    phone: str
    email: str
    hours: dict[str, str]
    #: The postal address, one entry per line (the setting separates lines with ";").
    address_lines: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Any) -> VendorContact:
        return cls(
            vendor_name=settings.vendor_name,
            person_name=settings.sales_admin_name,
            person_role=settings.sales_admin_role,
            phone=settings.support_phone,
            email=settings.support_email,
            hours={"fr": settings.support_hours, "en": settings.support_hours_en},
            address_lines=tuple(line.strip() for line in settings.vendor_address.split(";") if line.strip()),
        )

    @property
    def phone_href(self) -> str:
        # A tel: URI carries no spaces or punctuation (RFC 3966 allows them as visual separators,
        # but not every dialer does): the leading + and the digits only.
        return "tel:" + re.sub(r"[^0-9+]", "", self.phone)

    @property
    def email_href(self) -> str:
        return "mailto:" + self.email

    def hours_in(self, locale: str | None = None) -> str:
        return self.hours.get(locale or i18n.current_locale.get()) or self.hours[i18n.DEFAULT_LOCALE]


def of(request: Any) -> VendorContact:
    """The contact of the running web front, from its settings (cheap: a few strings)."""
    return VendorContact.from_settings(request.app.state.runtime.settings)
