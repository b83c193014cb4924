"""ICCIDs, the numbers printed on SIM cards (ITU-T E.118): 19 or 20 digits, the last a Luhn check digit."""

from __future__ import annotations

import re

from stdnum import luhn

from contracts.errors import CommandRefused

_DIGITS = re.compile(r"\d{19,20}")


def luhn_check_digit(body: str) -> str:
    """The digit that makes `body + digit` pass the Luhn check (python-stdnum's)."""
    return str(luhn.calc_check_digit(body))


def check_iccid(iccid: str, *, field: str) -> str:
    """The ICCID if well formed; a refusal naming `field` otherwise (a typo on a card is caught here)."""
    if not _DIGITS.fullmatch(iccid):
        raise CommandRefused(f"an ICCID has 19 or 20 digits, not {iccid!r}", field=field, code="iccid_format")
    if luhn_check_digit(iccid[:-1]) != iccid[-1]:
        raise CommandRefused(
            f"ICCID {iccid} has a wrong check digit (Luhn): a digit was mistyped",
            field=field,
            code="iccid_luhn",
        )
    return iccid


def cards_in_range(first: str, last: str) -> int:
    """How many cards a range of consecutive ICCIDs holds: consecutive cards share the issuer
    prefix and differ in the serial number, the check digit being recomputed for each."""
    if len(first) != len(last):
        raise CommandRefused("the first and last ICCIDs of a range have the same length", field="iccid_last")
    count = int(last[:-1]) - int(first[:-1]) + 1
    if count < 1:
        raise CommandRefused("the last ICCID of the range comes before the first", field="iccid_last")
    return count
