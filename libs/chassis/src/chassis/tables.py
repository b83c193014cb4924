"""A tolerant reader of the tables people make: rows of text in, canonical rows and every problem out.

Generic parsing only; what each table holds is declared in `contracts.tables` (a `TableSchema`).
Used by onboarding when a file is submitted and by ism-provisioning when it configures the ISM, so
both read a table the same way.

What it tolerates, because a spreadsheet made outside this project does it:
- headers in French or English, any case, accents, spacing or punctuation (`Minutes voix`,
  `voice_minutes`, `Prix (€)`), a title row or blank rows above the header, comment columns;
- numbers with a decimal comma, spaces between thousands, a currency sign or word (`1 234,50 €`),
  a unit after them (`5 Go`, `120 min`); `illimité`/`unlimited` for allowances;
- tariffs written one row per destination × service (long form) as well as one column per service;
- CSV separated by `,` `;` tab or `|` (`sniff_delimiter`; the bytes are read by `chassis.bounded`,
  UTF-8 with or without BOM, or Windows-1252).

What it does not do is guess: every problem is reported at once — missing and unknown columns and
every bad cell (row, column, value, reason) — with rows numbered as in the spreadsheet (header: 1).
Cells are written back in one canonical form (`12.50`, `unlimited`, `EU;MAGHREB`, `minute`), so
whoever reads the rows next has a single spelling to know.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from contracts.tables import CellKind, Column, TableSchema

#: The shape a table was written in: as published, one row per key × service, or a column per unit.
Form = Literal["wide", "long", "per_unit"]

#: A sheet this long is not an integrator's table (and would make an event too large).
MAX_ROWS = 20_000
#: The header is looked for in the first rows: a title or a blank line above it is common.
_HEADER_SEARCH_ROWS = 10
_UNLIMITED = frozenset(
    {"unlimited", "illimite", "illimitee", "illimites", "illimitees", "infini", "sans limite", "no limit"}
)
#: Words in a header that say the currency or tax, not which column it is.
_NOISE_WORDS = frozenset({"eur", "euro", "euros", "ht", "ttc", "en"})
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
_PLAIN_DECIMAL = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")
_CURRENCY = re.compile(r"^(?:€|eur(?:os?)?)\s*|\s*(?:€|eur(?:os?)?)(?:\s*(?:ht|ttc))?$", re.IGNORECASE)
_PER_UNIT = re.compile(r"\s*(?:/|par\b|per\b)\s*[a-zé]+\.?$", re.IGNORECASE)
MAX_DECIMALS = 4


@dataclass(frozen=True)
class TableProblem:
    """One thing to fix. `row` as in the spreadsheet (header: 1; None: the whole table), `column` as
    headed in the file (a missing column: its canonical name), `value` the cell as written."""

    reason: str
    row: int | None = None
    column: str | None = None
    value: str | None = None
    #: The canonical name of the column (`column` is as headed in the file).
    field: str | None = None


@dataclass(frozen=True)
class ImportedTable:
    """A table read against its schema: canonical columns and rows (with the spreadsheet row each
    came from), the problems found, and what was read past."""

    columns: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]
    problems: tuple[TableProblem, ...]
    form: Form = "wide"
    #: Columns of the file that are not part of the table (comments, or unknown ones when nothing
    #: is missing): read past, and said so.
    ignored_columns: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def canonical_rows(self) -> list[list[str]]:
        return [list(cells) for _, cells in self.rows]


# --- headers ----------------------------------------------------------------------------------------


def header_key(text: str) -> str:
    """How headers (and choice words) are compared: no accents, case, punctuation, currency or tax
    words, runs of spaces — `Prix (€ TTC)`, `prix` and `PRIX_EUR` are one key."""
    decomposed = unicodedata.normalize("NFKD", text.replace("€", " eur "))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    words = re.sub(r"[^0-9a-z]+", " ", plain).split()
    kept = [w for w in words if w not in _NOISE_WORDS]
    return " ".join(kept or words)


def _headers_of(column: Column) -> set[str]:
    return {header_key(h) for h in column.headers()}


@dataclass
class _Header:
    row: int  # spreadsheet row number
    #: canonical column name -> (cell index, header as written)
    found: dict[str, tuple[int, str]]
    unknown: list[tuple[int, str]]
    ignored: list[str]
    twice: list[str]


def _match_header(cells: Sequence[str], row: int, columns: Sequence[Column], ignored: set[str]) -> _Header:
    by_key: dict[str, str] = {}
    for column in columns:
        for key in _headers_of(column):
            by_key.setdefault(key, column.name)
    header = _Header(row, {}, [], [], [])
    for index, text in enumerate(cells):
        if not text.strip():
            continue
        key = header_key(text)
        name = by_key.get(key)
        if name is None:
            if key in ignored:
                header.ignored.append(text.strip())
            else:
                header.unknown.append((index, text.strip()))
        elif name in header.found:
            header.twice.append(text.strip())
        else:
            header.found[name] = (index, text.strip())
    return header


# --- cells ------------------------------------------------------------------------------------------


class CellError(ValueError):
    """A cell that does not read as its column's kind; the message says why, for the integrator."""


