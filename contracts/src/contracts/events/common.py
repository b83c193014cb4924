"""Value types shared by several services' events."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Locale(StrEnum):
    FR = "fr"
    EN = "en"


class Contact(Frozen):
    """A person at the integrator who receives the platform's emails."""

    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    phone: str = Field(min_length=4, max_length=40)


class FileRef(Frozen):
    """A stored file, content-addressed: the sha256 names it, so it is never overwritten."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    filename: str = Field(min_length=1, max_length=255)
    media_type: str = Field(min_length=1, max_length=100)


class TableSnapshot(Frozen):
    """A parsed tabular dossier item, carried in the event itself.

    The integrator's tables are small (tens to a few thousand rows), so carrying the parsed rows
    keeps every consumer's log self-sufficient: ism-provisioning rebuilds from events alone,
    with no shared file store to reach.
    """

    columns: list[str]
    rows: list[list[str]] = Field(max_length=20_000)


class DossierItem(StrEnum):
    """The prerequisites of the integrator account (seed 000)."""

    ELECTRICAL_PROFILE_SHEET = "electrical_profile_sheet"
    SIM_ARTWORK = "sim_artwork"
    OFFERS_TABLE = "offers_table"
    TARIFFS_METROPOLITAN = "tariffs_metropolitan"
    TARIFFS_INTERNATIONAL = "tariffs_international"
    TERMINALS_TABLE = "terminals_table"
    LOGO = "logo"
    FOOTER_BANNER = "footer_banner"
    ARCEP_DECLARATION = "arcep_declaration"
    INVOICE_SENDER_EMAIL = "invoice_sender_email"


#: Items that are tables and travel as a `TableSnapshot` when accepted.
TABLE_ITEMS = frozenset(
    {
        DossierItem.OFFERS_TABLE,
        DossierItem.TARIFFS_METROPOLITAN,
        DossierItem.TARIFFS_INTERNATIONAL,
        DossierItem.TERMINALS_TABLE,
    }
)


class OnboardingStep(StrEnum):
    """Where an integrator is in the seed's process."""

    REGISTERED = "registered"
    ELECTRICAL_PROFILE = "electrical_profile"  # step 1
    TEST_SIMS = "test_sims"  # step 2, 2 weeks
    PRODUCTION = "production"  # step 3, 4 weeks
    ISM = "ism"  # final: ISM configured and delivered
    LIVE = "live"  # GO intégrateur
