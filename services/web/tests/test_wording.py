"""French that agrees and English that counts (issue 24): a dossier item's state agrees with the
item's gender and number, counts take the plural form of their number (Babel/gettext plural forms),
"started"/"delivered" agree with what they are said of, and declared values show under labels —
rendered from the real templates and catalogues, no platform needed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from web import i18n, progress
from web.pages.common import templates
from web.pages.console import LABELS

from .test_portal_pure import dossier_context
from .test_portal_pure import render as render_portal


@pytest.fixture(params=["fr", "en"])
def locale(request: pytest.FixtureRequest) -> Iterator[str]:
    token = i18n.current_locale.set(request.param)
    yield request.param
    i18n.current_locale.reset(token)


def in_locale(locale: str) -> Any:
    class _Within:
        def __enter__(self) -> None:
            self.token = i18n.current_locale.set(locale)

        def __exit__(self, *exc: object) -> None:
            i18n.current_locale.reset(self.token)

    return _Within()


def render(template: str, **context: Any) -> str:
    base = {
        "person": None,
        "csrf_token": "t",
        "lang": i18n.current_locale.get(),
        "path": "/console",
        "flash": None,
    }
    return templates.get_template(template).render(**base, progress=progress, **LABELS, **context)


@pytest.mark.parametrize(
    ("item", "french", "english"),
    [
        ("arcep_declaration", "Acceptée", "Accepted"),
        ("tariffs_international", "Acceptés", "Accepted"),
        ("logo", "Accepté", "Accepted"),
    ],
)
def test_an_accepted_item_agrees_with_its_label(item: str, french: str, english: str) -> None:
    with in_locale("fr"):
        assert progress.item_state(item, "accepted") == french
        assert progress.item_state(item, "rejected") == french.replace("Accept", "Refus")
    with in_locale("en"):
        assert progress.item_state(item, "accepted") == english


def test_every_dossier_item_declares_its_form() -> None:
    assert set(progress.ITEMS) == set(progress.DOSSIER_ITEMS)
    with in_locale("fr"):
        for item in progress.ITEMS:
            assert progress.item_state(item, "accepted") != "Accepted", item


def test_the_portals_dossier_says_declaration_arcep_acceptee() -> None:
    context = dossier_context()
    context["status"]["dossier"] |= {
        "arcep_declaration": {"status": "accepted"},
        "logo": {"status": "accepted"},
    }
    with in_locale("fr"):
        html = render_portal("portal/dossier.html", **context)
    assert "Acceptée</span>" in html  # the ARCEP declaration
    assert "Accepté</span>" in html  # the logo
    with in_locale("en"):
        assert "Accepted</span>" in render_portal("portal/dossier.html", **context)


@pytest.mark.parametrize(
    ("answers", "sent", "french", "english"),
    [
        (1, 1, "1 réponse sur 1 enquête", "1 answer of 1 survey"),
        (0, 1, "0 réponse sur 1 enquête", "0 answers of 1 survey"),
        (3, 5, "3 réponses sur 5 enquêtes", "3 answers of 5 surveys"),
    ],
)
def test_survey_figures_take_their_plural_forms(answers: int, sent: int, french: str, english: str) -> None:
    overall = {
        "satisfaction": {"average_rating": 4, "answers": answers, "surveys_sent": sent},
        "tickets": 2,
        "time_to_resolve": {"average_business_hours": 3},
        "time_to_take": {"average_business_hours": 1},
    }
    figures = {"overall": overall}
    for locale, expected in (("fr", french), ("en", english)):
        with in_locale(locale):
            html = render("console/statistics.html", figures=figures, charts=[], weeks=4)
        assert expected in html, locale


INTEGRATOR = {"legal_name": "Acme", "dossier": {}}


def integrator_page(**context: Any) -> str:
    defaults: dict[str, Any] = {
        "integrator": INTEGRATOR,
        "integrator_id": "i-1",
        "contacts": [],
        "sims": {},
        "ism": {},
        "timeline": [],
        "services_down": [],
        "items": progress.DOSSIER_ITEMS,
        "tables": {},
        "errors": {},
        "form": {},
    }
    return render("console/integrator.html", **(defaults | context))


@pytest.mark.parametrize(
    ("locale", "production", "configuration"),
    [
        ("fr", "Commande de production : 500 SIM — lancée — livrée", "Configuration version 1 — livrée"),
        ("en", "Production order: 500 SIMs — started — delivered", "Configuration version 1 — delivered"),
    ],
)
def test_production_and_configuration_agree(locale: str, production: str, configuration: str) -> None:
    sims = {
        "test_sims": {"shipments": 1},
        "production": {"quantity": 500, "started": True, "delivery": {"quantity": 500}},
    }
    ism = {"configuration_version": 1, "delivery": {"delivered_at": "2026-11-20T10:00:00+00:00"}}
    with in_locale(locale):
        html = integrator_page(sims=sims, ism=ism)
    assert production in html
    assert configuration in html


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "fr",
            [
                "<dt>Date d’envoi à l’ARCEP</dt><dd>20 novembre 2026</dd>",
                "<dt>Texte du bandeau</dt>",
                "<dt>Adresse e-mail</dt>",
            ],
        ),
        (
            "en",
            [
                "<dt>Date sent to ARCEP</dt><dd>November 20, 2026</dd>",
                "<dt>Banner text</dt>",
                "<dt>Email address</dt>",
            ],
        ),
    ],
)
def test_the_dossier_review_shows_declared_values_under_labels(locale: str, expected: list[str]) -> None:
    dossier = {
        "arcep_declaration": {"status": "submitted", "details": {"sent_on": "2026-11-20"}},
        "footer_banner": {"status": "submitted", "details": {"footer_text": "ACME SAS"}},
        "invoice_sender_email": {"status": "submitted", "details": {"email": "factures@acme.example"}},
    }
    with in_locale(locale):
        html = integrator_page(integrator={"legal_name": "Acme", "dossier": dossier})
    for fragment in expected:
        assert fragment in html
    for key in ("<dt>sent_on", "<dt>footer_text", "<dt>email"):
        assert key not in html