def read_price(text: str) -> str:
    """Euros as a plain decimal: `12,50 €`, `€12.50`, `1 234,5 EUR HT`, `0,15 €/min` -> 12.50, 1234.5..."""
    shown = text.strip()
    if not shown:
        raise CellError("empty: a price is required")
    plain = _CURRENCY.sub("", _PER_UNIT.sub("", _CURRENCY.sub("", shown))).strip()
    plain = _SPACES.sub("", plain)
    if plain.startswith("-"):
        raise CellError(f"{shown} is negative")
    if plain.startswith("+"):
        plain = plain[1:]
    if "," in plain and "." in plain:
        raise CellError(f"{shown!r} mixes ',' and '.': write 1234,50 or 1234.50")
    plain = plain.replace(",", ".")
    if not _PLAIN_DECIMAL.match(plain):
        raise CellError(f"{shown!r} is not a price in euros (e.g. 19,99)")
    if "." in plain and len(plain.split(".")[1]) > MAX_DECIMALS:
        raise CellError(f"{shown} has more than {MAX_DECIMALS} decimals")
    return plain


def _is_unlimited(text: str) -> bool:
    return header_key(text) in _UNLIMITED or text.strip() == "∞"


def _without_unit(text: str, units: Sequence[str]) -> str:
    plain = text.strip()
    words = plain.split()
    if len(words) > 1 and header_key(words[-1]) in {header_key(u) for u in units}:
        plain = " ".join(words[:-1])
    return plain


def read_count_or_unlimited(text: str, units: Sequence[str] = ()) -> str:
    """A whole number (`1 000`, `120 min`) or unlimited (`illimité`, `Unlimited`) -> "120"/"unlimited"."""
    if _is_unlimited(text):
        return "unlimited"
    plain = _SPACES.sub("", _without_unit(text, units))
    if not plain.isascii() or not plain.isdigit():
        raise CellError(f"{text.strip()!r} is not a whole number or 'unlimited'")
    return str(int(plain))


def read_volume_or_unlimited(text: str, units: Sequence[str] = ()) -> str:
    """A number of GB, decimal comma allowed (`2,5 Go`), or unlimited -> "2.5"/"unlimited"."""
    if _is_unlimited(text):
        return "unlimited"
    plain = _SPACES.sub("", _without_unit(text, units)).replace(",", ".")
    if not _PLAIN_DECIMAL.match(plain):
        raise CellError(f"{text.strip()!r} is not a number of GB or 'unlimited'")
    return plain


def read_code(text: str) -> str:
    plain = text.strip()
    if not _CODE.match(plain):
        raise CellError(f"{plain!r} is not a code (letters, digits, _ . -; at most 40)")
    return plain


def read_text(text: str) -> str:
    plain = " ".join(text.split())
    if not plain:
        raise CellError("empty: a value is required")
    if len(plain) > 200:
        raise CellError("longer than 200 characters")
    return plain


def read_code_list(text: str) -> str:
    """Codes separated by `;` `,` `|` or `/` -> upper case, `;`-joined; empty is an empty list."""
    parts = [p.strip() for p in re.split(r"[;,|/]", text) if p.strip()]
    codes = [read_code(p).upper() for p in parts]
    if len(set(codes)) != len(codes):
        raise CellError("a code is listed twice")
    return ";".join(codes)


def read_choice(text: str, column: Column) -> str:
    key = header_key(text)
    for value, words in column.choices.items():
        if key == header_key(value) or key in {header_key(w) for w in words}:
            return value
    raise CellError(f"{text.strip()!r} is not one of: {', '.join(column.choices)}")


def read_cell(column: Column, text: str) -> str:
    """The canonical text of one cell, or CellError."""
    kind = column.kind
    if kind is CellKind.PRICE:
        return read_price(text)
    if kind is CellKind.COUNT_OR_UNLIMITED:
        return read_count_or_unlimited(text, column.units)
    if kind is CellKind.VOLUME_OR_UNLIMITED:
        return read_volume_or_unlimited(text, column.units)
    if kind is CellKind.CODE:
        return read_code(text)
    if kind is CellKind.CODE_LIST:
        return read_code_list(text)
    if kind is CellKind.CHOICE:
        return read_choice(text, column)
    return read_text(text)


