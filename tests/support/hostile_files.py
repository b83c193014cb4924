"""Hostile uploads made on the fly (nothing big committed): files small on the wire that cost a naive
reader gigabytes or minutes, and files that lie about what they are. Issue 16, finding 1.

- `dimension_bomb_xlsx`: ~1.6 KB, three real cells, but `<dimension ref="A1:XFD5000"/>`: openpyxl's
  read-only sheet pads every row to 16,384 columns and fills the gap up to row 5,000 (82 M cells).
- `million_rows_xlsx`: a few hundred KB of zip holding a sheet of a million identical rows.
- `rows_xlsx`: a plain table of `rows` rows, for the row limit (streamed, stopped at the limit).
- `png_declaring`: a valid PNG of any size, its pixels all zero so it compresses ~1000:1 (13000×13000
  RGB is ~500 KB on the wire, 500-700 MB once decoded).
- `fake_pdf`: the PDF magic bytes and an end-of-file marker around junk.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>'
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)


def _row(number: int, cells: list[str]) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = "".join(
        f'<c r="{letters[i]}{number}" t="inlineStr"><is><t>{text}</t></is></c>'
        for i, text in enumerate(cells)
    )
    return f'<row r="{number}">{out}</row>'


def _workbook(write_sheet: object) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as book:
        book.writestr("[Content_Types].xml", _CONTENT_TYPES)
        book.writestr("_rels/.rels", _ROOT_RELS)
        book.writestr("xl/workbook.xml", _WORKBOOK)
        book.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        # Streamed into the zip: the million-row sheet is never one 60 MB string here either.
        with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            write_sheet(sheet)  # type: ignore[operator]
    return buffer.getvalue()


def dimension_bomb_xlsx(dimension: str = "A1:XFD5000") -> bytes:
    """Three cells, a declared dimension of 16,384 columns × 5,000 rows; the last cell on row 5,000 so
    a reader that trusts the dimension fills the 4,997 rows between with 16,384 empty cells each."""

    def sheet(out: io.BufferedIOBase) -> None:
        out.write(f'{_SHEET_HEAD}<dimension ref="{dimension}"/><sheetData>'.encode())
        out.write(_row(1, ["code", "name"]).encode())
        out.write(_row(2, ["A", "B"]).encode())
        out.write(b'<row r="5000"><c r="XFD5000" t="inlineStr"><is><t>x</t></is></c></row>')
        out.write(b"</sheetData></worksheet>")

    return _workbook(sheet)


def rows_xlsx(rows: int, header: list[str] | None = None) -> bytes:
    """A header then `rows` one-cell rows, with an honest dimension."""

    def sheet(out: io.BufferedIOBase) -> None:
        out.write(f'{_SHEET_HEAD}<dimension ref="A1:A{rows + 1}"/><sheetData>'.encode())
        out.write(_row(1, header or ["code"]).encode())
        chunk: list[str] = []
        for number in range(2, rows + 2):
            chunk.append(f'<row r="{number}"><c r="A{number}"><v>{number}</v></c></row>')
            if len(chunk) == 10_000:
                out.write("".join(chunk).encode())
                chunk.clear()
        out.write("".join(chunk).encode())
        out.write(b"</sheetData></worksheet>")

    return _workbook(sheet)


def million_rows_xlsx(rows: int = 1_000_000) -> bytes:
    """A header then a million identical rows without row numbers (allowed: readers count them), so
    the zip squeezes ~60 MB of sheet into a few hundred KB."""

    def sheet(out: io.BufferedIOBase) -> None:
        out.write(f"{_SHEET_HEAD}<sheetData>".encode())
        out.write(_row(1, ["code", "name"]).encode())
        same = b'<row><c t="inlineStr"><is><t>OFFER</t></is></c><c><v>1</v></c></row>' * 10_000
        for _ in range(rows // 10_000):
            out.write(same)
        out.write(b"</sheetData></worksheet>")

    return _workbook(sheet)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int, *, rgb: bool = True) -> bytes:
    """A valid PNG of width×height black pixels (8-bit RGB, or 1-bit grey), at 300 dpi."""
    color_type, bytes_per_row = (2, width * 3) if rgb else (0, (width + 7) // 8)
    bit_depth = 8 if rgb else 1
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    compressor = zlib.compressobj(9)
    scanline = b"\x00" * (bytes_per_row + 1)  # filter byte 0, then the row's zero bytes
    parts = [compressor.compress(scanline * min(256, height - start)) for start in range(0, height, 256)]
    parts.append(compressor.flush())
    dots_per_metre = round(300 / 0.0254)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"pHYs", struct.pack(">IIB", dots_per_metre, dots_per_metre, 1)),
            _chunk(b"IDAT", b"".join(parts)),
            _chunk(b"IEND", b""),
        ]
    )


def fake_pdf(junk_bytes: int = 4096) -> bytes:
    """Starts like a PDF and ends like one; nothing in between is."""
    return b"%PDF-1.7\n" + os.urandom(junk_bytes) + b"\n%%EOF\n"


def real_pdf(pages: int = 1) -> bytes:
    """A real, minimal PDF (pypdf writes it)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=242, height=153)  # a SIM card's 85.6 × 54 mm in points
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
