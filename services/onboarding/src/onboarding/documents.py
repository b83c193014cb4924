"""Documents the vendor gives integrators that are generated, not stored: the blank electrical
profile configuration sheet, the logo and footer banner examples, the ARCEP form reference.

Generated on first request and kept in memory (a few KB each): no binary in the repository, and the
blank sheet is built from the same labels the profile check (`checks.check_configuration_sheet`)
asks to be filled in, so the sheet an integrator downloads is the sheet the check accepts once filled.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from dataclasses import dataclass

#: The postpaid configuration sheet with electrical profile (seed 000): label, hint. The check reads
#: the first sheet as labels (column A) and answers (column B): each label needs its answer.
CONFIGURATION_FIELDS: tuple[tuple[str, str], ...] = (
    ("Raison sociale / Company name", "Comme au Kbis / as registered"),
    ("Marque commerciale / Brand", "Nom affiché aux abonnés / shown to subscribers"),
    ("Contact technique : nom / Technical contact: name", ""),
    ("Contact technique : e-mail / Technical contact: email", ""),
    ("Contact technique : téléphone / Technical contact: phone", "+33..."),
    ("Type d'offre / Offer type", "postpaid"),
    ("Format de carte SIM / SIM form factor", "triple découpe (2FF/3FF/4FF) ou eSIM"),
    ("APN data / Data APN", "ex. internet.marque.fr"),
    ("Voix / Voice (oui/non)", ""),
    ("SMS (oui/non)", ""),
    ("Data mobile / Mobile data (oui/non)", ""),
    ("Itinérance internationale / International roaming (oui/non)", ""),
    ("Numéro du service client / Customer service number", "inscrit sur la carte / printed on the card"),
    ("Code PIN par défaut / Default PIN", "4 chiffres / 4 digits"),
    ("Plafond mensuel de consommation (€) / Monthly spending cap (€)", "0 = aucun / none"),
    ("Volume annuel prévu (cartes) / Expected yearly volume (cards)", ""),
)
#: The first row: a header whose "answer" is the column title, so it counts as filled.
CONFIGURATION_HEADER = ("Champ / Field", "Valeur / Value", "Aide / Help")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def configuration_sheet() -> bytes:
    """The blank sheet (.xlsx): labels in A, answers to give in B, help in C; a notice sheet after."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Configuration"
    sheet.append(list(CONFIGURATION_HEADER))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for label, hint in CONFIGURATION_FIELDS:
        sheet.append([label, None, hint or None])
    sheet.column_dimensions["A"].width = 62
    sheet.column_dimensions["B"].width = 36
    sheet.column_dimensions["C"].width = 48
    notice = book.create_sheet("Notice")
    for line in (
        "Fiche de configuration postpaid avec profil électrique",
        "Remplissez la colonne B de la feuille Configuration, une valeur par ligne, sans ajouter de ligne.",
        "Déposez ensuite le fichier dans votre dossier (élément « fiche de configuration du profil électrique »).",
        "Postpaid configuration sheet with electrical profile: fill in column B of the Configuration sheet,",
        "one value per row, then submit the file in your dossier (item 'electrical profile configuration sheet').",
    ):
        notice.append([line])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _image(size: tuple[int, int], text: str) -> bytes:
    """A PNG of exactly `size` pixels at 300 dpi: what the logo and banner checks require."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    width, height = size
    draw.rectangle((0, 0, width - 1, height - 1), outline=(31, 41, 51), width=2)
    draw.text((8, height // 2 - 6), text, fill=(31, 41, 51))
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(300, 300))
    return out.getvalue()


def logo_example() -> bytes:
    return _image((95, 95), "LOGO 95x95")


def banner_example() -> bytes:
    return _image(
        (760, 95), "Bandeau de pied de facture 760 x 95 px, 300 dpi : raison sociale, adresse, SIRET"
    )


ARCEP_REFERENCE = """# Déclaration ARCEP — ARCEP declaration

**Français.** Pour exploiter un réseau ouvert au public ou fournir au public un service de
communications électroniques, votre société se déclare auprès de l'ARCEP (article L. 33-1 du code
des postes et des communications électroniques). La déclaration se fait en ligne, sur le site de
l'ARCEP : https://www.arcep.fr/demarches-et-services/professionnels/declaration-operateur.html

Ce qu'il faut préparer : l'extrait Kbis, l'identité du représentant légal, la description des
services fournis (ici : services mobiles en marque blanche, data, voix, SMS), les zones couvertes.

Dans votre dossier, déclarez ensuite la **date d'envoi** de la déclaration (élément « déclaration
ARCEP »), puis déposez le récépissé de l'ARCEP (PDF ou scan) quand vous le recevez.

**English.** To provide electronic communications services to the public, your company declares
itself to ARCEP, the French telecoms regulator (article L. 33-1 of the CPCE), online at the address
above. Have ready: the company's registration extract (Kbis), the legal representative's identity,
the services provided (white-label mobile services: data, voice, SMS) and the areas covered. Then
declare the **date sent** in your dossier (item "ARCEP declaration"), and upload ARCEP's receipt
(PDF or scan) once received.
"""


@dataclass(frozen=True)
class Generated:
    filename: str
    media_type: str
    title: str
    build: Callable[[], bytes]


GENERATED: dict[str, Generated] = {
    "configuration-sheet": Generated(
        "fiche-configuration-profil-electrique.xlsx",
        XLSX,
        "Blank postpaid configuration sheet with electrical profile (fill in column B, then submit it)",
        configuration_sheet,
    ),
    "arcep-form": Generated(
        "declaration-arcep.md",
        "text/markdown; charset=utf-8",
        "ARCEP declaration: the form, where to file it, what to declare in the dossier",
        ARCEP_REFERENCE.encode,
    ),
    "logo-example": Generated(
        "exemple-logo-95x95-300dpi.png", "image/png", "Logo example: PNG, 95 × 95 px at 300 dpi", logo_example
    ),
    "banner-example": Generated(
        "exemple-bandeau-760x95-300dpi.png",
        "image/png",
        "Invoice footer banner example: PNG, 760 × 95 px at 300 dpi",
        banner_example,
    ),
}


@functools.cache
def content_of(name: str) -> bytes:
    """The document's bytes, built once per process (they never change while it runs)."""
    return GENERATED[name].build()