# --- tables -----------------------------------------------------------------------------------------


def _find_header(rows: Sequence[Sequence[str]], schema: TableSchema) -> int:
    """Index of the header row: the first of the top rows naming the most known columns."""
    every = [*schema.columns]
    if schema.long_form:
        every += [schema.long_form.service, schema.long_form.value]
    if schema.per_unit:
        every += list(schema.per_unit.prices.values())
    ignored = {header_key(h) for h in schema.ignored}
    best, best_found = 0, 0
    for index, cells in enumerate(rows[:_HEADER_SEARCH_ROWS]):
        found = len(_match_header(cells, index + 1, every, ignored).found)
        if found > best_found:
            best, best_found = index, found
    return best


def import_rows(
    schema: TableSchema, rows: Sequence[Sequence[str]], *, max_rows: int = MAX_ROWS
) -> ImportedTable:
    """Read `rows` (the header first, every cell as text) as `schema`'s table; never raises on content."""
    problems: list[TableProblem] = []
    names = tuple(c.name for c in schema.columns)
    start = next((i for i, r in enumerate(rows) if any(c.strip() for c in r)), None)
    if start is None:
        return ImportedTable(names, (), (TableProblem("the table is empty"),))
    start = _find_header(rows, schema) if start < _HEADER_SEARCH_ROWS else start
    header_cells = [str(c) for c in rows[start]]
    header_row = start + 1
    ignored = {header_key(h) for h in schema.ignored}

    long = schema.long_form
    per_unit = schema.per_unit
    form: Form = "wide"
    if long is not None:
        probe = _match_header(header_cells, header_row, [long.service, long.value], set())
        if len(probe.found) == 2:
            form = "long"
    if per_unit is not None:
        named = _match_header(header_cells, header_row, list(schema.columns), set()).found
        priced = _match_header(header_cells, header_row, list(per_unit.prices.values()), set()).found
        if per_unit.unit not in named and priced:
            form = "per_unit"
    if form == "long":
        assert long is not None
        keys = [c for c in schema.columns if c.name not in long.unit_of]
        expected = [*keys, long.service, long.value, *([long.unit] if long.unit else [])]
    elif form == "per_unit":
        assert per_unit is not None
        optional = [replace(schema.column(n), required=False) for n in (per_unit.code, per_unit.label)]
        expected = [*optional, *per_unit.prices.values()]
    else:
        expected = list(schema.columns)
    header = _match_header(header_cells, header_row, expected, ignored)

    missing = [c for c in expected if c.required and c.name not in header.found]
    found_text = ", ".join(repr(t) for t in header_cells if t.strip()) or "none"
    for column in missing:
        accepted = ", ".join(repr(h) for h in column.headers())
        problems.append(
            TableProblem(
                f"missing column {column.name!r}: the columns found are {found_text}. "
                f"This column may be headed {accepted}",
                row=header_row,
                column=column.name,
                field=column.name,
            )
        )
    ignored_columns = list(header.ignored)
    for _, text in header.unknown:
        if missing:
            # Something expected is absent: the unknown header is most likely it, misnamed.
            problems.append(
                TableProblem(
                    f"unknown column {text!r}: the columns of this table are "
                    f"{', '.join(c.name for c in expected if c.required or c.name in header.found)}",
                    row=header_row,
                    column=text,
                )
            )
        else:
            ignored_columns.append(text)
    for text in header.twice:
        problems.append(TableProblem("column appears twice", row=header_row, column=text))

    body = [(start + 2 + i, list(r)) for i, r in enumerate(rows[start + 1 :])]
    body = [(n, r) for n, r in body if any(str(c).strip() for c in r)]
    if not body:
        problems.append(TableProblem("the table has no rows"))
    if len(body) > max_rows:
        problems.append(TableProblem(f"{len(body)} rows: at most {max_rows}"))
        body = body[:max_rows]

    # A row may stop before the last columns (trailing empty cells are often dropped) unless it
    # lacks a required one: then it is most likely split on the wrong separator.
    needed = [header.found[c.name][0] for c in expected if c.required and c.name in header.found]
    read: list[tuple[int, dict[str, str]]] = []
    # Every row with its readable cells, bad ones included: a duplicate key is worth saying even
    # on a row that has another problem.
    every: list[tuple[int, dict[str, str]]] = []
    for number, cells in body:
        extra = [c for c in cells[len(header_cells) :] if str(c).strip()]
        if extra or any(i >= len(cells) for i in needed):
            problems.append(TableProblem(f"{len(cells)} cells for {len(header_cells)} columns", row=number))
            continue
        values: dict[str, str] = {}
        bad = False
        for column in expected:
            if column.name not in header.found:
                if not column.required:
                    values[column.name] = ""
                continue
            index, shown = header.found[column.name]
            raw = str(cells[index]) if index < len(cells) else ""
            if not raw.strip() and not column.required:
                values[column.name] = ""
                continue
            try:
                values[column.name] = read_cell(column, raw)
            except CellError as why:
                problems.append(
                    TableProblem(str(why), row=number, column=shown, value=raw, field=column.name)
                )
                bad = True
        every.append((number, values))
        if not bad:
            read.append((number, values))

    if form == "long":
        assert long is not None
        read = every = _pivot(schema, read, header, problems)
    elif form == "per_unit":
        read = every = _one_row_per_unit(schema, read, header, problems)
    _check_unique(schema, every, header, problems)
    # Without every column there is no canonical row to give, only the problems.
    canonical = () if missing else tuple((n, tuple(v.get(c, "") for c in names)) for n, v in read)
    return ImportedTable(names, canonical, tuple(problems), form, tuple(ignored_columns))


