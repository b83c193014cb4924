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
    (
        re.compile(r"^the call is held within support hours"),
        lambda m: _(
            "The call is held within support hours: 09:00–12:00 or 14:00–18:00, Monday to Friday "
            "except public holidays, Paris time."
        ),
    ),
]


def say(reason: str) -> tuple[str, bool]:
    """The reason in the reader's language when its wording is known, else as given."""
    text = reason.strip()
    for pattern, again in PATTERNS:
        if match := pattern.search(text):
            return again(match), True
    return text, False


def lines(problem: Mapping[str, Any]) -> list[Line]:
    """Every problem a problem+json document names, in its order; its `detail` when it lists none."""
    found: list[Line] = []
    for error in problem.get("errors") or ():
        if not isinstance(error, Mapping):
            continue
        reason = str(error.get("reason") or error.get("message") or error.get("detail") or "")
        if not reason:
            continue
        text, translated = say(reason)
        row = error.get("row")
        found.append(
            Line(
                text,
                translated,
                row=row if isinstance(row, int) else None,
                column=str(error["column"]) if error.get("column") else None,
                field=str(error["field"]) if error.get("field") and error.get("field") != "file" else None,
            )
        )
    if not found:
        detail = str(problem.get("detail") or problem.get("title") or "")
        # A domain refusal: "<item>: reason; reason" — one line per reason, the field it names.
        field = str(problem["field"]) if problem.get("field") else None
        for part in [p for p in detail.split("; ") if p] or [_("The request was refused.")]:
            text, translated = say(part)
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
