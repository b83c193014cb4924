"""The words the emails use for the business's codes, in each language (dossier items, steps, dates)."""

from __future__ import annotations

from typing import Any

from contracts.events.common import DossierItem

LABELS: dict[str, dict[str, Any]] = {
    "fr": {
        "items": {
            DossierItem.ELECTRICAL_PROFILE_SHEET.value: "fiche de configuration du profil électrique",
            DossierItem.SIM_ARTWORK.value: "personnalisation graphique de la carte SIM",
            DossierItem.OFFERS_TABLE.value: "table des offres commerciales",
            DossierItem.TARIFFS_METROPOLITAN.value: "tarifs compteur métropole",
            DossierItem.TARIFFS_INTERNATIONAL.value: "tarifs internationaux",
            DossierItem.TERMINALS_TABLE.value: "table des terminaux mobiles",
            DossierItem.LOGO.value: "logo (jpg ou png, 95 × 95 px en 300 dpi)",
            DossierItem.FOOTER_BANNER.value: "bandeau de bas de page (jpg ou png, 760 × 95 px en 300 dpi)",
            DossierItem.ARCEP_DECLARATION.value: "déclaration ARCEP",
            DossierItem.INVOICE_SENDER_EMAIL.value: "adresse e-mail d'expédition des factures",
        },
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
        "items": {
            DossierItem.ELECTRICAL_PROFILE_SHEET.value: "electrical profile configuration sheet",
            DossierItem.SIM_ARTWORK.value: "SIM graphic customisation (artwork)",
            DossierItem.OFFERS_TABLE.value: "offers table",
            DossierItem.TARIFFS_METROPOLITAN.value: "tariffs, metropolitan France",
            DossierItem.TARIFFS_INTERNATIONAL.value: "tariffs, international",
            DossierItem.TERMINALS_TABLE.value: "mobile terminals table",
            DossierItem.LOGO.value: "logo (jpg or png, 95 × 95 px at 300 dpi)",
            DossierItem.FOOTER_BANNER.value: "invoice footer banner (jpg or png, 760 × 95 px at 300 dpi)",
            DossierItem.ARCEP_DECLARATION.value: "ARCEP declaration",
            DossierItem.INVOICE_SENDER_EMAIL.value: "invoice sender email address",
        },
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
