"""The sample tables of these tests, read the way onboarding reads an uploaded file."""

from __future__ import annotations

from pathlib import Path

from contracts.events.common import DossierItem, TableSnapshot
from ism_provisioning.tables import read_table

SAMPLES = Path(__file__).parent / "samples"

GOOD_FILES = {
    DossierItem.OFFERS_TABLE: "offers.csv",
    DossierItem.TARIFFS_METROPOLITAN: "tariffs_metropolitan.csv",
    DossierItem.TARIFFS_INTERNATIONAL: "tariffs_international.csv",
    DossierItem.TERMINALS_TABLE: "terminals.csv",
}


def sample(name: str) -> TableSnapshot:
    return read_table((SAMPLES / name).read_bytes(), name)


def good_tables() -> dict[DossierItem, TableSnapshot]:
    return {item: sample(name) for item, name in GOOD_FILES.items()}
