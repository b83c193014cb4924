"""The tolerant table reader: tables as people make them are read, bad ones refused with every problem."""

from __future__ import annotations

import io

import pytest

from chassis.tables import (
    header_key,
    import_rows,
    sniff_delimiter,
    template_csv,
    template_rows,
    template_xlsx,
)
from contracts.events.ism_provisioning import ISM_TABLE_COLUMNS
from contracts.tables import OFFERS, TABLE_SCHEMAS, TARIFFS_INTERNATIONAL, TARIFFS_METROPOLITAN, TERMINALS


def test_the_schemas_publish_the_ism_columns_and_no_header_means_two_columns() -> None:
    for schema in TABLE_SCHEMAS.values():
        assert tuple(c.name for c in schema.columns) == ISM_TABLE_COLUMNS[schema.item.value]
        owners: dict[str, str] = {}
        for column in schema.columns:
            for header in column.headers():
                assert owners.setdefault(header_key(header), column.name) == column.name, header


@pytest.mark.parametrize(
    ("written", "key"),
    [("Prix (€)", "prix"), ("PRIX_EUR", "prix"), ("  Minutes   voix ", "minutes voix"), ("Modèle", "modele")],
)
def test_headers_compare_without_case_accents_spacing_or_currency(written: str, key: str) -> None:
    assert header_key(written) == key


def test_offers_with_french_headers_decimal_commas_currency_units_and_unlimited() -> None:
    table = import_rows(
        OFFERS,
        [
            ["Offres 2026 — Télécom Exemple"],  # a title above the header
            [],
            [
                "Code offre",
                "Nom de l'offre",
                "Prix mensuel (€ TTC)",
                "Data (Go)",
                "Minutes voix",
                "SMS",
                "Zones",
            ],
            ["ESS-5", "Essentiel 5 Go", "9,99 €", "5 Go", "1 000", "illimité", ""],
            ["CONF-50", "Confort", "€19.99", "2,5", "Illimitées", "Unlimited", "eu; maghreb"],
        ],
    )
    assert table.problems == ()
    assert table.canonical_rows() == [
        ["ESS-5", "Essentiel 5 Go", "9.99", "5", "1000", "unlimited", ""],
        ["CONF-50", "Confort", "19.99", "2.5", "unlimited", "unlimited", "EU;MAGHREB"],
    ]
    assert [n for n, _ in table.rows] == [4, 5]  # as in the spreadsheet


def test_offers_with_english_synonyms_and_a_comment_column_without_zones() -> None:
    table = import_rows(
        OFFERS,
        [
            ["Offer code", "Offer name", "Monthly price", "GB", "minutes", "sms", "Comment"],
            ["ESS-5", "Essential", "9.99", "5", "120 min", "100", "entry level"],
        ],
    )
    assert table.problems == ()
    assert table.canonical_rows() == [["ESS-5", "Essential", "9.99", "5", "120", "100", ""]]
    assert table.ignored_columns == ("Comment",)


def test_international_tariffs_in_long_form_are_read_one_row_per_destination() -> None:
    table = import_rows(
        TARIFFS_INTERNATIONAL,
        [
            ["Zone", "Pays", "Service", "Unité", "Prix HT (€)"],
            ["EU", "Allemagne", "Voix", "minute", "0,15"],
            ["EU", "Allemagne", "SMS", "sms", "0,10"],
            ["EU", "Allemagne", "Data", "Mo", "0,05 €"],
            ["MAGHREB", "Maroc", "voice", "", "0.89"],
            ["MAGHREB", "Maroc", "sms", "", "0.29"],
            ["MAGHREB", "Maroc", "internet", "", "1,50"],
        ],
    )
    assert table.problems == () and table.form == "long"
    assert table.canonical_rows() == [
        ["EU", "Allemagne", "0.15", "0.10", "0.05"],
        ["MAGHREB", "Maroc", "0.89", "0.29", "1.50"],
    ]


def test_international_tariffs_in_wide_form_with_french_headers() -> None:
    table = import_rows(
        TARIFFS_INTERNATIONAL,
        [
            ["Zone tarifaire", "Destination", "Prix minute", "Prix SMS", "Prix Mo"],
            ["EU", "Espagne", "0,15", "0,1", "0,05"],
        ],
    )
    assert table.problems == () and table.form == "wide"
    assert table.canonical_rows() == [["EU", "Espagne", "0.15", "0.1", "0.05"]]


def test_metropolitan_units_and_terminals_by_their_french_names() -> None:
    tariffs = import_rows(
        TARIFFS_METROPOLITAN,
        [
            ["Code", "Libellé", "Unité", "Prix"],
            ["V", "Appels", "Minutes", "0,15"],
            ["D", "Data", "Mo", "0,05"],
        ],
    )
    assert tariffs.canonical_rows() == [["V", "Appels", "minute", "0.15"], ["D", "Data", "mb", "0.05"]]
    terminals = import_rows(
        TERMINALS, [["Marque", "Modèle", "Prix de vente"], ["Apple", "iPhone 15", "969,00 €"]]
    )
    assert terminals.canonical_rows() == [["Apple", "iPhone 15", "969.00"]]


