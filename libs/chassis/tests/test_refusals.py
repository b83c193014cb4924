"""Refusals in the caller's language: the catalogue, the negotiation, the middleware on a real app."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from chassis.http import install_error_handlers
from chassis.refusals import CATALOGUE_FR, TranslateProblems, negotiate, translate
from contracts.errors import CommandRefused


def test_every_french_message_keeps_the_english_ones_placeholders() -> None:
    for english, french in CATALOGUE_FR.items():
        assert sorted(re.findall(r"\{(\w+)\}", english)) == sorted(re.findall(r"\{(\w+)\}", french)), english


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "fr"),
        ("", "fr"),
        ("de-DE", "fr"),
        ("en", "en"),
        ("en-GB,en;q=0.9,fr;q=0.8", "en"),
        ("fr-FR;q=0.5, en;q=0.7", "en"),
        ("en;q=0, fr", "fr"),
        ("fr-CA", "fr"),
    ],
)
def test_the_language_is_negotiated_french_by_default(header: str | None, language: str) -> None:
    assert negotiate(header) == language


def test_messages_with_values_and_nested_reasons_are_translated() -> None:
    assert translate("the VAT key 45 does not match the SIREN (expected 44)", "fr") == (
        "la clé de TVA 45 ne correspond pas au SIREN (attendue : 44)"
    )
    assert translate("terminals_table: 3 cells for 2 columns; '-1' is negative", "fr") == (
        "terminals_table : 3 cellules pour 2 colonnes; '-1' est négatif"
    )
    assert translate("something no one wrote down", "fr") == "something no one wrote down"  # not guessed
    assert translate("a SIRET is 14 digits", "en") == "a SIRET is 14 digits"


class Body(BaseModel):
    siret: str


async def test_problem_answers_are_rewritten_and_others_left_alone() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/refuse")
    async def refuse(body: Body) -> dict[str, str]:
        raise CommandRefused("a SIRET is 14 digits", field="siret")

    @app.get("/fine")
    async def fine() -> dict[str, str]:
        return {"detail": "a SIRET is 14 digits"}  # not a problem document: untouched

    app.add_middleware(TranslateProblems)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        french = await client.post("/refuse", json={"siret": "1"})
        assert french.status_code == 422 and french.headers["content-language"] == "fr"
        assert french.json() | {"errors": None} == {
            "type": "about:blank",
            "title": "Refusé",
            "status": 422,
            "detail": "un SIRET compte 14 chiffres",
            "code": "CommandRefused",
            "errors": None,
        }
        assert french.json()["errors"] == [{"field": "siret", "message": "a SIRET is 14 digits"}]
        english = await client.post("/refuse", json={"siret": "1"}, headers={"Accept-Language": "en"})
        assert (english.json()["title"], english.json()["detail"]) == ("Refused", "a SIRET is 14 digits")
        invalid = await client.post("/refuse", json={})
        assert (invalid.json()["title"], invalid.json()["detail"]) == ("Requête invalide", "invalide : siret")
        assert (await client.get("/fine")).json() == {"detail": "a SIRET is 14 digits"}
