"""A service's refusal as lines a person reads beside the form, in their language: pure.

The services answer problem+json in English: `detail`, and for a refused file an `errors` list of
(row, column, reason) — every problem at once. The most frequent reasons (a logo's size or dpi, a
file lying about its type, a missing column...) are recognised by their fixed wording and said again
in the reader's language; any other reason is shown as the service wrote it (marked English, so a
screen reader pronounces it right), never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from web.i18n import _
from web.progress import item_label


@dataclass(frozen=True)
class Line:
    """One problem: where (row, column or field) and why; `translated` False when in English."""

    reason: str
    translated: bool
    row: int | None = None
    column: str | None = None
    field: str | None = None


Say = Callable[[re.Match[str]], str]

#: The services' fixed wordings (onboarding.checks, onboarding.identifiers, sim-logistics' domain).
PATTERNS: Sequence[tuple[re.Pattern[str], Say]] = [
    (
        re.compile(r"^the image is (\d+)×(\d+) px; exactly (\d+)×(\d+) px is required$"),
        lambda m: _(
            "The image is %(w)s×%(h)s pixels; it must be exactly %(rw)s×%(rh)s pixels.",
            w=m[1],
            h=m[2],
            rw=m[3],
            rh=m[4],
        ),
    ),
    (
        re.compile(r"^the image is at (\d+)×(\d+) dpi; (\d+) dpi is required$"),
        lambda m: _("The image is at %(x)s×%(y)s dpi; it must be at %(dpi)s dpi.", x=m[1], y=m[2], dpi=m[3]),
    ),
    (
        re.compile(r"^the image has no resolution in its metadata; (\d+) dpi is required$"),
        lambda m: _("The image does not say its resolution; it must be saved at %(dpi)s dpi.", dpi=m[1]),
    ),
    (
        re.compile(r"^the file is not an image \(JPEG or PNG expected\)$"),
        lambda m: _("The file is not an image: send a JPEG or PNG."),
    ),
    (
        re.compile(r"^(\w+) images are not accepted: JPEG or PNG only$"),
        lambda m: _("%(kind)s images are not accepted: JPEG or PNG only.", kind=m[1]),
    ),
    (
        re.compile(r"^the file is named (\S+) but its content is (\w+): it lies about its type$"),
        lambda m: _(
            "The file is named %(ext)s but it is a %(kind)s file: rename or convert it.", ext=m[1], kind=m[2]
        ),
    ),
    (re.compile(r"^the file is empty$"), lambda m: _("The file is empty.")),
    (re.compile(r"^the table is empty$"), lambda m: _("The table is empty.")),
    (re.compile(r"^the table has no rows$"), lambda m: _("The table has no rows under its header.")),
    (re.compile(r"^empty row$"), lambda m: _("Empty row.")),
    (re.compile(r"^column appears twice$"), lambda m: _("This column appears twice.")),
    (re.compile(r"^missing column '([^']+)'"), lambda m: _("The column %(column)s is missing.", column=m[1])),
    (
        re.compile(r"^the image is damaged or truncated"),
        lambda m: _("The image is damaged or incomplete: export it again."),
    ),
    (
        re.compile(r"^the PDF is password-protected"),
        lambda m: _("The PDF is protected by a password: send it without one."),
    ),
    (
        re.compile(r"^the file is over the limit of (\d+) bytes$"),
        lambda m: _("The file is too large (at most %(n)s bytes).", n=m[1]),
    ),
    (re.compile(r"^empty: a value is required$"), lambda m: _("Empty: a value is required.")),
    (
        re.compile(r"^duplicate '(.+)' \(already on row (\d+)\)$"),
        lambda m: _("%(value)s appears twice (already on row %(row)s).", value=m[1], row=m[2]),
    ),
    (
        re.compile(r"^the company name '(.+)' is missing$"),
        lambda m: _("The footer text lacks the company name %(name)s.", name=m[1]),
    ),
    (
        re.compile(r"^the address '(.+)' is missing$"),
        lambda m: _("The footer text lacks the address %(address)s.", address=m[1]),
    ),
    (
        re.compile(r"^the SIRET \(14 digits\) is missing$"),
        lambda m: _("The footer text lacks the SIRET (14 digits)."),
    ),
    (
        re.compile(r"^the intra-community VAT number is missing$"),
        lambda m: _("The footer text lacks the intra-community VAT number."),
    ),
    (
        re.compile(r"^the customer-service phone number is missing$"),
        lambda m: _("The footer text lacks the customer-service phone number."),
    ),
    (
        re.compile(r"^the per-minute cost of the customer-service phone is missing"),
        lambda m: _(
            "The footer text lacks the per-minute cost of the customer-service phone (e.g. 0,15 €/min)."
        ),
    ),
    (
        re.compile(r"^the customer-service email is missing$"),
        lambda m: _("The footer text lacks the customer-service email."),
    ),
    (re.compile(r"^the integrator is not approved$"), lambda m: _("Your company is not approved yet.")),
    (
        re.compile(r"^version (.+) was withdrawn$"),
        lambda m: _("Version %(version)s was withdrawn.", version=m[1]),
    ),
    (
        re.compile(r"^(.+) is not the current certified version \((.+)\)$"),
        lambda m: (
            _("%(version)s is not the current certified version (%(current)s).", version=m[1], current=m[2])
            if m[2] != "none"
            else _("%(version)s is not a certified version: none is available.", version=m[1])
        ),
    ),
    (
        re.compile(r"^the hardware is not confirmed compatible$"),
        lambda m: _("The hardware is not confirmed compatible."),
    ),
    (
        re.compile(r"^not attested: (.+)$"),
        lambda m: _("Not attested: %(items)s.", items=", ".join(nf525_label(i) for i in m[1].split(", "))),
    ),
    (
        re.compile(r"^(.+): initial training not recorded$"),
        lambda m: _("%(name)s: initial training not recorded.", name=m[1]),
    ),
    (
        re.compile(r"^(.+): NF525 charter not signed$"),
        lambda m: _("%(name)s: NF525 charter not signed.", name=m[1]),
    ),
    (
        re.compile(r"^no employee representing the integrator is declared$"),
        lambda m: _("No employee representing you is declared yet."),
    ),
    (re.compile(r"^the appointment is in the future$"), lambda m: _("Choose a time still to come.")),
    (
        re.compile(r"^the appointment is within the next six months$"),
        lambda m: _("Choose a time within the next six months."),
    ),
    (
        re.compile(r"^the phone number to call has at least 6 digits$"),
        lambda m: _("Give a phone number of at least 6 digits."),
    ),
    (
        re.compile(r"^the integrator has not confirmed receiving the test SIMs"),
        lambda m: _("Confirm first that you received the test SIMs: the call tests them."),
    ),
    (
        re.compile(r"^the reception of (these test SIMs|the SIMs) is already confirmed$"),
        lambda m: _("The reception is already confirmed."),
    ),
    (
        re.compile(r"^the SIM artwork is not accepted in the onboarding dossier yet$"),
        lambda m: _("Your SIM artwork is not accepted in your dossier yet."),
    ),
    (
        re.compile(r"^this is not the SIM artwork accepted in the onboarding dossier$"),
        lambda m: _(
            "This is not the SIM artwork accepted in your dossier: reload the page and choose it again."
        ),
    ),
    (
        re.compile(r"^the test SIMs are not validated yet$"),
        lambda m: _("The test SIMs are not validated yet."),
    ),
    (
        re.compile(r"^the SIM production is already ordered$"),
        lambda m: _("The SIM production is already ordered."),
    ),
    (
        re.compile(r"^the delivery address is given$"),
        lambda m: _("Give the delivery address."),
    ),
    (
        re.compile(r"^(\w+) is already accepted$"),
        lambda m: _("%(item)s is already accepted.", item=item_label(m[1])),
    ),
    (
        re.compile(r"^the configuration sheet has not been sent to the integrator yet$"),
        lambda m: _("The vendor has not sent you the configuration sheet yet."),
    ),
    (
        re.compile(r"^the ARCEP declaration cannot be sent in the future$"),
        lambda m: _("The date sent to ARCEP cannot be in the future."),
    ),
    (
        re.compile(r"^the receipt comes after sending and not in the future$"),
        lambda m: _("The receipt's date comes after the date sent, and not in the future."),
    ),
    (re.compile(r"^(\w+) is a date \(YYYY-MM-DD\)$"), lambda m: _("Give a valid date.")),
    (
        re.compile(r"^'(.+)' is not an email address"),
        lambda m: _("%(address)s is not a valid email address.", address=m[1]),
    ),
    (
        re.compile(r"^the requester must be one of the integrator's contacts"),
        lambda m: _(
            "Your address is not yet among your company's contacts known to support: try again in a moment, "
            "or ask the vendor to add it."
        ),
    ),
    (
        re.compile(r"^the ticket is closed: reopen it before"),
        lambda m: _("The request is closed: reopen it first."),
    ),
    (
        re.compile(r"^someone else changed this at the same time"),
        lambda m: _("Someone else changed this at the same time: reload the page and try again."),
    ),
    (
        re.compile(r"^the call is held within support hours"),
        lambda m: _(
            "The call is held within support hours: 09:00–12:00 or 14:00–18:00, Monday to Friday "
            "except public holidays, Paris time."
        ),
    ),
]


def nf525_label(item: str) -> str:
    """The NF525 elements an installation report attests (support's checklist)."""
    labels = {
        "inalterability": _("Inalterability of the records"),
        "security": _("Security of the records"),
        "conservation": _("Conservation of the records"),
        "archiving": _("Archiving"),
        "installation_procedure_followed": _("Installation procedure followed"),
        "prerequisites_checked": _("Prerequisites checked"),
        "certificate_handed_to_user": _("Certificate handed to the user"),
    }
    return labels.get(item, item)


def say(reason: str) -> tuple[str, bool]:
    """The reason in the reader's language when its wording is known, else as given."""
    text = reason.strip()
    for pattern, again in PATTERNS:
        if match := pattern.search(text):
            return again(match), True
    return text, False


def _each(reason: str) -> list[tuple[str, bool]]:
    """A reason said again; a domain refusal lists several in one message, "; "-separated (and a
    single reason may itself hold "; "): one line each unless the whole is one known wording."""
    whole = say(reason)
    if whole[1] or "; " not in reason:
        return [whole] if reason.strip() else []
    return [say(part) for part in reason.split("; ") if part.strip()]


def lines(problem: Mapping[str, Any]) -> list[Line]:
    """Every problem a problem+json document names, in its order; its `detail` when it lists none."""
    found: list[Line] = []
    for error in problem.get("errors") or ():
        if not isinstance(error, Mapping):
            continue
        reason = str(error.get("reason") or error.get("message") or error.get("detail") or "")
        if not reason:
            continue
        row = error.get("row")
        for text, translated in _each(reason):
            found.append(
                Line(
                    text,
                    translated,
                    row=row if isinstance(row, int) else None,
                    column=str(error["column"]) if error.get("column") else None,
                    field=str(error["field"])
                    if error.get("field") and error.get("field") != "file"
                    else None,
                )
            )
    if not found:
        detail = str(problem.get("detail") or problem.get("title") or "")
        # A domain refusal: "<item>: reason; reason" — one line per reason, the field it names.
        field = str(problem["field"]) if problem.get("field") else None
        for text, translated in _each(detail) or [(_("The request was refused."), True)]:
            found.append(Line(text, translated, field=field))
    return found


def where(line: Line) -> str:
    """ "Row 3, column price" — where the person looks in their own file."""
    if line.row is not None and line.column:
        return _("Row %(row)s, column %(column)s", row=line.row, column=line.column)
    if line.row is not None:
        return _("Row %(row)s", row=line.row)
    if line.column:
        return _("Column %(column)s", column=line.column)
    return ""