def _shown(header: _Header, name: str) -> str:
    return header.found[name][1] if name in header.found else name


def _pivot(
    schema: TableSchema, read: list[tuple[int, dict[str, str]]], header: _Header, problems: list[TableProblem]
) -> list[tuple[int, dict[str, str]]]:
    """Long form -> wide: one row per key (the columns that are not prices), a price per service."""
    long = schema.long_form
    assert long is not None
    keys = [c.name for c in schema.columns if c.name not in long.unit_of]

    def said(service: str) -> str:  # "voix", "sms", "data": the service as a person names it
        return long.service.choices[service][0]

    groups: dict[tuple[str, ...], tuple[int, dict[str, str], dict[str, int]]] = {}
    for number, values in read:
        service = values[long.service.name]
        if long.unit is not None and values.get(long.unit.name) and long.unit_of.get(service):
            if values[long.unit.name] != long.unit_of[service]:
                problems.append(
                    TableProblem(
                        f"a {said(service)} price is per {long.unit_of[service]}, "
                        f"not per {values[long.unit.name]}",
                        row=number,
                        column=_shown(header, long.unit.name),
                        value=values[long.unit.name],
                        field=long.unit.name,
                    )
                )
                continue
        key = tuple(values[k].casefold() for k in keys)
        first, wide, seen = groups.setdefault(key, (number, {k: values[k] for k in keys}, {}))
        if service in seen:
            problems.append(
                TableProblem(
                    f"a second {said(service)} price for {' / '.join(wide[k] for k in keys)} "
                    f"(already on row {seen[service]})",
                    row=number,
                    column=_shown(header, long.service.name),
                    value=values[long.service.name],
                    field=long.service.name,
                )
            )
            continue
        seen[service] = number
        wide[service] = values[long.value.name]
    out: list[tuple[int, dict[str, str]]] = []
    for first, wide, seen in groups.values():
        absent = [s for s in long.unit_of if s not in seen]
        for service in absent:
            problems.append(
                TableProblem(
                    f"no {said(service)} price for {' / '.join(wide[k] for k in keys)}",
                    row=first,
                    column=_shown(header, long.service.name),
                    field=long.service.name,
                )
            )
        if not absent:
            out.append((first, wide))
    return out


def _one_row_per_unit(
    schema: TableSchema, read: list[tuple[int, dict[str, str]]], header: _Header, problems: list[TableProblem]
) -> list[tuple[int, dict[str, str]]]:
    """A price column per unit -> a row per price: code from the row's code (or the unit), label from
    the row's label (or the column's header)."""
    form = schema.per_unit
    assert form is not None
    out: list[tuple[int, dict[str, str]]] = []
    for number, values in read:
        priced = [(unit, column) for unit, column in form.prices.items() if values.get(column.name)]
        if not priced:
            problems.append(TableProblem("no price on this row", row=number))
            continue
        for unit, column in priced:
            code, label = values.get(form.code, ""), values.get(form.label, "")
            shown = _shown(header, column.name)
            out.append(
                (
                    number,
                    {
                        form.code: f"{code}-{unit.upper()}" if code else unit.upper(),
                        form.label: f"{label} — {shown}" if label else shown,
                        form.unit: unit,
                        form.price: values[column.name],
                    },
                )
            )
    return out


