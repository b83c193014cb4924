"""The words the emails use for the business's codes, in each language (dossier items, steps, dates)."""

from __future__ import annotations

from typing import Any

from contracts.events.common import DossierItem

#: The dossier items in French: label, and gender + number ("fs": feminine singular, "mp":
#: masculine plural...) that the words about the item agree with.
_FR_ITEMS: dict[str, tuple[str, str]] = {
    DossierItem.ELECTRICAL_PROFILE_SHEET.value: ("fiche de configuration du profil électrique", "fs"),
    DossierItem.SIM_ARTWORK.value: ("personnalisation graphique de la carte SIM", "fs"),
    DossierItem.OFFERS_TABLE.value: ("table des offres commerciales", "fs"),
    DossierItem.TARIFFS_METROPOLITAN.value: ("tarifs compteur métropole", "mp"),
    DossierItem.TARIFFS_INTERNATIONAL.value: ("tarifs internationaux", "mp"),
    DossierItem.TERMINALS_TABLE.value: ("table des terminaux mobiles", "fs"),
    DossierItem.LOGO.value: ("logo (jpg ou png, 95 × 95 px en 300 dpi)", "ms"),
    DossierItem.FOOTER_BANNER.value: ("bandeau de bas de page (jpg ou png, 760 × 95 px en 300 dpi)", "ms"),
    DossierItem.ARCEP_DECLARATION.value: ("déclaration ARCEP", "fs"),
    DossierItem.INVOICE_SENDER_EMAIL.value: ("adresse e-mail d'expédition des factures", "fs"),
}
_EN_ITEMS: dict[str, tuple[str, str]] = {
    DossierItem.ELECTRICAL_PROFILE_SHEET.value: ("electrical profile configuration sheet", "any"),
    DossierItem.SIM_ARTWORK.value: ("SIM graphic customisation (artwork)", "any"),
    DossierItem.OFFERS_TABLE.value: ("offers table", "any"),
    DossierItem.TARIFFS_METROPOLITAN.value: ("tariffs, metropolitan France", "any"),
    DossierItem.TARIFFS_INTERNATIONAL.value: ("tariffs, international", "any"),
    DossierItem.TERMINALS_TABLE.value: ("mobile terminals table", "any"),
    DossierItem.LOGO.value: ("logo (jpg or png, 95 × 95 px at 300 dpi)", "any"),
    DossierItem.FOOTER_BANNER.value: ("invoice footer banner (jpg or png, 760 × 95 px at 300 dpi)", "any"),
    DossierItem.ARCEP_DECLARATION.value: ("ARCEP declaration", "any"),
    DossierItem.INVOICE_SENDER_EMAIL.value: ("invoice sender email address", "any"),
}

LABELS: dict[str, dict[str, Any]] = {
    "fr": {
        # Each item's label with its grammatical gender and number (f/m, s/p) declared next to it:
        # the words that agree with it ("acceptée", "acceptés") are chosen from `agreed` below.
        "items": {item: label for item, (label, _form) in _FR_ITEMS.items()},
        "item_forms": {item: form for item, (_label, form) in _FR_ITEMS.items()},
        "agreed": {
            "accepted": {"ms": "accepté", "fs": "acceptée", "mp": "acceptés", "fp": "acceptées"},
        },
        "details": {
            "footer_text": "Texte du bandeau",
            "sent_on": "Date d'envoi à l'ARCEP",
            "receipt_received_on": "Date de l'accusé de réception",
            "email": "Adresse e-mail",
        },
        "channels": {"email": "e-mail", "phone": "téléphone", "api": "portail / API"},
        "steps": {
            "test_sims": "étape 2 : cartes SIM de test (délai 2 semaines)",
            "production": "étape 3 : production et livraison des cartes SIM (délai 4 semaines)",
        },
        "weekdays": ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
        "months": [
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ],
        "when": "{weekday} {day} {month} {year} à {time} (heure de Paris)",
        "signature": "La plateforme intégrateurs",
        "phone": "Tél.",
        "support_line": "Support intégrateurs : {phone} · {email} ({hours})",
        "via": "{vendor} via la plateforme intégrateurs",
        "hidden_link": "[lien personnel masqué]",
        "invitation": "Rendez-vous téléphonique : test et validation des cartes SIM",
    },
    "en": {
        "items": {item: label for item, (label, _form) in _EN_ITEMS.items()},
        # English does not agree: one form for every item.
        "item_forms": {item: "any" for item in _EN_ITEMS},
        "agreed": {"accepted": {"any": "accepted"}},
        "details": {
            "footer_text": "Banner text",
            "sent_on": "Date sent to ARCEP",
            "receipt_received_on": "Date of the receipt",
            "email": "Email address",
        },
        "channels": {"email": "email", "phone": "phone call", "api": "portal / API"},
        "steps": {
            "test_sims": "step 2: test SIMs (2 weeks)",
            "production": "step 3: SIM production and delivery (4 weeks)",
        },
        "weekdays": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
        "months": [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ],
        "when": "{weekday} {day} {month} {year} at {time} (Paris time)",
        "signature": "The integrator platform",
        "phone": "Tel.",
        "support_line": "Integrator support: {phone} · {email} ({hours})",
        "via": "{vendor} via the integrator platform",
        "hidden_link": "[personal link hidden]",
        "invitation": "Phone appointment: test SIM validation",
    },
}
