"""Refusals in the caller's language: problem+json `title` and `detail` in French or English.

The services write their refusals in English (code, logs and tests read them); a person meeting one
reads it in their language — `Accept-Language`, French when it names neither (the integrators are
French). `TranslateProblems` rewrites every `application/problem+json` answer on its way out, so
every refusal (a domain's, a validation error, the body limit, auth) passes through one catalogue.
Only `title` and `detail` change: `code`, `errors[].field` and the other members are what clients
test, and stay as they are.

The catalogue holds English templates with `{placeholders}`: a detail matching one is rewritten
with the same values; a `{reason}`/`{reasons}` placeholder is translated in turn (reasons are
`; `-separated). A detail the catalogue does not know is left in English rather than guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
PROBLEM = "application/problem+json"

TITLES_FR = {
    "Refused": "Refusé",
    "Not found": "Introuvable",
    "Conflict": "Conflit",
    "Invalid request": "Requête invalide",
    "Unauthorized": "Authentification requise",
    "Forbidden": "Interdit",
    "Method not allowed": "Méthode non autorisée",
    "Payload too large": "Envoi trop volumineux",
    "Service unavailable": "Service indisponible",
    "Too many requests": "Trop de requêtes",
    "Error": "Erreur",
}

#: English template -> French template. Placeholders are kept, in any order.
CATALOGUE_FR: dict[str, str] = {
    # the HTTP layer
    "invalid: {fields}": "invalide : {fields}",
    "the limit is {n} bytes": "la limite est de {n} octets",
    "the file is over the limit of {n} bytes": "le fichier dépasse la limite de {n} octets",
    "someone else changed this at the same time: reload and try again": (
        "quelqu'un d'autre l'a modifié au même moment : rechargez et réessayez"
    ),
    "the database is not reachable; nothing was changed, retry later": (
        "la base de données ne répond pas ; rien n'a été modifié, réessayez plus tard"
    ),
    "not found": "introuvable",
    "authentication required": "authentification requise",
    "invalid token: {why}": "jeton invalide : {why}",
    "this needs one of the roles: {roles}": "il faut l'un de ces rôles : {roles}",
    "{first} (and {n} more)": "{first} (et {n} autre(s))",
    # registration
    "no such integrator": "intégrateur inconnu",
    "this integrator is already registered": "cet intégrateur est déjà inscrit",
    "an integrator with this SIRET is already registered": "un intégrateur est déjà inscrit avec ce SIRET",
    "a SIRET is 14 digits": "un SIRET compte 14 chiffres",
    "the SIREN (first 9 digits of the SIRET) fails its Luhn check": (
        "le SIREN (9 premiers chiffres du SIRET) a une clé de contrôle (Luhn) fausse"
    ),
    "the SIRET fails its Luhn check": "le SIRET a une clé de contrôle (Luhn) fausse",
    "a French VAT number is FR, a 2-digit key and the 9-digit SIREN": (
        "un numéro de TVA français s'écrit FR, une clé de 2 chiffres et le SIREN de 9 chiffres"
    ),
    "the VAT number is for SIREN {vat}, not {siren}": "le numéro de TVA est celui du SIREN {vat}, pas {siren}",
    "the VAT key {key} does not match the SIREN (expected {expected})": (
        "la clé de TVA {key} ne correspond pas au SIREN (attendue : {expected})"
    ),
    "{email} is not an email address: {why}": "{email} n'est pas une adresse e-mail valide : {why}",
    "{phone} is not a French phone number": "{phone} n'est pas un numéro de téléphone français",
    "a per-minute cost cannot be negative": "un coût par minute ne peut pas être négatif",
    "at least one contact receives the platform's emails": (
        "au moins un contact doit recevoir les e-mails de la plateforme"
    ),
    "the legal name is required": "la raison sociale est obligatoire",
    "the address is required": "l'adresse est obligatoire",
    # dossier files
    "{item}: {reasons}": "{item} : {reasons}",
    "the file is empty": "le fichier est vide",
    "the file is not an image (JPEG or PNG expected)": "le fichier n'est pas une image (JPEG ou PNG attendu)",
    "{kind} images are not accepted: JPEG or PNG only": "les images {kind} ne sont pas acceptées : JPEG ou PNG",
    "the image is damaged or truncated: {why}": "l'image est abîmée ou tronquée : {why}",
    "the image is {size} px; exactly {required} px is required": (
        "l'image fait {size} px ; il faut exactement {required} px"
    ),
    "the image has no resolution in its metadata; {dpi} dpi is required": (
        "l'image n'indique pas sa résolution ; il faut {dpi} dpi"
    ),
    "the image is at {dpi} dpi; {required} dpi is required": "l'image est à {dpi} dpi ; il faut {required} dpi",
    "the file is named {ext} but its content is {kind}: it lies about its type": (
        "le fichier est nommé {ext} mais contient du {kind} : son extension ment"
    ),
    "the file is not a PDF": "le fichier n'est pas un PDF",
    "the PDF is truncated (no end-of-file marker)": "le PDF est tronqué (pas de marque de fin)",
    "the file is not an Excel workbook ({ext})": "le fichier n'est pas un classeur Excel ({ext})",
    "{ext} files are not accepted: CSV, XLSX or XLS": "les fichiers {ext} ne sont pas acceptés : CSV, XLSX ou XLS",
    "the file is binary, not a CSV table": "le fichier est binaire, ce n'est pas un tableau CSV",
    "{label} is not filled in": "{label} n'est pas rempli",
    "the configuration sheet is empty": "la fiche de configuration est vide",
    "no file submitted for {item}": "aucun fichier envoyé pour {item}",
    "{item} is already accepted": "{item} est déjà accepté",
    # tables
    "the table is empty": "le tableau est vide",
    "the table has no rows": "le tableau n'a aucune ligne",
    "{n} rows: at most {max}": "{n} lignes : au plus {max}",
    "missing column {column}: the columns found are {found}. This column may be headed {accepted}": (
        "colonne {column} absente : les colonnes trouvées sont {found}. Elle peut s'intituler {accepted}"
    ),
    "unknown column {column}: the columns of this table are {expected}": (
        "colonne {column} inconnue : les colonnes de ce tableau sont {expected}"
    ),
    "column appears twice": "colonne en double",
    "{cells} cells for {columns} columns": "{cells} cellules pour {columns} colonnes",
    "empty: a value is required": "vide : une valeur est obligatoire",
    "empty: a price is required": "vide : un prix est obligatoire",
    "{value} is negative": "{value} est négatif",
    "{value} is not a price in euros (e.g. 19,99)": "{value} n'est pas un prix en euros (par ex. 19,99)",
    "{value} has more than {n} decimals": "{value} a plus de {n} décimales",
    "{value} mixes ',' and '.': write 1234,50 or 1234.50": "{value} mélange ',' et '.' : écrivez 1234,50",
    "{value} is not a whole number or 'unlimited'": "{value} n'est pas un nombre entier ni « illimité »",
    "{value} is not a number of GB or 'unlimited'": "{value} n'est pas un nombre de Go ni « illimité »",
    "{value} is not a code (letters, digits, _ . -; at most 40)": (
        "{value} n'est pas un code (lettres, chiffres, _ . - ; 40 au plus)"
    ),
    "{value} is not one of: {choices}": "{value} n'est pas l'une des valeurs : {choices}",
    "duplicate {value} (already on row {row})": "{value} en double (déjà ligne {row})",
    "longer than 200 characters": "plus de 200 caractères",
    "a code is listed twice": "un code est cité deux fois",
    "no price on this row": "aucun prix sur cette ligne",
    "no {service} price for {key}": "pas de prix {service} pour {key}",
    "a second {service} price for {key} (already on row {row})": (
        "un second prix {service} pour {key} (déjà ligne {row})"
    ),
    "a {service} price is per {unit}, not per {other}": "un prix {service} est par {unit}, pas par {other}",
    # the validation call
    "the call is held within support hours: 09:00–12:00 or 14:00–18:00, Monday to Friday "
    "except public holidays, Paris time": (
        "l'appel a lieu pendant les heures du support : 9 h–12 h ou 14 h–18 h, du lundi au vendredi "
        "hors jours fériés, heure de Paris"
    ),
    "the appointment is in the future": "le rendez-vous doit être dans le futur",
    "the appointment is within the next six months": "le rendez-vous doit être dans les six prochains mois",
    "a call lasts 5 to 240 minutes": "un appel dure de 5 à 240 minutes",
    "the integrator has not confirmed receiving the test SIMs: the call tests them": (
        "l'intégrateur n'a pas confirmé la réception des SIM de test : l'appel sert à les tester"
    ),
}

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
#: Placeholders narrower than "anything", so `{item}: {reasons}` only matches a dossier item's name.
_SHAPES = {"item": "[a-z_]+", "n": "[0-9]+", "row": "[0-9]+", "cells": "[0-9]+", "columns": "[0-9]+"}


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    compiled = []
    for english, french in CATALOGUE_FR.items():
        parts = _PLACEHOLDER.split(english)
        regex = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<{part}>{_SHAPES.get(part, '.+?')})"
            for i, part in enumerate(parts)
        )
        compiled.append((re.compile(f"^{regex}$", re.DOTALL), french))
    return compiled


def translate(text: str, language: str) -> str:
    """`text` in `language` when the catalogue knows it; else as it is."""
    if language != "fr" or not text:
        return text
    for pattern, french in _patterns():
        match = pattern.match(text)
        if match is None:
            continue
        values = dict(match.groupdict())
        for name in ("reason", "first", "why"):
            if name in values:
                values[name] = translate(values[name], language)
        if "reasons" in values:
            values["reasons"] = "; ".join(translate(r, language) for r in values["reasons"].split("; "))
        return french.format(**values)
    return text


def title_in(title: str, language: str) -> str:
    return TITLES_FR.get(title, title) if language == "fr" else title


def negotiate(accept_language: str | None) -> str:
    """The caller's language among fr/en from `Accept-Language` (q-values honoured); fr otherwise."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(accept_language.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        match = re.search(r"q=([0-9.]+)", params)
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, index, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def translate_problem(body: bytes, language: str) -> bytes:
    """A problem+json document with its `title` and `detail` in `language` (the rest untouched)."""
    try:
        document = json.loads(body)
    except ValueError:
        return body
    if not isinstance(document, dict):
        return body
    if isinstance(document.get("title"), str):
        document["title"] = title_in(document["title"], language)
    if isinstance(document.get("detail"), str):
        document["detail"] = translate(document["detail"], language)
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class TranslateProblems:
    """ASGI middleware: problem+json answers in the caller's language, `Content-Language` said.
    Only problem answers are held (they are small); every other answer streams through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        language = negotiate(_header(scope.get("headers") or [], b"accept-language"))
        start: Message | None = None
        chunks: list[bytes] = []

        async def send_translated(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                content_type = _header(message.get("headers") or [], b"content-type") or ""
                if content_type.startswith(PROBLEM):
                    start = message  # held until the body is complete
                    return
                await send(message)
                return
            if start is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = translate_problem(b"".join(chunks), language)
                headers = [
                    (k, v)
                    for k, v in start.get("headers") or []
                    if k.lower() not in (b"content-length", b"content-language")
                ]
                headers += [
                    (b"content-length", str(len(body)).encode()),
                    (b"content-language", language.encode()),
                ]
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, send_translated)
