"""The ISM configuration built from the integrator's four dossier tables: parsing and cross-checks.

Pure (contracts + stdlib): a `TableSnapshot` (strings, as onboarding parsed the file) goes in,
typed rows or `TableError`s come out. Every error names the table, the row and the column, so the
integrator can fix the file it sent. Rows are numbered as in the integrator's spreadsheet: the
header is row 1, the first data row is row 2.

Prices are `Decimal`s read from their text, never floats: a tariff of 0.1 must stay 0.1 on every
invoice the ISM prints. The currency is in the column name (`..._eur`): the platform bills in euros.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from chassis.tables import import_rows
from contracts.events.common import DossierItem, TableSnapshot
from contracts.events.ism_provisioning import TableError
from contracts.tables import TABLE_SCHEMAS

#: More decimals than this is a typo or a float printed in full (0.1 as 0.1000000000000000055...).
MAX_DECIMALS = 4
#: Words an integrator writes in an allowance cell to mean "no limit".
UNLIMITED_WORDS = frozenset({"unlimited", "illimité", "illimite", "illimitée", "illimitee"})
#: Metered units the ISM knows (tarifs compteur): per minute of voice, per SMS, per MMS, per MB.
METERED_UNITS = frozenset({"minute", "sms", "mms", "mb"})
#: Units without which the ISM cannot rate a metropolitan bill.
REQUIRED_METROPOLITAN_UNITS = ("minute", "sms", "mb")

_PLAIN_DECIMAL = re.compile(r"^[0-9]+(?:[.,][0-9]+)?$")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


@dataclass(frozen=True)
class Offer:
    """A commercial offer: a monthly price and what it includes. `None` allowance = unlimited."""

    code: str
    name: str
    monthly_price_eur: Decimal
    data_gb: Decimal | None
    voice_minutes: int | None
    sms: int | None
    zones: tuple[str, ...]


@dataclass(frozen=True)
class MetropolitanTariff:
    """A metered price in metropolitan France, per `unit` (minute, sms, mms, mb)."""

    code: str
    label: str
    unit: str
    price_eur: Decimal


@dataclass(frozen=True)
class InternationalTariff:
    """Per-unit prices towards (and roaming in) one destination, grouped into tariff zones."""

    zone: str
    destination: str
    voice_per_minute_eur: Decimal
    sms_eur: Decimal
    data_per_mb_eur: Decimal


@dataclass(frozen=True)
class Terminal:
    """A mobile handset the integrator sells, one row per model."""

    brand: str
    model: str
    price_eur: Decimal


@dataclass(frozen=True)
class Configuration:
    """What the ISM is set up with: the four tables, typed and cross-checked."""

    offers: tuple[Offer, ...]
    metropolitan_tariffs: tuple[MetropolitanTariff, ...]
    international_tariffs: tuple[InternationalTariff, ...]
    terminals: tuple[Terminal, ...]


@dataclass
class _Rows:
    """The cells of one table by column name, with the spreadsheet row number of each row."""

    table: DossierItem
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)


class _CellError(ValueError):
    pass


# --- cell readers: text -> value, or _CellError with a reason the integrator can act on ----------


def read_price(text: str) -> Decimal:
    """A non-negative decimal amount, written `19.99` or `19,99`; at most 4 decimals.

    Refuses exponents (`1e3`), signs, thousands separators and anything a float would have printed.
    """
    text = text.strip()
    if not text:
        raise _CellError("empty: a price is required")
    if text.startswith("-"):
        raise _CellError(f"negative price {text!r}")
    if not _PLAIN_DECIMAL.match(text):
        raise _CellError(f"{text!r} is not a plain decimal (write 19.99 or 19,99)")
    amount = Decimal(text.replace(",", "."))
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)  # a plain decimal is never NaN or infinite
    if -exponent > MAX_DECIMALS:
        raise _CellError(f"{text!r} has more than {MAX_DECIMALS} decimals")
    return amount


def read_allowance_count(text: str) -> int | None:
    """A whole number of minutes or SMS included, or `unlimited`/`illimité` (None)."""
    text = text.strip()
    if text.lower() in UNLIMITED_WORDS:
        return None
    if not text.isdigit() or not text.isascii():
        raise _CellError(f"{text!r} is not a whole number or 'unlimited'")
    return int(text)


def read_allowance_volume(text: str) -> Decimal | None:
    """Gigabytes included (a decimal), or `unlimited`/`illimité` (None)."""
    if text.strip().lower() in UNLIMITED_WORDS:
        return None
    return read_price(text)


def read_code(text: str) -> str:
    text = text.strip()
    if not _CODE.match(text):
        raise _CellError(f"{text!r} is not a code (letters, digits, _ . -; at most 40)")
    return text


def read_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise _CellError("empty: a value is required")
    if len(text) > 200:
        raise _CellError("longer than 200 characters")
    return text


def read_zones(text: str) -> tuple[str, ...]:
    """Zone codes separated by `;` (or `,` / `|`); empty means metropolitan France only."""
    parts = [p.strip() for p in re.split(r"[;,|]", text) if p.strip()]
    zones = tuple(read_code(p).upper() for p in parts)
    if len(set(zones)) != len(zones):
        raise _CellError("a zone is listed twice")
    return zones


def read_unit(text: str) -> str:
    unit = text.strip().lower()
    if unit not in METERED_UNITS:
        raise _CellError(f"{text.strip()!r} is not a metered unit ({', '.join(sorted(METERED_UNITS))})")
    return unit


# --- table parsing -------------------------------------------------------------------------------


def _cells_by_column(table: DossierItem, snapshot: TableSnapshot) -> tuple[_Rows, list[TableError]]:
    """The rows read by the platform's one tolerant table reader (`chassis.tables`, against the
    schema published in `contracts.tables`): headers in French or English, decimal commas,
    `illimité`, long-form tariffs. Onboarding already sent canonical rows; a table recorded before
    that (raw headers) reads the same way. Every problem is kept, column and cell alike."""
    imported = import_rows(TABLE_SCHEMAS[table], [snapshot.columns, *snapshot.rows])
    errors = [
        TableError(table=table, row=p.row, column=p.field or p.column, reason=p.reason)
        for p in imported.problems
    ]
    parsed = _Rows(table)
    for number, cells in imported.rows:
        parsed.rows.append((number, dict(zip(imported.columns, cells, strict=True))))
    return parsed, errors


T = TypeVar("T")
Readers = Mapping[str, Callable[[str], Any]]


def _read_rows(
    parsed: _Rows, readers: Readers, build: Callable[..., T]
) -> tuple[list[tuple[int, T]], list[TableError]]:
    items: list[tuple[int, T]] = []
    errors: list[TableError] = []
    for number, cells in parsed.rows:
        values: dict[str, Any] = {}
        row_errors = []
        for column, read in readers.items():
            try:
                values[column] = read(cells[column])
            except _CellError as bad:
                row_errors.append(TableError(table=parsed.table, row=number, column=column, reason=str(bad)))
        if row_errors:
            errors.extend(row_errors)
        else:
            items.append((number, build(**values)))
    return items, errors


OFFER_READERS: Readers = {
    "code": read_code,
    "name": read_text,
    "monthly_price_eur": read_price,
    "data_gb": read_allowance_volume,
    "voice_minutes": read_allowance_count,
    "sms": read_allowance_count,
    "zones": read_zones,
}
METROPOLITAN_READERS: Readers = {
    "code": read_code,
    "label": read_text,
    "unit": read_unit,
    "price_eur": read_price,
}
INTERNATIONAL_READERS: Readers = {
    "zone": lambda text: read_code(text).upper(),
    "destination": read_text,
    "voice_per_minute_eur": read_price,
    "sms_eur": read_price,
    "data_per_mb_eur": read_price,
}
TERMINAL_READERS: Readers = {"brand": read_text, "model": read_text, "price_eur": read_price}


@dataclass(frozen=True)
class ParsedTable:
    """One table read: its typed rows (with row numbers, for cross-check errors) and its errors."""

    table: DossierItem
    items: tuple[tuple[int, Any], ...]
    errors: tuple[TableError, ...]


def parse_table(table: DossierItem, snapshot: TableSnapshot) -> ParsedTable:
    """Read one table on its own: columns, cells, duplicates. Cross-table checks are in `assess`."""
    parsed, errors = _cells_by_column(table, snapshot)
    items: list[tuple[int, Any]]  # typed rows, each table its own dataclass
    # Duplicates (offer codes, destinations, terminal models) are found by the reader: the schema
    # says what makes a row unique.
    dup: list[TableError] = []
    if table is DossierItem.OFFERS_TABLE:
        items, cell_errors = _read_rows(parsed, OFFER_READERS, Offer)
    elif table is DossierItem.TARIFFS_METROPOLITAN:
        items, cell_errors = _read_rows(parsed, METROPOLITAN_READERS, MetropolitanTariff)
        units = {t.unit for _, t in items}
        if items and not cell_errors and not errors:
            dup += [
                TableError(table=table, column="unit", reason=f"no tariff per {unit}")
                for unit in REQUIRED_METROPOLITAN_UNITS
                if unit not in units
            ]
    elif table is DossierItem.TARIFFS_INTERNATIONAL:
        items, cell_errors = _read_rows(parsed, INTERNATIONAL_READERS, InternationalTariff)
    elif table is DossierItem.TERMINALS_TABLE:
        items, cell_errors = _read_rows(parsed, TERMINAL_READERS, Terminal)
    else:
        raise ValueError(f"{table} is not an ISM table")
    return ParsedTable(table, tuple(items), tuple(errors + cell_errors + dup))


#: The order the ISM is configured in, and errors are reported in.
ISM_TABLES = (
    DossierItem.OFFERS_TABLE,
    DossierItem.TARIFFS_METROPOLITAN,
    DossierItem.TARIFFS_INTERNATIONAL,
    DossierItem.TERMINALS_TABLE,
)


@dataclass(frozen=True)
class Assessment:
    """The verdict on the tables received so far."""

    errors: tuple[TableError, ...]
    missing: tuple[DossierItem, ...]
    configuration: Configuration | None  # set only when complete and consistent


def assess(tables: Mapping[DossierItem, TableSnapshot]) -> Assessment:
    """Parse every table received and cross-check them.

    Errors are reported as soon as a table arrives, so the integrator can fix it without waiting
    for the other three; the configuration exists only when all four are present and consistent.
    """
    parsed = {t: parse_table(t, tables[t]) for t in ISM_TABLES if t in tables}
    errors = [e for p in parsed.values() for e in p.errors]
    offers = parsed.get(DossierItem.OFFERS_TABLE)
    international = parsed.get(DossierItem.TARIFFS_INTERNATIONAL)
    if offers is not None and international is not None:
        zones = {t.zone for _, t in international.items}
        for number, offer in offers.items:
            for zone in offer.zones:
                if zone not in zones:
                    errors.append(
                        TableError(
                            table=DossierItem.OFFERS_TABLE,
                            row=number,
                            column="zones",
                            reason=f"zone {zone!r} is not in the international tariffs",
                        )
                    )
    missing = tuple(t for t in ISM_TABLES if t not in tables)
    configuration = None
    if not errors and not missing:
        configuration = Configuration(
            offers=tuple(o for _, o in parsed[DossierItem.OFFERS_TABLE].items),
            metropolitan_tariffs=tuple(t for _, t in parsed[DossierItem.TARIFFS_METROPOLITAN].items),
            international_tariffs=tuple(t for _, t in parsed[DossierItem.TARIFFS_INTERNATIONAL].items),
            terminals=tuple(t for _, t in parsed[DossierItem.TERMINALS_TABLE].items),
        )
    return Assessment(tuple(errors), missing, configuration)
