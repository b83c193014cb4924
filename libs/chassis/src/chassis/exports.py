"""CSV exports that a spreadsheet opens as data, never as formulas (CSV injection, OWASP).

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel, LibreOffice
or Google Sheets as a formula (`=HYPERLINK(...)`, `@SUM(...)`, DDE). Every export writes its cells
through `spreadsheet_safe`, which puts a `'` in front of such a cell: spreadsheets show the text as
it was typed and evaluate nothing. A plain number (`-12.5`, `+33102030405`) is left as it is: it is
no formula, and an export must read back as the same figures.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

#: The characters that make a spreadsheet read a cell as a formula.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")


def spreadsheet_safe(value: Any) -> str:
    """The cell as text, prefixed with `'` when a spreadsheet would evaluate it."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_LEADS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(header: Iterable[str], rows: Iterable[Iterable[Any]], *, lineterminator: str = "\r\n") -> str:
    """A whole CSV document, every cell (header included) through `spreadsheet_safe`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=lineterminator)
    writer.writerow([spreadsheet_safe(c) for c in header])
    for row in rows:
        writer.writerow([spreadsheet_safe(c) for c in row])
    return out.getvalue()


__all__ = ["FORMULA_LEADS", "csv_text", "spreadsheet_safe"]
