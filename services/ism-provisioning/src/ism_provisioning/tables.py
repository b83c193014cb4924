"""Files <-> `TableSnapshot`s: reading the integrator's CSV/XLSX tables, and exporting the configuration.

Onboarding parses the uploaded files and sends their rows in `DossierItemAccepted`; this reader
does the same job (every cell as text) for the samples of the tests and for the ops CLI. Excel
numbers are turned into their shortest exact decimal text, never through a float's full expansion,
so a price typed as 0.15 in Excel stays "0.15".
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chassis.exports import csv_text
from chassis.tables import sniff_delimiter
from contracts.events.common import DossierItem, TableSnapshot
from contracts.events.ism_provisioning import ISM_TABLE_COLUMNS
from ism_provisioning.configuration import Configuration


class UnreadableTable(ValueError):
    """The file is not a table this reader understands."""


def read_table(content: bytes, filename: str) -> TableSnapshot:
    """The first sheet (XLSX) or the whole file (CSV, `,` or `;` separated) as text cells."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        rows = _xlsx_rows(content)
    elif name.endswith(".csv"):
        rows = _csv_rows(content)
    else:
        raise UnreadableTable(f"{filename}: a table is a .csv or .xlsx file")
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    if not rows:
        raise UnreadableTable(f"{filename}: the file is empty")
    return TableSnapshot(columns=[c.strip() for c in rows[0]], rows=rows[1:])


def _csv_rows(content: bytes) -> list[list[str]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("cp1252")  # Excel on a French Windows saves CSV in cp1252
    # The same choice as onboarding's: `;` (French Excel), `,`, tab or `|`, whichever splits the table.
    delimiter = sniff_delimiter(text[:8192])
    return [list(row) for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def _xlsx_rows(content: bytes) -> list[list[str]]:
    from openpyxl import load_workbook  # only the XLSX path needs it

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as bad:  # openpyxl raises many kinds of errors on a broken file
        raise UnreadableTable(f"not a readable XLSX workbook: {bad}") from None
    try:
        sheet = workbook.worksheets[0]
        return [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # repr is the shortest text that reads back as the same float: what the user typed.
        text = format(Decimal(repr(value)), "f")
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


# --- export --------------------------------------------------------------------------------------

#: The configuration's sections, named as in the export, with their dossier table.
SECTIONS: dict[str, DossierItem] = {
    "offers": DossierItem.OFFERS_TABLE,
    "metropolitan_tariffs": DossierItem.TARIFFS_METROPOLITAN,
    "international_tariffs": DossierItem.TARIFFS_INTERNATIONAL,
    "terminals": DossierItem.TERMINALS_TABLE,
}


def _plain(value: Any) -> Any:
    """Decimals as text (exact), unlimited allowances as "unlimited", zones `;`-joined in CSV."""
    if isinstance(value, Decimal):
        return str(value)
    return value


def configuration_as_dict(configuration: Configuration) -> dict[str, list[dict[str, Any]]]:
    """JSON-able: prices stay exact decimal strings; an unlimited allowance is `null`."""
    out: dict[str, list[dict[str, Any]]] = {}
    for section in SECTIONS:
        items = getattr(configuration, section)
        out[section] = [
            {k: (list(v) if isinstance(v, tuple) else _plain(v)) for k, v in asdict(item).items()}
            for item in items
        ]
    return out


def configuration_as_json(configuration: Configuration, **header: Any) -> str:
    return json.dumps({**header, **configuration_as_dict(configuration)}, ensure_ascii=False, indent=2)


def section_as_csv(configuration: Configuration, section: str) -> str:
    """One section as CSV with the same columns as the dossier table, so it can be sent back."""
    columns = ISM_TABLE_COLUMNS[SECTIONS[section].value]
    rows = ([_csv_cell(row[c]) for c in columns] for row in configuration_as_dict(configuration)[section])
    # The cells are the integrator's text: none may be read as a formula by a spreadsheet.
    return csv_text(columns, rows, lineterminator="\n")


def _csv_cell(value: Any) -> str:
    if value is None:
        return "unlimited"
    if isinstance(value, list):
        return ";".join(value)
    return str(value)
