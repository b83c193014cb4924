"""Files <-> `TableSnapshot`s: reading the integrator's CSV/XLSX tables, and exporting the configuration.

Onboarding parses the uploaded files and sends their rows in `DossierItemAccepted`; this reader
does the same job (every cell as text) for the samples of the tests and for the ops CLI. Excel
numbers are turned into their shortest exact decimal text, never through a float's full expansion,
so a price typed as 0.15 in Excel stays "0.15".
"""

from __future__ import annotations

import json
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from chassis import bounded
from chassis.exports import csv_text
from contracts.events.common import DossierItem, TableSnapshot
from contracts.events.ism_provisioning import ISM_TABLE_COLUMNS
from ism_provisioning.configuration import Configuration


class UnreadableTable(ValueError):
    """The file is not a table this reader understands."""


def read_table(content: bytes, filename: str) -> TableSnapshot:
    """The first sheet (XLSX) or the whole file (CSV, `,` `;` tab or `|` separated) as text cells,
    read by `chassis.bounded` as onboarding reads uploads: streamed, the declared dimension ignored."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        kind = bounded.XLSX
    elif name.endswith(".csv"):
        kind = bounded.CSV
    else:
        raise UnreadableTable(f"{filename}: a table is a .csv or .xlsx file")
    try:
        rows = bounded.read_rows(content, kind)
    except bounded.UnreadableTable as unreadable:
        raise UnreadableTable(f"{filename}: {unreadable}") from None
    if not rows:
        raise UnreadableTable(f"{filename}: the file is empty")
    return TableSnapshot(columns=[c.strip() for c in rows[0]], rows=rows[1:])


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
