"""Reading the integrator's files (CSV and XLSX) into table snapshots, and exporting a configuration."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from openpyxl import Workbook

from contracts.events.common import DossierItem
from ism_provisioning.configuration import assess, parse_table
from ism_provisioning.tables import (
    SECTIONS,
    UnreadableTable,
    configuration_as_json,
    read_table,
    section_as_csv,
)

from .samples import good_tables, sample


def xlsx(rows) -> bytes:
    """An XLSX the way Excel writes it: numbers as numbers, not text."""
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xlsx_table_reads_with_numbers_as_the_decimals_typed():
    content = xlsx(
        [
            ["code", "label", "unit", "price_eur"],
            ["VOICE-NAT", "Appels", "minute", 0.15],
            ["SMS-NAT", "SMS", "sms", 0.1],
            ["DATA-NAT", "Data", "mb", 0.05],
            ["FLAT", "Forfait", "minute", 20],
            [None, None, None, None],
        ]
    )
    snapshot = read_table(content, "Tarifs métropole.XLSX")
    assert snapshot.columns == ["code", "label", "unit", "price_eur"]
    assert [r[3] for r in snapshot.rows] == ["0.15", "0.1", "0.05", "20"]
    parsed = parse_table(DossierItem.TARIFFS_METROPOLITAN, snapshot)
    assert parsed.errors == ()
    assert parsed.items[0][1].price_eur == Decimal("0.15")


def test_an_xlsx_with_bad_rows_reports_them_by_spreadsheet_row():
    content = xlsx(
        [
            ["brand", "model", "price_eur"],
            ["Samsung", "Galaxy A15", 179],
            ["Apple", "iPhone 15", -969],
            ["Fairphone", "Fairphone 5", 1e-05],
            ["Samsung", "Galaxy A15", 199.5],
        ]
    )
    parsed = parse_table(DossierItem.TERMINALS_TABLE, read_table(content, "terminaux.xlsx"))
    assert [(e.row, e.column) for e in parsed.errors] == [(3, "price_eur"), (4, "price_eur"), (5, "model")]


def test_a_french_csv_separated_by_semicolons_in_cp1252_reads():
    content = "brand;model;price_eur\r\nSamsung;Galaxy A15;179,00\r\nAlcatel;Téléphone 1;29,90\r\n"
    snapshot = read_table(content.encode("cp1252"), "terminaux.csv")
    assert snapshot.rows == [["Samsung", "Galaxy A15", "179,00"], ["Alcatel", "Téléphone 1", "29,90"]]


def test_a_tab_separated_table_with_french_headers_configures_the_same():
    content = "Marque\tModèle\tPrix (€)\r\nSamsung\tGalaxy A15\t179,00 €\r\n"
    parsed = parse_table(DossierItem.TERMINALS_TABLE, read_table(content.encode("cp1252"), "terminaux.csv"))
    assert parsed.errors == ()
    assert [(t.brand, t.model, str(t.price_eur)) for _, t in parsed.items] == [
        ("Samsung", "Galaxy A15", "179.00")
    ]


@pytest.mark.parametrize(
    ("content", "filename"), [(b"", "x.csv"), (b"not a zip", "x.xlsx"), (b"%PDF-1.4", "x.pdf")]
)
def test_what_is_not_a_table_is_refused(content, filename):
    with pytest.raises(UnreadableTable):
        read_table(content, filename)


def test_the_configuration_exports_as_json_with_exact_decimals():
    config = assess(good_tables()).configuration
    exported = json.loads(configuration_as_json(config, integrator_id="acme", configuration_version=1))
    assert exported["integrator_id"] == "acme"
    assert exported["offers"][1] == {
        "code": "CONF-50",
        "name": "Confort 50 Go",
        "monthly_price_eur": "19.99",
        "data_gb": "50",
        "voice_minutes": None,
        "sms": None,
        "zones": ["EU"],
    }
    assert exported["metropolitan_tariffs"][3]["price_eur"] == "0.0500"


def test_each_exported_csv_reads_back_into_the_same_configuration():
    config = assess(good_tables()).configuration
    again = {
        item: read_table(section_as_csv(config, section).encode(), f"{section}.csv")
        for section, item in SECTIONS.items()
    }
    assert assess(again).configuration == config
    assert section_as_csv(config, "offers").splitlines()[3] == (
        "VOY-100,Voyageur 100 Go,34.9,100,unlimited,unlimited,EU;MAGHREB"
    )


def test_the_samples_are_read_with_their_extra_comment_column_tolerated():
    assert "comment" in sample("offers.csv").columns