def _check_unique(
    schema: TableSchema, read: list[tuple[int, dict[str, str]]], header: _Header, problems: list[TableProblem]
) -> None:
    first_seen: dict[tuple[str, ...], int] = {}
    for number, values in read:
        if not all(values.get(k) for k in schema.unique_by):
            continue
        key = tuple(values[k].casefold() for k in schema.unique_by)
        if key in first_seen:
            shown = " / ".join(values[k] for k in schema.unique_by)
            problems.append(
                TableProblem(
                    f"duplicate {shown!r} (already on row {first_seen[key]})",
                    row=number,
                    column=_shown(header, schema.unique_by[-1]),
                    value=values[schema.unique_by[-1]],
                    field=schema.unique_by[-1],
                )
            )
        else:
            first_seen[key] = number


# --- CSV ---------------------------------------------------------------------------------------------

_DELIMITERS = (";", "\t", ",", "|")


def sniff_delimiter(first_lines: str) -> str:
    """The separator of a CSV file from its first lines: of `;` TAB `,` `|`, the one that splits the
    header into the most columns and the following lines into as many. Ties go to `;`, which French
    Excel writes (its decimal mark is the comma). `chassis.bounded` reads the file with it."""
    sample = [line for line in first_lines.splitlines()[:20] if line.strip()]

    def score(delimiter: str) -> tuple[int, int]:
        widths = [len(r) for r in csv.reader(sample, delimiter=delimiter)]
        return (widths[0], sum(w == widths[0] for w in widths)) if widths else (0, 0)

    return max(_DELIMITERS, key=score)


# --- templates and descriptions ---------------------------------------------------------------------


def template_rows(schema: TableSchema) -> list[list[str]]:
    """The header (canonical names) and one example row: what the templates hold."""
    return [[c.name for c in schema.columns], [c.example for c in schema.columns]]


def template_csv(schema: TableSchema) -> bytes:
    """A `;`-separated UTF-8 CSV with BOM (so Excel shows the accents), header and example row."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerows(template_rows(schema))
    return out.getvalue().encode("utf-8-sig")


def template_xlsx(schema: TableSchema) -> bytes:
    """A workbook: the table (header and example) on the first sheet, the columns explained on a
    second one (names accepted, what each cell holds, in French and English)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = schema.title_fr[:31]
    for row in template_rows(schema):
        sheet.append(row)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    help_sheet = book.create_sheet("Colonnes - Columns")
    help_sheet.append(
        ["colonne / column", "description (fr)", "description (en)", "en-têtes acceptés / headers accepted"]
    )
    for cell in help_sheet[1]:
        cell.font = Font(bold=True)
    for column in schema.columns:
        help_sheet.append([column.name, column.label_fr, column.label_en, ", ".join(column.headers())])
    if schema.long_form is not None:
        long = schema.long_form
        help_sheet.append([])
        help_sheet.append(
            [
                "forme longue / long form",
                f"Aussi accepté : une ligne par {' × '.join(c.name for c in schema.columns if c.name not in long.unit_of)}"
                f" × service, avec les colonnes {long.service.name}, {long.value.name}"
                + (f" (et {long.unit.name})" if long.unit else ""),
                "Also accepted: one row per key × service with the columns "
                f"{long.service.name}, {long.value.name}" + (f" (and {long.unit.name})" if long.unit else ""),
                ", ".join(long.service.headers()),
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def describe(schema: TableSchema) -> str:
    """The schema in Markdown, for an API description: columns, kinds, headers accepted."""
    lines = [f"**{schema.title_en}** (`{schema.item.value}`):", ""]
    for column in schema.columns:
        optional = "" if column.required else " (optional column)"
        synonyms = ", ".join(f"`{h}`" for h in column.synonyms[:6])
        lines.append(f"- `{column.name}`{optional}: {column.label_en}. Also headed {synonyms}…")
    if schema.long_form is not None:
        long = schema.long_form
        lines.append(
            f"- or long form: one row per key × service, columns `{long.service.name}` "
            f"({', '.join(long.unit_of)}), `{long.value.name}`"
            + (f", optional `{long.unit.name}`" if long.unit else "")
        )
    if schema.per_unit is not None:
        headers = ", ".join(f"`{c.synonyms[0]}`" for c in schema.per_unit.prices.values())
        lines.append(f"- or a price column per unit ({headers}): a row per price")
    lines.append("")
    return "\n".join(lines)
