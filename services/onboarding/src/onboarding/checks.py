"""Checks of the dossier files on submission: bytes in, verdict out, no I/O (DOMAIN.md §1's table).

Images are read with Pillow (the real format, pixel size and the dpi written in the file's
metadata), PDFs with pypdf, spreadsheets with `chassis.bounded` (openpyxl, xlrd or csv, streamed and
capped). A file is judged by its content, never by its name: a GIF renamed `.png` is refused as a
file lying about its type. Every check reads only as much as its verdict needs: an image's size and
dpi come from its header, before any pixel is decoded (a 500 KB PNG can declare 13000×13000 px).
The API runs these checks in a worker process with memory and time limits (`chassis.isolation`).
Problems are reported the way the integrator can fix them: (row, column, reason), the header
being row 1 as in their spreadsheet.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from typing import Any

from chassis import bounded
from chassis.tables import import_rows
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
#: Images without a required size (SIM artwork, a scanned ARCEP form): an A4 page at 300 dpi is 9 Mpx;
#: past this the decode alone (4 bytes a pixel) would cost more memory than the worker is allowed.
MAX_IMAGE_PIXELS = 25_000_000
MAX_PDF_PAGES = 100


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

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised in the worker process, re-raised in the API: it must pickle with its problems.
        return (FileRefused, (self.problems,))


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
        # Image.open reads the header only: format, size and dpi, no pixel decoded yet. Pillow's own
        # bomb warning is ours to judge (below, with the size the item needs).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as header:
                kind = header.format or "?"
                width, height = header.size
                dpi = header.info.get("dpi")
    except UnidentifiedImageError:
        raise FileRefused([Problem("the file is not an image (JPEG or PNG expected)")]) from None
    except Image.DecompressionBombError:
        raise FileRefused(
            [Problem(f"the image declares over {2 * Image.MAX_IMAGE_PIXELS // 1_000_000} Mpx: far too large")]
        ) from None
    except (OSError, SyntaxError, ValueError) as broken:
        raise FileRefused([Problem(f"the image is damaged or truncated: {broken}")]) from None
    if kind not in _IMAGE_MEDIA:
        raise FileRefused([Problem(f"{kind} images are not accepted: JPEG or PNG only")])
    problems = _image_header_problems(kind, filename, (width, height), dpi, size)
    if problems:
        raise FileRefused(problems)  # refused on what the header says: nothing decoded
    try:
        with Image.open(io.BytesIO(content)) as probe:
            probe.verify()  # structure and checksums (PNG CRCs)
        with Image.open(io.BytesIO(content)) as image:
            image.load()  # decode every pixel (a bounded number now): a truncated file fails here
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as broken:
        raise FileRefused([Problem(f"the image is damaged or truncated: {broken}")]) from None
    return CheckedFile(media_type=_IMAGE_MEDIA[kind])


def _image_header_problems(
    kind: str, filename: str, pixels: tuple[int, int], dpi: Any, size: tuple[int, int] | None
) -> list[Problem]:
    width, height = pixels
    problems: list[Problem] = []
    if lie := _name_matches(kind, filename):
        problems.append(lie)
    if size is None and width * height > MAX_IMAGE_PIXELS:
        problems.append(
            Problem(
                f"the image is {width}×{height} px ({width * height // 1_000_000} Mpx): "
                f"at most {MAX_IMAGE_PIXELS // 1_000_000} Mpx"
            )
        )
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
    return problems


def check_pdf(content: bytes, filename: str) -> CheckedFile:
    """A PDF that pypdf parses (cross-reference table, page tree) with 1 to MAX_PDF_PAGES pages: the
    magic bytes alone say nothing (issue 16: `%PDF-` + junk + `%%EOF` was accepted)."""
    if not content.startswith(b"%PDF-"):
        raise FileRefused([Problem("the file is not a PDF")])
    if lie := _name_matches("PDF", filename):
        raise FileRefused([lie])
    if b"%%EOF" not in content[-2048:]:
        raise FileRefused([Problem("the PDF is truncated (no end-of-file marker)")])
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its repair warnings are not our problems
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted:
            raise FileRefused([Problem("the PDF is password-protected: send it without a password")])
        pages = len(reader.pages)
        if pages:
            reader.pages[0].mediabox  # the first page's dictionary resolves  # noqa: B018
    except FileRefused:
        raise
    except Exception as broken:  # pypdf raises many kinds of errors on a broken file
        raise FileRefused([Problem(f"the PDF does not parse: {type(broken).__name__}")]) from None
    if pages < 1:
        raise FileRefused([Problem("the PDF has no page")])
    if pages > MAX_PDF_PAGES:
        raise FileRefused([Problem(f"the PDF has {pages} pages: at most {MAX_PDF_PAGES}")])
    return CheckedFile(media_type="application/pdf")


# --- spreadsheets ---------------------------------------------------------------------------------------


def read_rows(content: bytes, filename: str, *, allow_csv: bool = True) -> tuple[str, list[list[str]]]:
    """The first sheet (or the CSV) as text cells, trailing empty rows dropped; the kind read.
    Read by `chassis.bounded`: streamed, the declared dimension ignored, stopped past the row limit."""
    kind = bounded.kind_of(content)
    ext = _extension(filename)
    if kind == "CSV":
        if not allow_csv or ext in {".xls", ".xlsx"}:
            raise FileRefused([Problem(f"the file is not an Excel workbook ({ext or 'no extension'})")])
        if ext and ext not in {".csv", ".txt"}:
            raise FileRefused([Problem(f"{ext} files are not accepted: CSV, XLSX or XLS")])
    elif lie := _name_matches(kind, filename):
        raise FileRefused([lie])
    try:
        rows = bounded.read_rows(content, kind, bounded.TableLimits(max_rows=MAX_TABLE_ROWS))
    except bounded.UnreadableTable as unreadable:
        raise FileRefused([Problem(str(unreadable))]) from None
    return kind, [[cell.strip() for cell in row] for row in rows]


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
