"""The delivery note and the tariff grid, generated per integrator from this service's own log.

XLSX (openpyxl; no PDF writer is a dependency here): the delivery note says what was delivered (the
note's number, the quantity, the ICCID range, the delivery address, the artwork by its file name)
and carries the tariff grid; the tariff grid alone is the accepted offers, tariffs and terminals
tables, one sheet each, as onboarding checked them. Built on request from the folded stream: the
same log gives the same document, and nothing is stored that could disagree with the log.
"""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from contracts.events.common import DossierItem
from sim_logistics.domain import SimProcess
from sim_logistics.domain.process import TARIFF_TABLES

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: Sheet titles (31 characters at most in Excel).
SHEETS = {
    DossierItem.OFFERS_TABLE: "Offres - Offers",
    DossierItem.TARIFFS_METROPOLITAN: "Tarifs métropole",
    DossierItem.TARIFFS_INTERNATIONAL: "Tarifs internationaux",
    DossierItem.TERMINALS_TABLE: "Terminaux - Mobiles",
}


def _formula_safe(value: str) -> str:
    """Cells come from the integrator's tables: one that starts like a formula stays text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") and not _number(value) else value


def _number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _tariff_sheets(book: Workbook, state: SimProcess) -> None:
    for table in TARIFF_TABLES:
        snapshot = state.tables.get(table)
        sheet: Worksheet = book.create_sheet(SHEETS[table])
        if snapshot is None:
            sheet.append(["Table non encore acceptée au dossier / table not yet accepted in the dossier"])
            continue
        sheet.append(snapshot.columns)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in snapshot.rows:
            sheet.append([_formula_safe(value) for value in row])


def tariff_grid(state: SimProcess) -> bytes:
    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    _tariff_sheets(book, state)
    return _bytes(book)


def delivery_note(integrator_id: str, state: SimProcess) -> bytes:
    """The delivery note of the integrator's SIMs, with the tariff grid after it. Only once delivered."""
    if state.delivery is None or state.order is None:
        raise ValueError("no delivery yet")
    delivery, order = state.delivery, state.order
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Bon de livraison"
    sheet.append(["Bon de livraison / Delivery note", delivery.delivery_note_number])
    sheet["A1"].font = Font(bold=True)
    for label, value in (
        ("Intégrateur / Integrator", integrator_id),
        ("Quantité / Quantity", delivery.quantity),
        ("Premier ICCID / First ICCID", delivery.iccid_first),
        ("Dernier ICCID / Last ICCID", delivery.iccid_last),
        ("Adresse de livraison / Delivery address", order.delivery_address),
        ("Personnalisation graphique / Artwork", order.artwork_filename or order.artwork_reference[:12]),
        ("Profil électrique / Electrical profile", state.profile_reference or ""),
    ):
        # ICCIDs are 19-20 digits: kept as text, or a spreadsheet shows them rounded.
        sheet.append([label, _formula_safe(value) if isinstance(value, str) else value])
    sheet.column_dimensions["A"].width = 44
    sheet.column_dimensions["B"].width = 40
    _tariff_sheets(book, state)
    return _bytes(book)


def _bytes(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
