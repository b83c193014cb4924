"""Tables as integrators make them, submitted as files: read whatever the shape, refused with every
problem listed. The rows go on in the ISM's canonical form, whatever the file looked like."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pytest

from contracts.events.common import DossierItem
from onboarding.checks import FileRefused, check_dossier_file

from . import samples

FRENCH_OFFERS = [
    ["Code offre", "Nom de l'offre", "Prix mensuel (€)", "Data (Go)", "Minutes voix", "SMS", "Zones"],
    ["ESS-5", "Essentiel 5 Go", "9,99 €", "5 Go", "120", "illimité", ""],
    ["CONF-50", "Confort 50 Go", "19,99", "50", "Illimité", "illimité", "EU"],
]
CANONICAL_OFFERS = [
    ["ESS-5", "Essentiel 5 Go", "9.99", "5", "120", "unlimited", ""],
    ["CONF-50", "Confort 50 Go", "19.99", "50", "unlimited", "unlimited", "EU"],
]


def xls(rows: Sequence[Sequence[object]]) -> bytes:
    """A real Excel 97-2003 workbook (BIFF8 in an OLE2 container), as old Excel versions save."""
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Offres")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_text(rows: Sequence[Sequence[str]], sep: str) -> str:
    return "\r\n".join(sep.join(row) for row in rows) + "\r\n"


@pytest.mark.parametrize(
    ("shape", "content", "filename"),
    [
        ("xlsx, French headers", samples.workbook(FRENCH_OFFERS), "Offres.xlsx"),
        ("xls, French headers", xls(FRENCH_OFFERS), "Offres.xls"),
        ("csv ; with BOM", csv_text(FRENCH_OFFERS, ";").encode("utf-8-sig"), "offres.csv"),
        ("csv ; in cp1252", csv_text(FRENCH_OFFERS, ";").encode("cp1252"), "offres.csv"),
        ("csv tab in utf-8", csv_text(FRENCH_OFFERS, "\t").encode(), "offres.csv"),
    ],
)
def test_french_offers_read_from_every_format(shape: str, content: bytes, filename: str) -> None:
    table = check_dossier_file(DossierItem.OFFERS_TABLE, content, filename).table
    assert table is not None, shape
    assert table.columns == ["code", "name", "monthly_price_eur", "data_gb", "voice_minutes", "sms", "zones"]
    assert table.rows == CANONICAL_OFFERS, shape


def test_excel_numbers_in_an_xls_keep_their_decimals() -> None:
    content = xls([["Marque", "Modèle", "Prix"], ["Apple", "iPhone", 969.9], ["Nokia", 3310, 49]])
    table = check_dossier_file(DossierItem.TERMINALS_TABLE, content, "terminaux.xls").table
    assert table is not None and table.rows == [["Apple", "iPhone", "969.9"], ["Nokia", "3310", "49"]]


def test_english_synonyms_and_a_comment_column() -> None:
    rows = [
        ["Offer code", "Offer name", "Price", "GB", "minutes", "SMS", "Zones", "Comment"],
        ["ESS-5", "Essential", "€9.99", "5", "unlimited", "100", "eu;maghreb", "entry level"],
    ]
    checked = check_dossier_file(DossierItem.OFFERS_TABLE, csv_text(rows, ",").encode(), "offers.csv")
    assert checked.table is not None
    assert checked.table.rows == [["ESS-5", "Essential", "9.99", "5", "unlimited", "100", "EU;MAGHREB"]]
    assert checked.ignored_columns == ("Comment",)


def test_long_form_international_tariffs_in_a_semicolon_csv() -> None:
    rows = [
        ["Zone", "Destination", "Service", "Unité", "Prix (€)"],
        ["EU", "Allemagne", "Voix", "minute", "0,15"],
        ["EU", "Allemagne", "SMS", "sms", "0,10"],
        ["EU", "Allemagne", "Data", "Mo", "0,05"],
        ["MAGHREB", "Maroc", "Voix", "minute", "0,89"],
        ["MAGHREB", "Maroc", "SMS", "sms", "0,29"],
        ["MAGHREB", "Maroc", "Data", "Mo", "1,50"],
    ]
    content = csv_text(rows, ";").encode("utf-8-sig")
    table = check_dossier_file(DossierItem.TARIFFS_INTERNATIONAL, content, "international.csv").table
    assert table is not None
    assert table.columns == ["zone", "destination", "voice_per_minute_eur", "sms_eur", "data_per_mb_eur"]
    assert table.rows == [
        ["EU", "Allemagne", "0.15", "0.10", "0.05"],
        ["MAGHREB", "Maroc", "0.89", "0.29", "1.50"],
    ]


def test_a_bad_table_is_refused_with_every_column_and_row_problem() -> None:
    rows = [
        ["Code", "Nom", "Prix", "Data (Go)", "Forfait", "SMS"],
        ["ESS-5", "Essentiel", "9,99", "5", "120", "illimité"],
        ["ESS-5", "Essentiel bis", "-1", "beaucoup", "120", "100"],
        ["PROMO", "", "12,5 $", "5", "120", "100"],
    ]
    with pytest.raises(FileRefused) as refused:
        check_dossier_file(DossierItem.OFFERS_TABLE, samples.workbook(rows), "offres.xlsx")
    found = [(p.row, p.column, p.value) for p in refused.value.problems]
    assert found == [
        (1, "voice_minutes", None),  # missing...
        (1, "Forfait", None),  # ...and this is most likely it, misnamed
        (3, "Prix", "-1"),
        (3, "Data (Go)", "beaucoup"),
        (4, "Nom", ""),
        (4, "Prix", "12,5 $"),
        (3, "Code", "ESS-5"),  # duplicate of row 2
    ]
    missing = refused.value.problems[0]
    assert "'Forfait'" in missing.reason and "'minutes voix'" in missing.reason  # found, and expected
    assert "value" not in refused.value.problems[0].as_dict()  # a column problem has no cell
    assert refused.value.problems[2].as_dict() == {
        "row": 3,
        "column": "Prix",
        "value": "-1",
        "reason": "-1 is negative",
    }
