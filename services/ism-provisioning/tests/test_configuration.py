"""Parsing and cross-checks of the four ISM tables, on the sample files of `samples/`."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts.events.common import DossierItem, TableSnapshot
from ism_provisioning.configuration import (
    Offer,
    _CellError,
    assess,
    parse_table,
    read_allowance_count,
    read_price,
)

from .samples import good_tables, sample

OFFERS = DossierItem.OFFERS_TABLE
INTERNATIONAL = DossierItem.TARIFFS_INTERNATIONAL


def errors_by_row(errors):
    return {(e.row, e.column): e.reason for e in errors}


@pytest.mark.parametrize(
    ("text", "amount"),
    [("19.99", "19.99"), ("19,99", "19.99"), ("0", "0"), (" 0.0500 ", "0.0500"), ("969", "969")],
)
def test_a_price_is_a_plain_decimal_read_from_its_text(text, amount):
    price = read_price(text)
    assert isinstance(price, Decimal)
    assert price == Decimal(amount)
    assert str(price) == amount


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1e3", "not a plain decimal"),
        ("-5", "negative"),
        ("0.12345", "more than 4 decimals"),
        ("1 000,00", "not a plain decimal"),
        ("1,000.00", "not a plain decimal"),
        ("NaN", "not a plain decimal"),
        ("Infinity", "not a plain decimal"),
        ("12€", "not a plain decimal"),
        ("", "empty"),
        ("٣", "not a plain decimal"),
    ],
)
def test_a_price_that_is_not_a_plain_non_negative_decimal_is_refused(text, why):
    with pytest.raises(_CellError, match=why):
        read_price(text)


def test_an_allowance_is_a_whole_number_or_unlimited_in_french_or_english():
    assert read_allowance_count("120") == 120
    assert read_allowance_count("illimité") is None
    assert read_allowance_count("Unlimited") is None
    with pytest.raises(_CellError):
        read_allowance_count("beaucoup")
    with pytest.raises(_CellError):
        read_allowance_count("12.5")


def test_the_sample_offers_parse_with_french_decimals_and_unlimited_allowances():
    parsed = parse_table(OFFERS, sample("offers.csv"))
    assert parsed.errors == ()
    offers = [o for _, o in parsed.items]
    assert offers[0] == Offer(
        code="ESS-5",
        name="Essentiel 5 Go",
        monthly_price_eur=Decimal("9.99"),
        data_gb=Decimal("5"),
        voice_minutes=120,
        sms=None,
        zones=(),
    )
    assert offers[2].zones == ("EU", "MAGHREB")
    assert offers[2].monthly_price_eur == Decimal("34.9")


def test_bad_offer_rows_are_reported_by_row_and_column():
    parsed = parse_table(OFFERS, sample("offers_bad.csv"))
    errors = errors_by_row(parsed.errors)
    # row 1 is the header: the first data row is row 2, as in the integrator's spreadsheet
    assert "duplicate 'ESS-5' (already on row 2)" in errors[(3, "code")]
    assert "not a price in euros" in errors[(4, "monthly_price_eur")]
    assert "negative" in errors[(5, "monthly_price_eur")]
    assert "more than 4 decimals" in errors[(6, "monthly_price_eur")]
    assert "is not a code" in errors[(7, "code")]
    assert "not a whole number" in errors[(7, "sms")]
    assert (2, "code") not in errors
    assert all(e.table is OFFERS for e in parsed.errors)


def test_a_table_without_a_required_column_is_refused_on_the_header():
    parsed = parse_table(DossierItem.TERMINALS_TABLE, sample("terminals_bad.csv"))
    [error] = parsed.errors
    assert (error.row, error.column) == (1, "price_eur")
    # The reason says what was found and what the column may be headed, so the file can be fixed.
    assert error.reason.startswith("missing column 'price_eur': the columns found are 'brand', 'model'")
    assert "'prix'" in error.reason


def test_duplicate_terminal_models_and_international_destinations_are_refused():
    terminals = TableSnapshot(
        columns=["brand", "model", "price_eur"],
        rows=[["Apple", "iPhone 15", "969"], ["apple", "IPHONE 15", "959"]],
    )
    assert errors_by_row(parse_table(DossierItem.TERMINALS_TABLE, terminals).errors).keys() == {(3, "model")}
    international = TableSnapshot(
        columns=["zone", "destination", "voice_per_minute_eur", "sms_eur", "data_per_mb_eur"],
        rows=[["EU", "Espagne", "0.1", "0.1", "0.1"], ["EU2", "Espagne", "0.2", "0.1", "0.1"]],
    )
    assert errors_by_row(parse_table(INTERNATIONAL, international).errors).keys() == {(3, "destination")}


def test_metropolitan_tariffs_must_price_the_minute_the_sms_and_the_megabyte():
    tariffs = TableSnapshot(
        columns=["code", "label", "unit", "price_eur"],
        rows=[["VOICE", "Appels", "minute", "0.15"], ["FAX", "Fax", "page", "1"]],
    )
    parsed = parse_table(DossierItem.TARIFFS_METROPOLITAN, tariffs)
    assert errors_by_row(parsed.errors) == {(3, "unit"): errors_by_row(parsed.errors)[(3, "unit")]}
    tariffs = TableSnapshot(columns=tariffs.columns, rows=[["VOICE", "Appels", "minute", "0.15"]])
    reasons = [e.reason for e in parse_table(DossierItem.TARIFFS_METROPOLITAN, tariffs).errors]
    assert reasons == ["no tariff per sms", "no tariff per mb"]


def test_rows_with_more_cells_than_columns_and_empty_tables_are_refused_blank_lines_ignored():
    terminals = TableSnapshot(
        columns=["brand", "model", "price_eur"],
        rows=[["Apple", "iPhone", "969", "surplus"], ["", "", ""], ["Samsung", "A15", "179", ""]],
    )
    parsed = parse_table(DossierItem.TERMINALS_TABLE, terminals)
    assert [(e.row, e.reason) for e in parsed.errors] == [(2, "4 cells for 3 columns")]
    assert len(parsed.items) == 1
    empty = TableSnapshot(columns=["brand", "model", "price_eur"], rows=[["", "", ""]])
    assert [e.reason for e in parse_table(DossierItem.TERMINALS_TABLE, empty).errors] == [
        "the table has no rows"
    ]


def test_the_four_good_samples_make_a_configuration():
    verdict = assess(good_tables())
    assert verdict.errors == ()
    assert verdict.missing == ()
    config = verdict.configuration
    assert config is not None
    assert (len(config.offers), len(config.metropolitan_tariffs)) == (3, 4)
    assert (len(config.international_tariffs), len(config.terminals)) == (6, 3)


def test_an_offer_zone_missing_from_the_international_tariffs_is_refused():
    tables = good_tables()
    international = tables[INTERNATIONAL]
    tables[INTERNATIONAL] = TableSnapshot(
        columns=international.columns, rows=[r for r in international.rows if r[0] != "MAGHREB"]
    )
    verdict = assess(tables)
    assert verdict.configuration is None
    assert [(e.table, e.row, e.column, e.reason) for e in verdict.errors] == [
        (OFFERS, 4, "zones", "zone 'MAGHREB' is not in the international tariffs")
    ]


def test_bad_rows_and_a_zone_missing_from_the_international_tariffs_are_reported_together():
    tables = good_tables()
    tables[OFFERS] = sample("offers_bad.csv")
    errors = errors_by_row(assess(tables).errors)
    assert errors[(8, "zones")] == "zone 'ASIE' is not in the international tariffs"
    assert "more than 4 decimals" in errors[(6, "monthly_price_eur")]


def test_errors_of_one_table_are_reported_before_the_others_arrive():
    verdict = assess({OFFERS: sample("offers_bad.csv")})
    assert verdict.configuration is None
    assert DossierItem.TERMINALS_TABLE in verdict.missing
    assert {e.table for e in verdict.errors} == {OFFERS}


def test_tables_consistent_so_far_but_incomplete_make_no_configuration_and_no_error():
    tables = good_tables()
    del tables[DossierItem.TERMINALS_TABLE]
    verdict = assess(tables)
    assert (verdict.errors, verdict.missing, verdict.configuration) == (
        (),
        (DossierItem.TERMINALS_TABLE,),
        None,
    )