def test_every_problem_is_reported_at_once_columns_and_rows() -> None:
    table = import_rows(
        OFFERS,
        [
            ["code", "nom", "prix", "data", "forfait voix", "sms"],
            ["A", "Alpha", "9,99", "5", "100", "100"],
            ["A", "Alpha bis", "-1", "beaucoup", "100", "x"],
            ["B", "", "1.234,5", "5", "100", "100"],
        ],
    )
    found = [(p.row, p.column, p.value, p.reason.split(":")[0]) for p in table.problems]
    assert found == [
        (1, "voice_minutes", None, "missing column 'voice_minutes'"),
        (1, "forfait voix", None, "unknown column 'forfait voix'"),
        (3, "prix", "-1", "-1 is negative"),
        (3, "data", "beaucoup", "'beaucoup' is not a number of GB or 'unlimited'"),
        (3, "sms", "x", "'x' is not a whole number or 'unlimited'"),
        (4, "nom", "", "empty"),
        (4, "prix", "1.234,5", "'1.234,5' mixes ',' and '.'"),
        (3, "code", "A", "duplicate 'A' (already on row 2)"),  # said even on a row with other problems
    ]
    missing = table.problems[0].reason
    # The columns found and the names accepted, so the header can be fixed without reading docs.
    assert "'forfait voix'" in missing and "'minutes voix'" in missing and "'voice_minutes'" in missing
    assert table.rows == ()  # no canonical rows without every column


def test_duplicates_and_incomplete_long_form_are_refused() -> None:
    table = import_rows(
        TARIFFS_INTERNATIONAL,
        [
            ["zone", "destination", "service", "price"],
            ["EU", "Espagne", "voix", "0.1"],
            ["EU", "Espagne", "voix", "0.2"],
            ["EU", "Espagne", "sms", "0.1"],
        ],
    )
    reasons = [(p.row, p.reason) for p in table.problems]
    assert reasons == [
        (3, "a second voix price for EU / Espagne (already on row 2)"),
        (2, "no data price for EU / Espagne"),
    ]
    terminals = import_rows(
        TERMINALS, [["brand", "model", "price"], ["Apple", "X", "1"], ["apple", "x", "2"]]
    )
    assert [(p.row, p.column, p.reason) for p in terminals.problems] == [
        (3, "model", "duplicate 'apple / x' (already on row 2)")
    ]


def test_a_row_split_on_the_wrong_separator_and_an_empty_table() -> None:
    table = import_rows(TERMINALS, [["brand", "model", "price_eur"], ["Apple;iPhone;969"]])
    assert [(p.row, p.reason) for p in table.problems] == [(2, "1 cells for 3 columns")]
    assert [p.reason for p in import_rows(TERMINALS, []).problems] == ["the table is empty"]
    assert [p.reason for p in import_rows(TERMINALS, [["brand", "model", "price"]]).problems] == [
        "the table has no rows"
    ]


@pytest.mark.parametrize(
    ("first_lines", "delimiter"),
    [
        ("code;name;prix\nA;Alpha;9,99", ";"),
        ("code,name,price\nA,Alpha,9.99", ","),
        ("code\tname\tprix\nA\tAlpha\t9,99", "\t"),
        ("code|name|price\nA|Alpha|9.99", "|"),
        ('code,"nom, complet",prix\nA,"Alpha, b","9,99"', ","),
    ],
)
def test_the_csv_delimiter_is_the_one_that_splits_the_table(first_lines: str, delimiter: str) -> None:
    assert sniff_delimiter(first_lines) == delimiter


@pytest.mark.parametrize("schema", list(TABLE_SCHEMAS.values()), ids=lambda s: s.item.value)
def test_the_templates_read_back_as_their_table(schema: object) -> None:
    from openpyxl import load_workbook

    assert import_rows(schema, template_rows(schema)).ok  # type: ignore[arg-type]
    text = template_csv(schema).decode("utf-8-sig")  # type: ignore[arg-type]
    assert import_rows(schema, [line.split(";") for line in text.splitlines()]).ok  # type: ignore[arg-type]
    book = load_workbook(io.BytesIO(template_xlsx(schema)), read_only=True)  # type: ignore[arg-type]
    rows = [
        ["" if v is None else str(v) for v in row] for row in book.worksheets[0].iter_rows(values_only=True)
    ]
    assert import_rows(schema, rows).ok  # type: ignore[arg-type]
    assert len(book.worksheets) == 2  # the columns explained on the second sheet


def test_metropolitan_tariffs_with_a_price_column_per_unit() -> None:
    table = import_rows(
        TARIFFS_METROPOLITAN,
        [["Prix minute (€)", "Prix SMS", "Prix MMS", "Prix Mo"], ["0,15", "0,10", "", "0,05 €"]],
    )
    assert table.problems == () and table.form == "per_unit"
    assert table.canonical_rows() == [
        ["MINUTE", "Prix minute (€)", "minute", "0.15"],
        ["SMS", "Prix SMS", "sms", "0.10"],
        ["MB", "Prix Mo", "mb", "0.05"],
    ]
    two_plans = import_rows(
        TARIFFS_METROPOLITAN,
        [
            ["Code", "Libellé", "Voix", "SMS"],
            ["STD", "Standard", "0,15", "0,10"],
            ["PRO", "Pro", "0,12", "abc"],
        ],
    )
    assert [(p.row, p.column, p.value) for p in two_plans.problems] == [(3, "SMS", "abc")]
    assert [r[0] for r in two_plans.canonical_rows()] == ["STD-MINUTE", "STD-SMS"]
