"""Sample dossier files for the demo, made on the fly (Pillow, openpyxl): what a real integrator sends."""

from __future__ import annotations

import io
import random
from collections.abc import Sequence

from openpyxl import Workbook
from PIL import Image
from stdnum import luhn


def png(width: int, height: int, dpi: int = 300, colour: tuple[int, int, int] = (20, 90, 160)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()


def logo() -> bytes:
    """95 × 95 px at 300 dpi, as the seed asks for the platform and invoices."""
    return png(95, 95)


def footer_banner() -> bytes:
    """760 × 95 px at 300 dpi."""
    return png(760, 95, colour=(240, 240, 240))


def artwork() -> bytes:
    return png(1000, 630, colour=(200, 30, 40))


def xlsx(rows: Sequence[Sequence[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv(rows: Sequence[Sequence[str]]) -> bytes:
    return ("\n".join(",".join(r) for r in rows) + "\n").encode()


def configuration_sheet() -> bytes:
    """The electrical profile configuration sheet, postpaid, filled in."""
    return xlsx(
        [
            ["Nom commercial de la marque", "Télécom Exemple"],
            ["Type d'offre", "Postpaid"],
            ["Nom affiché sur le réseau (SPN)", "TELEXEMPLE"],
        ]
    )


OFFERS = [
    ["code", "name", "monthly_price_eur", "data_gb", "voice_minutes", "sms", "zones"],
    ["ESS-5", "Essentiel 5 Go", "9.99", "5", "120", "unlimited", ""],
    ["CONF-50", "Confort 50 Go", "19.99", "50", "unlimited", "unlimited", "EU"],
]
TARIFFS_METROPOLITAN = [
    ["code", "label", "unit", "price_eur"],
    ["VOICE-NAT", "Appel vers fixes et mobiles en France", "minute", "0.15"],
    ["SMS-NAT", "SMS en France", "sms", "0.10"],
    ["DATA-NAT", "Données mobiles hors forfait", "mb", "0.05"],
]
TARIFFS_INTERNATIONAL = [
    ["zone", "destination", "voice_per_minute_eur", "sms_eur", "data_per_mb_eur"],
    ["EU", "Allemagne", "0.15", "0.10", "0.05"],
    ["EU", "Espagne", "0.15", "0.10", "0.05"],
]
TERMINALS = [
    ["brand", "model", "price_eur"],
    ["Samsung", "Galaxy A15", "179.00"],
    ["Fairphone", "Fairphone 5", "699.00"],
]


def luhn_check_digit(body: str) -> str:
    """The digit that makes `body + digit` pass the Luhn check (SIREN, SIRET and ICCID all use it)."""
    return str(luhn.calc_check_digit(body))


def siret(rng: random.Random | None = None) -> str:
    """A fresh, valid SIRET (14 digits: a Luhn-valid SIREN, then the establishment, Luhn over all), so
    that every demo run registers a new company: onboarding refuses a SIRET already registered."""
    rng = rng or random.Random()
    body = str(rng.randint(10_000_000, 99_999_999))
    if body.startswith("356"):  # La Poste's SIREN follows another rule: keep away from it
        body = "7" + body[1:]
    siren = body + luhn_check_digit(body)
    establishment = siren + f"{rng.randint(1, 9999):04d}"
    return establishment + luhn_check_digit(establishment)


def vat_number(siren: str) -> str:
    """The French intra-community VAT number of a SIREN: FR, key (12 + 3 × (SIREN mod 97)) mod 97, SIREN."""
    return f"FR{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}"


def spaced_siret(value: str) -> str:
    return f"{value[:3]} {value[3:6]} {value[6:9]} {value[9:]}"


def registration(siret_number: str = "73282932000074") -> dict[str, object]:
    """What ops register for the demo's integrator (seed 000: an MVNO reselling under its own brand)."""
    return {
        "legal_name": "Télécom Exemple SAS",
        "address": "12 rue de la Paix, 75002 Paris",
        "siret": spaced_siret(siret_number),
        "vat_number": vat_number(siret_number[:9]),
        "contacts": [{"name": "Jeanne Martin", "email": "jeanne@telecom-exemple.fr", "phone": "0601020304"}],
        "locale": "fr",
        "customer_service_phone": "01 70 61 81 81",
        "customer_service_cost_per_minute": "0.15",
        "customer_service_email": "support@telecom-exemple.fr",
    }


def footer_text(siret_number: str = "73282932000074") -> str:
    """The invoice footer text: the six elements of seed 000, the same as registered."""
    vat = vat_number(siret_number[:9])
    return (
        f"Télécom Exemple SAS - 12 rue de la Paix, 75002 Paris - SIRET {spaced_siret(siret_number)} - "
        f"TVA {vat[:4]} {vat[4:7]} {vat[7:10]} {vat[10:]} - "
        "Service client 01 70 61 81 81 (0,15 €/min) - support@telecom-exemple.fr"
    )


def iccid(serial: int, prefix: str = "893315000") -> str:
    """A 19-digit ICCID (issuer prefix, serial number, Luhn check digit)."""
    body = f"{prefix}{serial:0{18 - len(prefix)}d}"
    return body + luhn_check_digit(body)


REGISTRATION = registration()
FOOTER_TEXT = footer_text()
