"""Uploaded tables (CSV, XLSX, XLS) read into text cells at a bounded cost, whatever the file claims.

A spreadsheet is small on the wire and can be huge once read (issue 16): an XLSX is a zip (a 200 KB
zip can hold a million rows), and openpyxl pads every row to the `<dimension>` the sheet *declares*
(`A1:XFD5000` turns three cells into 82 million). So, before any parsing:

- XLSX: the zip's member count and total declared uncompressed size are capped (`zipfile` then
  refuses to inflate a member past its declared size, so the declaration binds); the sheet is
  streamed row by row by openpyxl's read-only reader with the declared dimension thrown away;
- XLS: the file's size is capped (xlrd reads the whole file, there is no streaming for BIFF);
- CSV: read row by row from the bytes, never decoded whole into one string.

Reading stops at `max_rows` rows with content (+ the header): the caller gets `TableTooLarge`, not a
list built to the end. Rows are returned as text cells (Excel numbers as their shortest exact decimal
text); what the columns mean is the caller's business (the table importers in onboarding and
ism-provisioning). openpyxl and xlrd are imported lazily: the services that read tables depend on them.

This bounds the work a well-formed hostile file can ask for; a malformed one that trips a library bug
is bounded by the worker process it is read in (`chassis.isolation`).
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chassis.tables import sniff_delimiter

#: Kinds of table, told from the content's first bytes (never from the file's name).
XLSX, XLS, CSV = "XLSX", "XLS", "CSV"


@dataclass(frozen=True)
class TableLimits:
    #: Rows with content after the header (the row limit the business sets).
    max_rows: int = 20_000
    max_columns: int = 200
    #: XLSX: an Excel workbook has ~10-20 members; a 20,000-row table's XML is ~10-15 MB.
    max_zip_members: int = 500
    max_unzipped_bytes: int = 32 * 1024 * 1024
    #: XLS is read whole by xlrd.
    max_xls_bytes: int = 8 * 1024 * 1024
    #: One CSV cell (csv's own default is 128 KiB).
    max_cell_chars: int = 32_767  # Excel's limit for one cell


class UnreadableTable(ValueError):
    """The file does not open as the table it claims to be (the reason says why, for the user)."""


class TableTooLarge(UnreadableTable):
    """Over one of the `TableLimits`: refused before or while reading, never read to the end."""


def kind_of(content: bytes) -> str:
    if content.startswith(b"PK\x03\x04"):
        return XLSX
    if content.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE2, the .xls container
        return XLS
    return CSV


def read_rows(content: bytes, kind: str, limits: TableLimits | None = None) -> list[list[str]]:
    """The first sheet (or the CSV) as text cells, header included, trailing empty rows dropped.

    Raises `TableTooLarge` past a limit and `UnreadableTable` for a file that does not open."""
    limits = limits or TableLimits()
    if kind == XLSX:
        raw = _xlsx_rows(content, limits)
    elif kind == XLS:
        raw = _xls_rows(content, limits)
    elif kind == CSV:
        raw = _csv_rows(content, limits)
    else:
        raise ValueError(f"not a table kind: {kind}")
    return _bounded(raw, limits)


def _bounded(raw: Iterable[list[str]], limits: TableLimits) -> list[list[str]]:
    """Collect rows until past the limit. Empty rows are held back and only kept when a row with
    content follows, so trailing blank rows (Excel's formatted-but-empty rows) neither count nor stay."""
    rows: list[list[str]] = []
    held_empty = 0
    for row in raw:
        if len(row) > limits.max_columns:
            raise TableTooLarge(
                f"row {len(rows) + held_empty + 1} has more than {limits.max_columns} columns"
            )
        if not any(cell.strip() for cell in row):
            held_empty += 1
            continue
        rows.extend([] for _ in range(held_empty))
        held_empty = 0
        rows.append(row)
        if len(rows) > limits.max_rows + 1:  # + 1: the header
            raise TableTooLarge(
                f"more than {limits.max_rows} rows (the header aside): at most {limits.max_rows}"
            )
    return rows


def cell_text(value: Any) -> str:
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


# --- XLSX ------------------------------------------------------------------------------------------


def check_zip(content: bytes, limits: TableLimits) -> None:
    """Refuse a zip whose central directory declares too many members or too many bytes inflated."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as bad:
        raise UnreadableTable(f"the workbook does not open (not a valid zip: {bad})") from None
    if len(members) > limits.max_zip_members:
        raise TableTooLarge(f"the workbook holds {len(members)} parts: at most {limits.max_zip_members}")
    unzipped = sum(member.file_size for member in members)
    if unzipped > limits.max_unzipped_bytes:
        raise TableTooLarge(
            f"the workbook unzips to {unzipped // (1024 * 1024)} MB: "
            f"at most {limits.max_unzipped_bytes // (1024 * 1024)} MB"
        )


def _xlsx_rows(content: bytes, limits: TableLimits) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    check_zip(content, limits)
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as bad:  # openpyxl raises many kinds of errors on a broken file
        raise UnreadableTable(f"the workbook does not open: {type(bad).__name__}") from None
    try:
        if not workbook.worksheets:
            raise UnreadableTable("the workbook has no sheet")
        sheet = workbook.worksheets[0]
        # The declared <dimension> is only a claim: forgotten, rows are as long as their cells.
        sheet.reset_dimensions()
        try:
            for values in sheet.iter_rows(values_only=True):
                yield [cell_text(v) for v in values]
        except TableTooLarge:
            raise
        except Exception as bad:  # the XML breaks in the middle of the sheet
            raise UnreadableTable(f"the workbook does not read: {type(bad).__name__}") from None
    finally:
        workbook.close()


# --- XLS -------------------------------------------------------------------------------------------


def _xls_rows(content: bytes, limits: TableLimits) -> Iterator[list[str]]:
    import xlrd

    if len(content) > limits.max_xls_bytes:
        raise TableTooLarge(
            f"the .xls file is {len(content) // 1024} KB: at most {limits.max_xls_bytes // 1024} KB "
            "(save it as .xlsx or .csv)"
        )
    try:
        book = xlrd.open_workbook(file_contents=content, on_demand=True)
        if book.nsheets == 0:
            raise UnreadableTable("the workbook has no sheet")
        sheet = book.sheet_by_index(0)
    except UnreadableTable:
        raise
    except Exception as bad:
        raise UnreadableTable(f"the workbook does not open: {type(bad).__name__}") from None
    for r in range(sheet.nrows):
        row = []
        for cell in sheet.row(r)[: limits.max_columns + 1]:
            if cell.ctype == xlrd.XL_CELL_DATE:
                row.append(cell_text(xlrd.xldate.xldate_as_datetime(cell.value, book.datemode)))
            elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                row.append(cell_text(bool(cell.value)))
            else:
                row.append(cell_text(cell.value if cell.value != "" else None))
        yield row


# --- CSV -------------------------------------------------------------------------------------------


def _csv_rows(content: bytes, limits: TableLimits) -> Iterator[list[str]]:
    if b"\x00" in content[:4096]:
        raise UnreadableTable("the file is binary, not a CSV table")
    encoding = "utf-8-sig" if _is_utf8(content) else "cp1252"  # Excel on a French Windows: cp1252
    # `;` (French Excel: its decimal mark is the comma), `,`, tab or `|`: whichever splits the table
    # (chassis.tables, issue 15), judged on the first lines only.
    delimiter = sniff_delimiter(content[:8192].decode(encoding, errors="replace"))
    text = io.TextIOWrapper(io.BytesIO(content), encoding=encoding, errors="replace", newline="")
    previous = csv.field_size_limit(limits.max_cell_chars)
    try:
        yield from csv.reader(text, delimiter=delimiter)
    except csv.Error as bad:
        raise UnreadableTable(f"the CSV does not parse: {bad}") from None
    finally:
        csv.field_size_limit(previous)


def _is_utf8(content: bytes) -> bool:
    """Checked in chunks, the decoded text thrown away: the file is never held twice."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(content), 64 * 1024):
            decoder.decode(content[start : start + 64 * 1024])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True
