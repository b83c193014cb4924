"""Checks of the dossier files on submission: bytes in, verdict out, no I/O (DOMAIN.md §1's table).

Images are read with Pillow (the real format, pixel size and the dpi written in the file's
metadata), spreadsheets with openpyxl (.xlsx), xlrd (.xls) or csv. A file is judged by its content,
never by its name: a GIF renamed `.png` is refused as a file lying about its type.
Problems are reported the way the integrator can fix them: (row, column, reason), the header
being row 1 as in their spreadsheet.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chassis.tables import import_rows, sniff_delimiter
from contracts.events.common import TABLE_ITEMS, DossierItem, TableSnapshot
from contracts.tables import TABLE_SCHEMAS

REQUIRED_DPI = 300
#: Seed 000: "taille 95 X 95 en 300 dpi" for the logo, "760 X 95 en 300 dpi" for the footer banner.
IMAGE_SIZES: dict[DossierItem, tuple[int, int]] = {
    DossierItem.LOGO: (95, 95),
    DossierItem.FOOTER_BANNER: (760, 95),
}
_IMAGE_MEDIA = {"JPEG": "image/jpeg", "PNG": "image/png"}
_EXTENSIONS = {
    "JPEG": {".jpg", ".jpeg"},
    "PNG": {".png"},
    "PDF": {".pdf"},
    "XLSX": {".xlsx"},
    "XLS": {".xls"},
    "CSV": {".csv"},
}
_XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_TABLE_ROWS = 20_000


@dataclass(frozen=True)
class Problem:
    reason: str
    row: int | None = None
    column: str | None = None
    #: The cell as written, for a table's bad cell.
    value: str | None = None

    def as_dict(self) -> dict[str, Any]:
        cell = {"value": self.value} if self.value is not None else {}
        return {"row": self.row, "column": self.column, **cell, "reason": self.reason}


class FileRefused(Exception):
    """The file does not pass the item's checks; `problems` says every reason found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.reason for p in problems[:5]))
        self.problems = problems


@dataclass(frozen=True)
class CheckedFile:
    """What a file turned out to be: its real media type and, for tables, the parsed rows."""

    media_type: str
    table: TableSnapshot | None = None
    #: A table's columns read past (comments, columns not part of the table): said to the sender.
    ignored_columns: tuple[str, ...] = ()


def check_dossier_file(item: DossierItem, content: bytes, filename: str) -> CheckedFile:
    """Check a submitted file as its dossier item requires; raise FileRefused with every problem."""
    if not content:
        raise FileRefused([Problem("the file is empty")])
    if item in IMAGE_SIZES:
        return check_image(content, filename, IMAGE_SIZES[item])
    if item is DossierItem.SIM_ARTWORK:
        if content.startswith(b"%PDF-"):
            return check_pdf(content, filename)
        return check_image(content, filename, None)
    if item is DossierItem.ELECTRICAL_PROFILE_SHEET:
        return check_configuration_sheet(content, filename)
    if item in TABLE_ITEMS:
        return check_table(item, content, filename)
    if item is DossierItem.ARCEP_DECLARATION:
        # The form as filled and sent, or ARCEP's receipt: a PDF or a scan.
        if content.startswith(b"%PDF-"):
            return check_pdf(content, filename)
        return check_image(content, filename, None)
    raise FileRefused([Problem(f"{item.value} is not submitted as a file")])


def _extension(filename: str) -> str:
    match = re.search(r"\.[A-Za-z0-9]+$", filename)
    return match.group(0).lower() if match else ""


def _name_matches(kind: str, filename: str) -> Problem | None:
    ext = _extension(filename)
    if ext and ext not in _EXTENSIONS[kind]:
        return Problem(f"the file is named {ext} but its content is {kind}: it lies about its type")
    return None


# --- images ---------------------------------------------------------------------------------------------


