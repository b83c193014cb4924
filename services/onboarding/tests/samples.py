"""Dossier files made on the fly with Pillow and openpyxl, good and bad, for the unit and real-stack tests."""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook
from PIL import Image


def image(size: tuple[int, int] = (95, 95), fmt: str = "PNG", dpi: int | None = 300) -> bytes:
    out = io.BytesIO()
    options: dict[str, object] = {"dpi": (dpi, dpi)} if dpi is not None else {}
    Image.new("RGB", size, (200, 30, 40)).save(out, format=fmt, **options)
    return out.getvalue()


def logo(**kwargs: object) -> bytes:
    return image((95, 95), **kwargs)  # type: ignore[arg-type]


def banner(**kwargs: object) -> bytes:
    return image((760, 95), **kwargs)  # type: ignore[arg-type]


def truncated_png() -> bytes:
    whole = logo()
    return whole[: len(whole) // 2]


def pdf(pages: int = 1) -> bytes:
    """A real PDF (written by pypdf) of blank SIM-card-sized pages."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=242, height=153)  # 85.6 × 54 mm in points
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def workbook(rows: Sequence[Sequence[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def configuration_sheet(filled: bool = True) -> bytes:
    return workbook(
        [
            ["Nom commercial de la marque", "Télécom Exemple"],
            ["Type d'offre", "Postpaid"],
            ["Nom affiché sur le réseau (SPN)", "TELEXEMPLE" if filled else None],
        ]
    )


def csv(rows: Sequence[Sequence[str]], sep: str = ",") -> bytes:
    return "\n".join(sep.join(row) for row in rows).encode()


OFFERS = [
    ["code", "name", "monthly_price_eur", "data_gb", "voice_minutes", "sms", "zones"],
    ["ESS-5", "Essentiel 5 Go", "9,99", "5", "120", "illimité", ""],
    ["CONF-50", "Confort 50 Go", "19,99", "50", "illimité", "illimité", "EU"],
]
TARIFFS_METROPOLITAN = [
    ["code", "label", "unit", "price_eur"],
    ["VOICE-NAT", "Appel vers fixes et mobiles en France", "minute", "0.15"],
    ["SMS-NAT", "SMS en France", "sms", "0.10"],
]
TARIFFS_INTERNATIONAL = [
    ["zone", "destination", "voice_per_minute_eur", "sms_eur", "data_per_mb_eur"],
    ["EU", "Allemagne", "0.15", "0.10", "0.05"],
]
TERMINALS = [
    ["brand", "model", "price_eur"],
    ["Samsung", "Galaxy A15", "179.00"],
    ["Fairphone", "Fairphone 5", "699.00"],
]
