"""File checks on submission: given a file's bytes, the verdict DOMAIN.md's table asks for."""

from __future__ import annotations

import pytest

from contracts.events.common import DossierItem
from onboarding.checks import FileRefused, check_dossier_file
from onboarding.identifiers import luhn_valid, siret_problem, vat_key, vat_problem

from . import samples


def refused(item: DossierItem, content: bytes, filename: str) -> list[str]:
    with pytest.raises(FileRefused) as error:
        check_dossier_file(item, content, filename)
    return [p.reason for p in error.value.problems]


def test_a_95_by_95_png_at_300_dpi_is_a_logo() -> None:
    assert check_dossier_file(DossierItem.LOGO, samples.logo(), "logo.png").media_type == "image/png"


def test_a_95_by_95_jpeg_at_300_dpi_is_a_logo() -> None:
    checked = check_dossier_file(DossierItem.LOGO, samples.logo(fmt="JPEG"), "logo.jpg")
    assert checked.media_type == "image/jpeg"


def test_a_logo_one_pixel_too_wide_is_refused() -> None:
    [reason] = refused(DossierItem.LOGO, samples.image((96, 95)), "logo.png")
    assert "96×95" in reason


def test_a_72_dpi_logo_is_refused() -> None:
    [reason] = refused(DossierItem.LOGO, samples.logo(dpi=72), "logo.png")
    assert "72×72 dpi" in reason


def test_a_logo_without_resolution_metadata_is_refused() -> None:
    [reason] = refused(DossierItem.LOGO, samples.logo(dpi=None), "logo.png")
    assert "no resolution" in reason


def test_a_gif_is_refused_even_named_png() -> None:
    reasons = refused(DossierItem.LOGO, samples.image((95, 95), fmt="GIF", dpi=None), "logo.png")
    assert reasons == ["GIF images are not accepted: JPEG or PNG only"]


def test_a_jpeg_named_png_lies_about_its_type() -> None:
    [reason] = refused(DossierItem.LOGO, samples.logo(fmt="JPEG"), "logo.png")
    assert "lies about its type" in reason


def test_a_truncated_png_is_refused() -> None:
    [reason] = refused(DossierItem.LOGO, samples.truncated_png(), "logo.png")
    assert "damaged or truncated" in reason


def test_text_is_not_an_image() -> None:
    assert refused(DossierItem.LOGO, b"hello, I am a logo", "logo.png") == [
        "the file is not an image (JPEG or PNG expected)"
    ]


def test_the_banner_is_760_by_95() -> None:
    assert check_dossier_file(DossierItem.FOOTER_BANNER, samples.banner(), "b.png").media_type == "image/png"
    assert "95×95" in refused(DossierItem.FOOTER_BANNER, samples.logo(), "b.png")[0]


def test_the_artwork_is_an_image_or_a_pdf() -> None:
    assert (
        check_dossier_file(DossierItem.SIM_ARTWORK, samples.image((1000, 600)), "a.png").media_type
        == "image/png"
    )
    pdf = samples.pdf()
    assert check_dossier_file(DossierItem.SIM_ARTWORK, pdf, "a.pdf").media_type == "application/pdf"
    assert "truncated" in refused(DossierItem.SIM_ARTWORK, pdf[:20], "a.pdf")[0]
    # The magic bytes and an end marker around nothing a PDF reader understands: not a PDF.
    shell = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
    assert "does not parse" in refused(DossierItem.SIM_ARTWORK, shell, "a.pdf")[0]


def test_an_empty_file_is_refused() -> None:
    assert refused(DossierItem.LOGO, b"", "logo.png") == ["the file is empty"]


# --- spreadsheets --------------------------------------------------------------------------------------


def test_a_filled_configuration_sheet_is_accepted() -> None:
    content = samples.configuration_sheet()
    assert check_dossier_file(
        DossierItem.ELECTRICAL_PROFILE_SHEET, content, "profil.xlsx"
    ).media_type.endswith("spreadsheetml.sheet")


def test_an_unfilled_configuration_sheet_is_refused_with_the_row() -> None:
    with pytest.raises(FileRefused) as error:
        check_dossier_file(DossierItem.ELECTRICAL_PROFILE_SHEET, samples.configuration_sheet(False), "p.xlsx")
    [problem] = error.value.problems
    assert (problem.row, problem.column) == (3, "B")


def test_a_configuration_sheet_is_an_excel_workbook() -> None:
    assert "not an Excel workbook" in refused(DossierItem.ELECTRICAL_PROFILE_SHEET, b"a,b\n1,2", "p.csv")[0]
    assert (
        "does not open"
        in refused(DossierItem.ELECTRICAL_PROFILE_SHEET, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1broken", "p.xls")[
            0
        ]
    )
    assert "does not open" in refused(DossierItem.ELECTRICAL_PROFILE_SHEET, b"PK\x03\x04broken", "p.xlsx")[0]
    assert (
        "lies about its type"
        in refused(DossierItem.ELECTRICAL_PROFILE_SHEET, samples.configuration_sheet(), "p.xls")[0]
    )


