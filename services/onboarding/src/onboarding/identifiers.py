"""French company identifiers and the invoice footer text: pure string checks (python-stdnum for Luhn).

Kept apart from `checks.py` (which reads files with Pillow/openpyxl) so the domain can use them
without importing any parsing library.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from stdnum import luhn
from stdnum.fr import siret as stdnum_siret

# A word with an @ in running text, cut at spaces and at what surrounds an address in a sentence
# (brackets, quotes, commas, "mailto:"); whether it is an address is email-validator's business.
_WORD_WITH_AT = re.compile(r"[^\s<>()\[\]{},;:\"«»“”]+@[^\s<>()\[\]{},;:\"«»“”]+")
# A French number as printed on an invoice: 01 70 61 81 81, 0170618181, +33 1 70 61 81 81.
_PHONE = re.compile(r"(?:\+33\s?(?:\(0\)\s?)?|0)[1-9](?:[\s.\-]?\d{2}){4}")
# "0,15 €/min", "0.35 EUR TTC par minute", "0,15€ la minute", "appel gratuit"/"service gratuit".
_COST_PER_MINUTE = re.compile(
    r"\d+(?:[.,]\d+)?\s*(?:€|eur(?:os?)?)\s*(?:ttc\s*)?(?:/|par|la)\s*(?:min\b|minute)"
    r"|(?:appel|service)\s+(?:et\s+appel\s+)?gratuits?|prix\s+d.un\s+appel\s+local|non\s+surtax",
    re.IGNORECASE,
)
_SIRET_IN_TEXT = re.compile(r"(?<!\d)(\d{3})\s?(\d{3})\s?(\d{3})\s?(\d{5})(?!\d)")
_VAT_IN_TEXT = re.compile(r"\bFR\s?([0-9A-Z]{2})\s?(\d{3})\s?(\d{3})\s?(\d{3})\b", re.IGNORECASE)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum French SIREN/SIRET numbers carry (python-stdnum's)."""
    return digits.isdigit() and luhn.is_valid(digits)


def siret_problem(siret: str) -> str | None:
    """Why this is not a SIRET, or None: python-stdnum's rule, which knows La Poste's exception (its
    establishments under SIREN 356000000 use a digit sum instead of Luhn, but its head office
    35600000000048 keeps Luhn) — a hand-written copy of that rule had refused the head office."""
    if not re.fullmatch(r"\d{14}", siret):
        return "a SIRET is 14 digits"
    if not luhn_valid(siret[:9]):
        return "the SIREN (first 9 digits of the SIRET) fails its Luhn check"
    if not stdnum_siret.is_valid(siret):
        return "the SIRET fails its Luhn check"
    return None


def vat_key(siren: str) -> int:
    """The French VAT key of a SIREN: (12 + 3 * (SIREN mod 97)) mod 97."""
    return (12 + 3 * (int(siren) % 97)) % 97


def vat_problem(vat_number: str, siren: str) -> str | None:
    """Why this is not the French intra-community VAT number of that SIREN, or None."""
    match = re.fullmatch(r"FR(\d{2})(\d{9})", vat_number)
    if match is None:
        return "a French VAT number is FR, a 2-digit key and the 9-digit SIREN"
    key, vat_siren = match.groups()
    if vat_siren != siren:
        return f"the VAT number is for SIREN {vat_siren}, not {siren}"
    if int(key) != vat_key(siren):
        return f"the VAT key {key} does not match the SIREN (expected {vat_key(siren):02d})"
    return None


def email_problem(email: str) -> str | None:
    """Why this is not an email address, or None: email-validator's syntax rules, the ones pydantic's
    `EmailStr` applies to the events, so an address the API accepts is one the event accepts."""
    try:
        validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as bad:
        return f"{email!r} is not an email address: {bad}"
    return None


def emails_in(text: str) -> set[str]:
    """The email addresses a text shows, lower-cased: every word with an @ that email-validator takes
    (a pattern of our own missed `anne-sophie.d'arc@laposte.fr` and read `arc@laposte.fr`)."""
    found = set()
    for word in _WORD_WITH_AT.findall(text):
        word = word.rstrip(".")  # the full stop of a sentence ending with the address
        if email_problem(word) is None:
            found.add(word.lower())
    return found


def phone_problem(phone: str) -> str | None:
    return None if _PHONE.fullmatch(phone.strip()) else f"{phone!r} is not a French phone number"


def _plain(text: str) -> str:
    """Lower case, no accents, punctuation and runs of spaces folded: how a name is compared."""
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^0-9a-z@.]+", " ", letters).split())


@dataclass(frozen=True)
class CompanyIdentity:
    """What the integrator registered: the footer must show these same facts."""

    legal_name: str
    address: str
    siret: str
    vat_number: str
    customer_service_email: str


def footer_text_problems(text: str, company: CompanyIdentity) -> list[str]:
    """What the invoice footer text lacks of the seed's six elements: company name, address,
    SIRET, intra-community VAT number, customer-service phone with its per-minute cost, and
    customer-service email. Each must be present and, where the integrator registered it, the same."""
    problems: list[str] = []
    plain = _plain(text)
    if _plain(company.legal_name) not in plain:
        problems.append(f"the company name {company.legal_name!r} is missing")
    if _plain(company.address) not in plain:
        problems.append(f"the address {company.address!r} is missing")

    sirets = ["".join(m.groups()) for m in _SIRET_IN_TEXT.finditer(text)]
    if not sirets:
        problems.append("the SIRET (14 digits) is missing")
    elif company.siret not in sirets:
        bad = next((s for s in sirets if siret_problem(s)), None)
        problems.append(
            f"the SIRET {bad} is not valid: {siret_problem(bad)}"
            if bad
            else f"the SIRET shown is not the registered one ({company.siret})"
        )

    vats = [("FR" + "".join(m.groups())).upper() for m in _VAT_IN_TEXT.finditer(text)]
    if not vats:
        problems.append("the intra-community VAT number is missing")
    elif company.vat_number not in vats:
        problem = vat_problem(vats[0], company.siret[:9])
        problems.append(f"the VAT number {vats[0]} is wrong: {problem or 'not the registered one'}")

    # The SIRET's digits would read as a phone number too: look for the phone once they are removed.
    without_ids = _VAT_IN_TEXT.sub(" ", _SIRET_IN_TEXT.sub(" ", text))
    if not _PHONE.search(without_ids):
        problems.append("the customer-service phone number is missing")
    if not _COST_PER_MINUTE.search(text):
        problems.append("the per-minute cost of the customer-service phone is missing (e.g. 0,15 €/min)")

    emails = emails_in(text)
    if not emails:
        problems.append("the customer-service email is missing")
    elif company.customer_service_email.lower() not in emails:
        problems.append(f"the customer-service email shown is not {company.customer_service_email}")
    return problems