def check_image(content: bytes, filename: str, size: tuple[int, int] | None) -> CheckedFile:
    """A JPEG or PNG that decodes whole; with `size`, exactly that many pixels at 300 dpi."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(content)) as probe:
            kind = probe.format or "?"
            probe.verify()  # structure and checksums (PNG CRCs)
        with Image.open(io.BytesIO(content)) as image:
            image.load()  # decode every pixel: a truncated file fails here
            width, height = image.size
            dpi = image.info.get("dpi")
    except UnidentifiedImageError:
        raise FileRefused([Problem("the file is not an image (JPEG or PNG expected)")]) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as broken:
        raise FileRefused([Problem(f"the image is damaged or truncated: {broken}")]) from None
    if kind not in _IMAGE_MEDIA:
        raise FileRefused([Problem(f"{kind} images are not accepted: JPEG or PNG only")])
    problems: list[Problem] = []
    if lie := _name_matches(kind, filename):
        problems.append(lie)
    if size is not None:
        if (width, height) != size:
            problems.append(
                Problem(f"the image is {width}×{height} px; exactly {size[0]}×{size[1]} px is required")
            )
        if not dpi:
            problems.append(
                Problem(f"the image has no resolution in its metadata; {REQUIRED_DPI} dpi is required")
            )
        else:
            # PNG stores dots per metre: 300 dpi reads back as 299.9994, hence the rounding.
            x_dpi, y_dpi = (round(float(v)) for v in dpi)
            if (x_dpi, y_dpi) != (REQUIRED_DPI, REQUIRED_DPI):
                problems.append(
                    Problem(f"the image is at {x_dpi}×{y_dpi} dpi; {REQUIRED_DPI} dpi is required")
                )
    if problems:
        raise FileRefused(problems)
    return CheckedFile(media_type=_IMAGE_MEDIA[kind])


def check_pdf(content: bytes, filename: str) -> CheckedFile:
    problems: list[Problem] = []
    if not content.startswith(b"%PDF-"):
        problems.append(Problem("the file is not a PDF"))
    elif b"%%EOF" not in content[-2048:]:
        problems.append(Problem("the PDF is truncated (no end-of-file marker)"))
    elif lie := _name_matches("PDF", filename):
        problems.append(lie)
    if problems:
        raise FileRefused(problems)
    return CheckedFile(media_type="application/pdf")


# --- spreadsheets ---------------------------------------------------------------------------------------


def _kind_of_spreadsheet(content: bytes) -> str:
    if content.startswith(b"PK\x03\x04"):
        return "XLSX"
    if content.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE2, the .xls container
        return "XLS"
    return "CSV"


def read_rows(content: bytes, filename: str, *, allow_csv: bool = True) -> tuple[str, list[list[str]]]:
    """The first sheet (or the CSV) as text cells, trailing empty rows dropped; the kind read."""
    kind = _kind_of_spreadsheet(content)
    ext = _extension(filename)
    if kind == "CSV":
        if not allow_csv or ext in {".xls", ".xlsx"}:
            raise FileRefused([Problem(f"the file is not an Excel workbook ({ext or 'no extension'})")])
        if ext and ext not in {".csv", ".txt"}:
            raise FileRefused([Problem(f"{ext} files are not accepted: CSV, XLSX or XLS")])
        rows = _csv_rows(content)
    else:
        if lie := _name_matches(kind, filename):
            raise FileRefused([lie])
        rows = _xlsx_rows(content) if kind == "XLSX" else _xls_rows(content)
    rows = [[cell.strip() for cell in row] for row in rows]
    while rows and not any(rows[-1]):
        rows.pop()
    return kind, rows


def _csv_rows(content: bytes) -> list[list[str]]:
    if b"\x00" in content[:4096]:
        raise FileRefused([Problem("the file is binary, not a CSV table")])
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("cp1252", errors="replace")  # Excel on a French Windows saves CSV in cp1252
    # `;` (French Excel: its decimal mark is the comma), `,`, tab or `|`: whichever splits the table.
    delimiter = sniff_delimiter(text[:8192])
    try:
        return [list(row) for row in csv.reader(io.StringIO(text), delimiter=delimiter)]
    except csv.Error as bad:
        raise FileRefused([Problem(f"the CSV does not parse: {bad}")]) from None


def _xlsx_rows(content: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as bad:
        raise FileRefused([Problem(f"the workbook does not open: {type(bad).__name__}")]) from None
    try:
        if not workbook.worksheets:
            raise FileRefused([Problem("the workbook has no sheet")])
        sheet = workbook.worksheets[0]
        return [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _xls_rows(content: bytes) -> list[list[str]]:
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=content)
    except Exception as bad:
        raise FileRefused([Problem(f"the workbook does not open: {type(bad).__name__}")]) from None
    if book.nsheets == 0:
        raise FileRefused([Problem("the workbook has no sheet")])
    sheet = book.sheet_by_index(0)
    rows: list[list[str]] = []
    for r in range(sheet.nrows):
        row = []
        for cell in sheet.row(r):
            if cell.ctype == xlrd.XL_CELL_DATE:
                row.append(_cell_text(xlrd.xldate.xldate_as_datetime(cell.value, book.datemode)))
            elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                row.append(_cell_text(bool(cell.value)))
            else:
                row.append(_cell_text(cell.value if cell.value != "" else None))
        rows.append(row)
    return rows


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


# --- the electrical profile configuration sheet ------------------------------------------------------


def check_configuration_sheet(content: bytes, filename: str) -> CheckedFile:
    """The vendor's postpaid configuration sheet (.xls or .xlsx) that opens and is filled in: the
    sheet is a form of labels (column A) and answers (column B), so every label needs its answer."""
    kind, rows = read_rows(content, filename, allow_csv=False)
    problems: list[Problem] = []
    answered = 0
    for number, row in enumerate(rows, start=1):
        label = row[0] if row else ""
        answer = row[1] if len(row) > 1 else ""
        if label and answer:
            answered += 1
        elif label and not answer:
            problems.append(Problem(f"{label!r} is not filled in", row=number, column="B"))
    if answered == 0 and not problems:
        problems.append(Problem("the configuration sheet is empty"))
    if problems:
        raise FileRefused(problems)
    return CheckedFile(media_type=_XLSX_MEDIA if kind == "XLSX" else "application/vnd.ms-excel")


# --- the ISM tables --------------------------------------------------------------------------------------


def check_table(item: DossierItem, content: bytes, filename: str) -> CheckedFile:
    """A tabular item read by the platform's one tolerant table reader (`chassis.tables`) against
    the schema published in `contracts.tables`: French or English headers, decimal commas and
    currency signs, `illimité`, long-form tariffs. Every problem at once (row, column, value,
    reason); accepted, the rows go on in canonical form (the ISM's column names, `12.50`,
    `unlimited`), so ism-provisioning reads exactly what was checked here."""
    kind, rows = read_rows(content, filename)
    imported = import_rows(TABLE_SCHEMAS[item], rows, max_rows=MAX_TABLE_ROWS)
    if imported.problems:
        raise FileRefused(
            [Problem(p.reason, row=p.row, column=p.column, value=p.value) for p in imported.problems]
        )
    media = {"XLSX": _XLSX_MEDIA, "XLS": "application/vnd.ms-excel", "CSV": "text/csv"}[kind]
    return CheckedFile(
        media_type=media,
        table=TableSnapshot(columns=list(imported.columns), rows=imported.canonical_rows()),
        ignored_columns=imported.ignored_columns,
    )