@pytest.mark.parametrize(
    ("item", "rows"),
    [
        (DossierItem.OFFERS_TABLE, samples.OFFERS),
        (DossierItem.TARIFFS_METROPOLITAN, samples.TARIFFS_METROPOLITAN),
        (DossierItem.TARIFFS_INTERNATIONAL, samples.TARIFFS_INTERNATIONAL),
        (DossierItem.TERMINALS_TABLE, samples.TERMINALS),
    ],
)
def test_each_table_parses_from_csv_and_xlsx(item: DossierItem, rows: list[list[str]]) -> None:
    from_csv = check_dossier_file(item, samples.csv(rows, sep=";"), "t.csv").table
    from_xlsx = check_dossier_file(item, samples.workbook(rows), "t.xlsx").table
    assert from_csv is not None and from_xlsx is not None
    assert from_csv.columns == rows[0]
    # Passed on in canonical form: decimal point, "unlimited" (issue 15: one spelling downstream).
    canonical = [[c.replace("9,99", "9.99").replace("19,99", "19.99") for c in r] for r in rows[1:]]
    assert from_csv.rows == [["unlimited" if c == "illimité" else c for c in r] for r in canonical]
    assert from_xlsx == from_csv


def test_excel_numbers_keep_the_decimals_typed() -> None:
    content = samples.workbook(
        [["brand", "model", "price_eur"], ["Apple", "iPhone", 969.9], ["Nokia", 3310, 49]]
    )
    table = check_dossier_file(DossierItem.TERMINALS_TABLE, content, "t.xlsx").table
    assert table is not None and table.rows == [["Apple", "iPhone", "969.9"], ["Nokia", "3310", "49"]]


def test_table_errors_say_row_column_and_reason() -> None:
    rows = [
        samples.OFFERS[0],
        ["ESS-5", "Essentiel", "9,99", "5", "120", "100", ""],
        ["ESS-5", "Essentiel bis", "-1", "5", "beaucoup", "100", ""],
        ["X", "too short"],
    ]
    with pytest.raises(FileRefused) as error:
        check_dossier_file(DossierItem.OFFERS_TABLE, samples.csv(rows, sep=";"), "offers.csv")
    found = [(p.row, p.column, p.reason) for p in error.value.problems]
    assert found == [
        (3, "monthly_price_eur", "-1 is negative"),
        (3, "voice_minutes", "'beaucoup' is not a whole number or 'unlimited'"),
        (4, None, "2 cells for 7 columns"),
        (3, "code", "duplicate 'ESS-5' (already on row 2)"),
    ]


def test_a_table_without_its_columns_is_refused() -> None:
    with pytest.raises(FileRefused) as error:
        check_dossier_file(
            DossierItem.TERMINALS_TABLE, samples.csv([["brand", "model"], ["a", "b"]]), "t.csv"
        )
    [problem] = error.value.problems
    assert (problem.row, problem.column) == (1, "price_eur")
    # What was found and what the column may be called, so the header is fixed without a manual.
    assert problem.reason.startswith("missing column 'price_eur': the columns found are 'brand', 'model'.")


def test_one_row_per_terminal_model() -> None:
    rows = [*samples.TERMINALS, ["samsung", "galaxy a15", "150"]]
    reasons = refused(DossierItem.TERMINALS_TABLE, samples.csv(rows), "t.csv")
    assert reasons == ["duplicate 'samsung / galaxy a15' (already on row 2)"]


def test_prices_are_plain_decimals() -> None:
    rows = [samples.TARIFFS_METROPOLITAN[0], ["A", "a", "minute", "1e3"], ["B", "b", "sms", "0.12345"]]
    assert refused(DossierItem.TARIFFS_METROPOLITAN, samples.csv(rows), "t.csv") == [
        "'1e3' is not a price in euros (e.g. 19,99)",
        "0.12345 has more than 4 decimals",
    ]


def test_a_binary_file_named_csv_is_not_a_table() -> None:
    assert "binary" in refused(DossierItem.TERMINALS_TABLE, samples.logo(), "t.csv")[0]


# --- identifiers ----------------------------------------------------------------------------------------


def test_siret_and_vat_rules() -> None:
    assert luhn_valid("732829320")
    assert siret_problem("73282932000074") is None
    assert siret_problem("73282932000075") is not None
    assert siret_problem("35600000000001") is None  # La Poste: digit sum multiple of 5
    assert vat_key("732829320") == 44
    assert vat_problem("FR44732829320", "732829320") is None
    assert vat_problem("FR45732829320", "732829320") is not None
