"""The documents the emails point to are real: the blank configuration sheet is the one the profile
check accepts once filled (and refuses blank, naming each field), the logo and banner examples pass
the logo and banner checks."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from contracts.events.common import DossierItem
from onboarding import documents
from onboarding.checks import FileRefused, check_dossier_file


def test_the_blank_configuration_sheet_is_refused_field_by_field_until_filled() -> None:
    blank = documents.content_of("configuration-sheet")
    with pytest.raises(FileRefused) as refused:
        check_dossier_file(DossierItem.ELECTRICAL_PROFILE_SHEET, blank, "fiche.xlsx")
    problems = refused.value.problems
    assert len(problems) == len(documents.CONFIGURATION_FIELDS)
    assert {(p.row, p.column) for p in problems} == {
        (n, "B") for n in range(2, len(documents.CONFIGURATION_FIELDS) + 2)
    }

    book = load_workbook(io.BytesIO(blank))
    sheet = book["Configuration"]
    for row in range(2, sheet.max_row + 1):
        sheet.cell(row=row, column=2, value="oui")
    filled = io.BytesIO()
    book.save(filled)
    checked = check_dossier_file(DossierItem.ELECTRICAL_PROFILE_SHEET, filled.getvalue(), "fiche.xlsx")
    assert checked.media_type == documents.XLSX


@pytest.mark.parametrize(
    ("name", "item"), [("logo-example", DossierItem.LOGO), ("banner-example", DossierItem.FOOTER_BANNER)]
)
def test_the_image_examples_are_what_the_dossier_accepts(name: str, item: DossierItem) -> None:
    example = documents.content_of(name)
    assert check_dossier_file(item, example, documents.GENERATED[name].filename).media_type == "image/png"


def test_the_arcep_reference_says_where_and_what() -> None:
    text = documents.content_of("arcep-form").decode()
    assert "https://www.arcep.fr/" in text and "date d'envoi" in text and "date sent" in text
