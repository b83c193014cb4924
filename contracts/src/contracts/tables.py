"""The four ISM tables an integrator sends in its dossier, declared once: columns, kinds, and the
French and English headers a person may give them.

Published language, shared by onboarding (which checks the file on submission and sends the rows,
normalised to these canonical names, in `DossierItemAccepted`) and ism-provisioning (which configures
the ISM from them). Plain data, no parsing: `chassis.tables` reads a table against one of these
schemas and makes the templates from them. The canonical names are `ISM_TABLE_COLUMNS`'s.

Headers are compared case-, accent-, punctuation- and spacing-insensitively, so a synonym is written
once (`"minutes voix"` also matches `Minutes_Voix` and `MINUTES VOIX`); a currency in a header
(`Prix (€)`, `price EUR`) is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from contracts.events.common import DossierItem


class CellKind(StrEnum):
    """How a cell is read, and the canonical text it is written back as."""

    TEXT = "text"  # required, at most 200 characters
    CODE = "code"  # letters, digits, _ . - ; at most 40
    PRICE = "price"  # euros: `12,50 €`, `12.50`, `EUR 12.5` -> "12.50"; at most 4 decimals
    COUNT_OR_UNLIMITED = "count_or_unlimited"  # `120`, `1 000`, `illimité` -> "120", "unlimited"
    VOLUME_OR_UNLIMITED = "volume_or_unlimited"  # `5`, `2,5 Go`, `unlimited` -> "5", "2.5", "unlimited"
    CODE_LIST = "code_list"  # `EU; Maghreb` -> "EU;MAGHREB"; may be empty
    CHOICE = "choice"  # one of `choices`, by any of its synonyms -> the canonical value


@dataclass(frozen=True)
class Column:
    """One column: its canonical name, how its cells read, and the headers that mean it."""

    name: str
    kind: CellKind
    #: Other headers meaning this column, French and English (the canonical name always matches).
    synonyms: tuple[str, ...] = ()
    label_fr: str = ""
    label_en: str = ""
    #: What a good cell looks like, written in the templates' example row.
    example: str = ""
    #: CHOICE: canonical value -> the words that mean it.
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Unit words tolerated after a number (`120 min`, `5 Go`).
    units: tuple[str, ...] = ()
    #: False: the column may be left out of the file, every cell then empty (zones: France only).
    required: bool = True

    def headers(self) -> tuple[str, ...]:
        return (self.name, *self.synonyms)


@dataclass(frozen=True)
class LongForm:
    """The same table written one row per key × service (e.g. destination × voice/SMS/data), each row
    holding one price: read back into one row per key with a column per service."""

    #: The column naming the service; its choices are the wide columns' names.
    service: Column
    #: The column holding the price of that service.
    value: Column
    #: Optional column naming the unit; when present it must agree with the service's unit.
    unit: Column | None = None
    #: Wide column -> the unit its price is per (as `unit`'s canonical choices).
    unit_of: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PerUnitForm:
    """Metered prices written one column per unit on a row (`Prix minute`, `Prix SMS`, `Prix Mo`):
    each filled price becomes one row of the table, its code made from the row's code (or the unit)
    and its label from the row's label (or the column's header)."""

    #: unit (as the `unit` column's canonical choices) -> the column holding its price.
    prices: Mapping[str, Column]
    #: The table's columns this form fills: code, label, unit and price.
    code: str = "code"
    label: str = "label"
    unit: str = "unit"
    price: str = "price_eur"


@dataclass(frozen=True)
class TableSchema:
    """A dossier table: its columns in canonical order, what makes a row unique, its long form."""

    item: DossierItem
    title_fr: str
    title_en: str
    columns: tuple[Column, ...]
    unique_by: tuple[str, ...]
    long_form: LongForm | None = None
    #: Another accepted shape of a table with a `unit` column: a price column per unit.
    per_unit: PerUnitForm | None = None
    #: Headers ignored without a word (free comments next to the data).
    ignored: tuple[str, ...] = ("comment", "comments", "commentaire", "commentaires", "remarque", "notes")

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


_PRICE_WORDS = ("prix", "price", "tarif", "montant", "prix ht", "prix ttc", "price excl vat")

OFFERS = TableSchema(
    item=DossierItem.OFFERS_TABLE,
    title_fr="Offres commerciales",
    title_en="Commercial offers",
    columns=(
        Column(
            "code",
            CellKind.CODE,
            ("code offre", "offer code", "reference", "ref", "identifiant", "id"),
            "Code de l'offre, unique",
            "Offer code, unique",
            "ESS-5",
        ),
        Column(
            "name",
            CellKind.TEXT,
            ("nom", "libelle", "nom de l offre", "offre", "offer", "offer name", "label"),
            "Nom commercial",
            "Commercial name",
            "Essentiel 5 Go",
        ),
        Column(
            "monthly_price_eur",
            CellKind.PRICE,
            (*_PRICE_WORDS, "prix mensuel", "monthly price", "mensualite", "abonnement", "prix par mois"),
            "Prix mensuel en euros (19,99)",
            "Monthly price in euros (19.99)",
            "9,99",
        ),
        Column(
            "data_gb",
            CellKind.VOLUME_OR_UNLIMITED,
            ("data", "go", "gb", "data go", "internet", "volume data", "donnees", "data gb", "internet go"),
            "Data incluse en Go, ou « illimité »",
            "Data included in GB, or 'unlimited'",
            "5",
            units=("go", "gb", "gio"),
        ),
        Column(
            "voice_minutes",
            CellKind.COUNT_OR_UNLIMITED,
            ("minutes", "minutes voix", "voix", "voice", "appels", "minutes d appel", "voice min"),
            "Minutes de voix incluses, ou « illimité »",
            "Voice minutes included, or 'unlimited'",
            "120",
            units=("min", "mn", "minutes", "minute"),
        ),
        Column(
            "sms",
            CellKind.COUNT_OR_UNLIMITED,
            ("sms inclus", "sms included", "textos", "messages"),
            "SMS inclus, ou « illimité »",
            "SMS included, or 'unlimited'",
            "illimité",
            units=("sms",),
        ),
        Column(
            "zones",
            CellKind.CODE_LIST,
            ("zone", "zones incluses", "roaming", "itinerance", "included zones", "destinations"),
            "Zones internationales incluses, séparées par « ; » (vide : France seule)",
            "International zones included, ';'-separated (empty: France only)",
            "EU",
            required=False,
        ),
    ),
    unique_by=("code",),
)

METERED_UNITS: Mapping[str, tuple[str, ...]] = {
    "minute": ("min", "minutes", "mn", "voix", "voice", "appel", "appels"),
    "sms": ("sms", "texto", "textos"),
    "mms": ("mms",),
    "mb": ("mo", "megaoctet", "megaoctets", "megabyte", "megabytes", "data", "internet", "donnees"),
}

TARIFFS_METROPOLITAN = TableSchema(
    item=DossierItem.TARIFFS_METROPOLITAN,
    title_fr="Tarifs compteur métropole",
    title_en="Metered tariffs, metropolitan France",
    columns=(
        Column(
            "code",
            CellKind.CODE,
            ("code tarif", "tariff code", "reference", "ref", "identifiant", "id"),
            "Code du tarif, unique",
            "Tariff code, unique",
            "VOICE-NAT",
        ),
        Column(
            "label",
            CellKind.TEXT,
            ("libelle", "nom", "name", "description", "designation"),
            "Libellé",
            "Label",
            "Appel vers fixes et mobiles en France",
        ),
        Column(
            "unit",
            CellKind.CHOICE,
            ("unite", "par", "per", "unite de facturation", "billing unit"),
            "Unité : minute, sms, mms ou mb (Mo)",
            "Unit: minute, sms, mms or mb",
            "minute",
            choices=METERED_UNITS,
        ),
        Column(
            "price_eur",
            CellKind.PRICE,
            (*_PRICE_WORDS, "prix unitaire", "unit price"),
            "Prix par unité en euros",
            "Price per unit in euros",
            "0,15",
        ),
    ),
    unique_by=("code",),
    per_unit=PerUnitForm(
        prices={
            "minute": Column(
                "minute",
                CellKind.PRICE,
                ("prix minute", "prix voix", "voix", "appels", "voice", "price per minute", "minute voix"),
                "Prix de la minute de voix",
                "Price per voice minute",
                "0,15",
                required=False,
            ),
            "sms": Column(
                "sms",
                CellKind.PRICE,
                ("prix sms", "sms price", "prix par sms"),
                "Prix du SMS",
                "Price per SMS",
                "0,10",
                required=False,
            ),
            "mms": Column(
                "mms",
                CellKind.PRICE,
                ("prix mms", "mms price", "prix par mms"),
                "Prix du MMS",
                "Price per MMS",
                "0,30",
                required=False,
            ),
            "mb": Column(
                "mb",
                CellKind.PRICE,
                ("prix mo", "mo", "data", "prix data", "internet", "price per mb", "data mo", "prix par mo"),
                "Prix du Mo de data",
                "Price per MB of data",
                "0,05",
                required=False,
            ),
        }
    ),
)

_SERVICE = Column(
    "service",
    CellKind.CHOICE,
    ("type", "prestation", "usage", "type de service", "service type"),
    "Service : voix, sms ou data",
    "Service: voice, sms or data",
    "voix",
    choices={
        "voice_per_minute_eur": ("voix", "voice", "appel", "appels", "appel voix", "minute", "minutes"),
        "sms_eur": ("sms", "texto", "textos"),
        "data_per_mb_eur": ("data", "donnees", "internet", "mo", "mb"),
    },
)

TARIFFS_INTERNATIONAL = TableSchema(
    item=DossierItem.TARIFFS_INTERNATIONAL,
    title_fr="Tarifs internationaux",
    title_en="International tariffs",
    columns=(
        Column(
            "zone",
            CellKind.CODE,
            ("zone tarifaire", "tariff zone", "code zone", "zone code"),
            "Code de la zone tarifaire",
            "Tariff zone code",
            "EU",
        ),
        Column(
            "destination",
            CellKind.TEXT,
            ("pays", "country", "destination pays"),
            "Pays de destination",
            "Destination country",
            "Allemagne",
        ),
        Column(
            "voice_per_minute_eur",
            CellKind.PRICE,
            (
                "voix",
                "voice",
                "prix minute",
                "minute",
                "prix voix",
                "voix par minute",
                "voice per minute",
                "appel minute",
            ),
            "Prix de la minute de voix en euros",
            "Price per voice minute in euros",
            "0,15",
        ),
        Column(
            "sms_eur",
            CellKind.PRICE,
            ("sms", "prix sms", "sms price", "prix par sms"),
            "Prix du SMS en euros",
            "Price per SMS in euros",
            "0,10",
        ),
        Column(
            "data_per_mb_eur",
            CellKind.PRICE,
            ("data", "prix mo", "data mo", "prix data", "data par mo", "data per mb", "internet mo"),
            "Prix du Mo de data en euros",
            "Price per MB of data in euros",
            "0,05",
        ),
    ),
    unique_by=("destination",),
    long_form=LongForm(
        service=_SERVICE,
        value=Column(
            "price_eur",
            CellKind.PRICE,
            (*_PRICE_WORDS, "prix unitaire", "unit price"),
            "Prix par unité en euros",
            "Price per unit in euros",
            "0,15",
        ),
        unit=Column(
            "unit",
            CellKind.CHOICE,
            ("unite", "par", "per"),
            "Unité : minute, sms ou mb (Mo) ; facultative",
            "Unit: minute, sms or mb; optional",
            "minute",
            choices=METERED_UNITS,
            required=False,
        ),
        unit_of={"voice_per_minute_eur": "minute", "sms_eur": "sms", "data_per_mb_eur": "mb"},
    ),
)

TERMINALS = TableSchema(
    item=DossierItem.TERMINALS_TABLE,
    title_fr="Terminaux mobiles",
    title_en="Mobile terminals",
    columns=(
        Column(
            "brand",
            CellKind.TEXT,
            ("marque", "fabricant", "constructeur", "manufacturer", "make"),
            "Marque",
            "Brand",
            "Fairphone",
        ),
        Column(
            "model",
            CellKind.TEXT,
            ("modele", "terminal", "appareil", "device", "reference modele", "model name"),
            "Modèle",
            "Model",
            "Fairphone 5",
        ),
        Column(
            "price_eur",
            CellKind.PRICE,
            (*_PRICE_WORDS, "prix de vente", "sale price", "prix public"),
            "Prix de vente en euros",
            "Sale price in euros",
            "699,00",
        ),
    ),
    unique_by=("brand", "model"),
)

#: Every ISM table's schema, by dossier item.
TABLE_SCHEMAS: Mapping[DossierItem, TableSchema] = {
    s.item: s for s in (OFFERS, TARIFFS_METROPOLITAN, TARIFFS_INTERNATIONAL, TERMINALS)
}
