"""The portal's pure parts: a refusal said again in the reader's language, the call's slot picker,
and the portal's pages rendered from service answers in every state (no platform needed)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from chassis.business_hours import PARIS, french_holidays, no_holidays, within_business_hours
from web import i18n, progress, reasons
from web.app import Settings
from web.contact import VendorContact
from web.pages.common import templates
from web.slots import CALL_MINUTES, call_slots


@pytest.fixture
def french() -> Iterator[None]:
    token = i18n.current_locale.set("fr")
    yield
    i18n.current_locale.reset(token)


@pytest.fixture
def english() -> Iterator[None]:
    token = i18n.current_locale.set("en")
    yield
    i18n.current_locale.reset(token)


# --- refusals ---------------------------------------------------------------------------------------


def test_a_refused_logo_lists_every_problem_in_french(french: None) -> None:
    problem = {
        "status": 422,
        "detail": "logo: the image is 100×80 px; exactly 95×95 px is required; the image is at 72×72 dpi; ...",
        "code": "file_refused",
        "errors": [
            {
                "field": "file",
                "row": None,
                "column": None,
                "reason": "the image is 100×80 px; exactly 95×95 px is required",
            },
            {
                "field": "file",
                "row": None,
                "column": None,
                "reason": "the image is at 72×72 dpi; 300 dpi is required",
            },
        ],
    }
    lines = reasons.lines(problem)
    assert [line.reason for line in lines] == [
        "L’image fait 100×80 pixels ; elle doit faire exactement 95×95 pixels.",
        "L’image est en 72×72 dpi ; elle doit être en 300 dpi.",
    ]
    assert all(line.translated and line.field is None for line in lines)


def test_a_refused_table_says_row_and_column_and_keeps_an_unknown_reason_as_written(french: None) -> None:
    problem = {
        "errors": [
            {"field": "file", "row": 3, "column": "code", "reason": "duplicate 'A' (already on row 2)"},
            {"field": "file", "row": 4, "column": "prix", "reason": "'douze' is not a price"},
        ]
    }
    first, second = reasons.lines(problem)
    assert (reasons.where(first), first.reason) == (
        "Ligne 3, colonne code",
        "A apparaît deux fois (déjà à la ligne 2).",
    )
    # Not a known wording: shown as the service wrote it, marked English for the page.
    assert (reasons.where(second), second.reason, second.translated) == (
        "Ligne 4, colonne prix",
        "'douze' is not a price",
        False,
    )


def test_a_domain_refusal_is_one_line_per_reason_with_the_field_it_names(english: None) -> None:
    problem = {
        "status": 422,
        "detail": "the SIRET (14 digits) is missing; the customer-service email is missing",
        "field": "footer_text",
        "code": "refused",
    }
    lines = reasons.lines(problem)
    assert [(line.reason, line.field) for line in lines] == [
        ("The footer text lacks the SIRET (14 digits).", "footer_text"),
        ("The footer text lacks the customer-service email.", "footer_text"),
    ]
    assert reasons.lines({"status": 409}) == [reasons.Line("The request was refused.", True)]


def test_an_installation_refusal_names_the_nf525_elements_in_french(french: None) -> None:
    problem = {
        "errors": [
            {
                "field": "integrator_id",
                "code": "integrator_not_approved",
                "message": "the integrator is not approved",
            },
            {
                "field": "nf525_checklist",
                "code": "element_missing",
                "message": "not attested: security, archiving",
            },
        ]
    }
    assert [line.reason for line in reasons.lines(problem)] == [
        "Votre société n’est pas encore agréée.",
        "Non attesté : Sécurisation des données, Archivage.",
    ]


# --- the call's slots -------------------------------------------------------------------------------


def test_slots_are_in_support_hours_on_business_days_only() -> None:
    # Wednesday 2026-05-06, 10:40 in Paris: Friday 8 May (Victoire 1945) is a public holiday.
    now = datetime(2026, 5, 6, 10, 40, tzinfo=PARIS)
    offered = call_slots(now, french_holidays())
    days = [day for day, _ in offered]
    assert len(days) == 10
    assert date(2026, 5, 8) not in days and date(2026, 5, 9) not in days and date(2026, 5, 10) not in days
    assert date(2026, 5, 14) not in days  # Ascension
    for day, starts in offered:
        assert day.weekday() < 5
        for start in starts:
            assert within_business_hours(start, timedelta(minutes=CALL_MINUTES), french_holidays())
            assert start >= now + timedelta(hours=1)
    # Today: the morning's last slot (11:30) starts within the hour's notice; the afternoon is offered.
    today = dict(offered)[date(2026, 5, 6)]
    assert [s.time() for s in today] == [time(14 + i // 2, 30 * (i % 2)) for i in range(8)]
    earlier = dict(call_slots(now - timedelta(minutes=20), french_holidays()))[date(2026, 5, 6)]
    assert earlier[0].time() == time(11, 30)
    tomorrow = dict(offered)[date(2026, 5, 7)]
    assert len(tomorrow) == 14 and tomorrow[0].time() == time(9) and tomorrow[-1].time() == time(17, 30)


def test_slots_start_on_the_next_business_day_after_closing_time() -> None:
    friday_evening = datetime(2026, 3, 13, 18, 30, tzinfo=PARIS).astimezone(UTC)
    first_day, starts = call_slots(friday_evening, no_holidays)[0]
    assert first_day == date(2026, 3, 16) and starts[0] == datetime(2026, 3, 16, 9, tzinfo=PARIS)


# --- the pages, from the services' answers ----------------------------------------------------------

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def render(template: str, **context: Any) -> str:
    base = {
        "person": None,
        "csrf_token": "t",
        "lang": i18n.current_locale.get(),
        "path": "/portal",
        "flash": None,
        "contact": VendorContact.from_settings(Settings()),
    }
    return templates.get_template(template).render(**base, reasons=reasons, progress=progress, **context)


def sims_context(**production: Any) -> dict[str, Any]:
    timeline = {
        "current_step": "production",
        "steps": {
            "test_sims": {"due_at": NOW.isoformat(), "overdue": False, "completed_at": NOW.isoformat()},
            "production": {
                "due_at": (NOW + timedelta(days=28)).isoformat(),
                "overdue": True,
                "completed_at": None,
            },
        },
        "test_sims": {
            "shipments": 1,
            "iccids": ["8933150000009000011", "8933150000009000029"],
            "carrier": "Chronopost",
            "tracking_number": "XY1",
            "received": True,
            "call": {"starts_at": NOW.isoformat(), "phone": "+33 1 23 45 67 89"},
            "outcome": "validated",
            "rejections": [],
        },
        "production": {
            "quantity": None,
            "delivery_address": None,
            "started": False,
            "delivery": None,
            "delivery_note_sent": False,
            "reception_confirmed": False,
            **production,
        },
    }
    return {
        "status": {},
        "sims": timeline,
        "accepted_artwork": {"sha256": "a" * 64, "filename": "carte-sim.png"},
        "slots": [],
        "call_minutes": 30,
        "failed": None,
        "refusal": None,
        "given": {},
    }


def test_the_production_order_offers_the_accepted_artwork_by_its_file_name(french: None) -> None:
    html = render("portal/sims.html", **sims_context())
    assert '<option value="' + "a" * 64 + '" selected>carte-sim.png</option>' in html
    assert "Passer la commande" in html


def test_a_delivery_waits_for_the_integrators_confirmation_then_says_received(english: None) -> None:
    delivery = {
        "quantity": 500,
        "delivered_at": NOW.isoformat(),
        "iccid_first": "8933150000000000015",
        "iccid_last": "8933150000000005007",
        "delivery_note_number": "BL-1",
    }
    context = sims_context(quantity=500, delivery_address="1 rue X", started=True, delivery=delivery)
    html = render("portal/sims.html", **context)
    assert "500 SIMs" in html and "BL-1" in html and 'action="/portal/sims/reception"' in html
    assert "/portal/sims/delivery-note.xlsx" in html and "/portal/sims/tariff-grid.xlsx" not in html
    context["sims"]["production"] |= {
        "reception_confirmed": True,
        "delivery_note_sent": True,
        "tariff_grid_reference": "G1",
    }
    html = render("portal/sims.html", **context)
    assert 'action="/portal/sims/reception"' not in html and "/portal/sims/tariff-grid.xlsx" in html


def test_a_refused_order_is_shown_beside_its_form(french: None) -> None:
    refusal = {
        "lines": reasons.lines(
            {"detail": "this is not the SIM artwork accepted in the onboarding dossier; a new reason"}
        ),
        "status": 422,
    }
    html = render("portal/sims.html", **(sims_context() | {"failed": "order", "refusal": refusal}))
    assert 'id="order-problems"' in html and 'aria-describedby="order-problems"' in html
    assert "Ce n’est pas la personnalisation graphique acceptée dans votre dossier" in html
    # A wording the portal does not know yet: shown as the service wrote it, marked English.
    assert '<span lang="en">a new reason</span>' in html


def dossier_context(**changes: Any) -> dict[str, Any]:
    dossier = {item: {"status": "missing"} for item in progress.DOSSIER_ITEMS}
    return {
        "status": {"dossier": dossier, "configuration_sheet_sent": False},
        "items": progress.DOSSIER_ITEMS,
        "file_items": frozenset(progress.DOSSIER_ITEMS) - {"arcep_declaration", "invoice_sender_email"},
        "table_items": frozenset(progress.ISM_TABLES),
        "accept": {},
        "templates": {},
        "columns": {item: [] for item in progress.ISM_TABLES},
        "ism_errors": {},
        "failed": None,
        "refusal": None,
        "given": {},
        **changes,
    }


def test_the_dossier_shows_each_item_state_the_vendors_reason_and_the_isms_problems(french: None) -> None:
    context = dossier_context()
    context["status"]["dossier"] |= {
        "logo": {"status": "rejected", "reason": "le logo est flou", "file": {"filename": "logo.png"}},
        "offers_table": {"status": "accepted", "rows": 3, "file": {"filename": "offres.csv"}},
        "footer_banner": {"status": "accepted"},
    }
    problem = {"table": "offers_table", "row": 2, "column": "zones", "reason": "zone MAGHREB has no tariff"}
    context["ism_errors"] = {"offers_table": reasons.lines({"errors": [problem]})}
    html = render("portal/dossier.html", **context)
    assert "Refusé par le fournisseur : le logo est flou" in html
    assert "3 lignes" in html
    assert 'id="offers_table-ism"' in html and "Ligne 2, colonne zones" in html
    # An accepted table can be replaced (the ISM keeps versions); an accepted banner cannot.
    assert 'action="/portal/dossier/offers_table"' in html
    assert 'action="/portal/dossier/footer_banner"' not in html
    # The configuration sheet comes from the vendor first: no form for it yet.
    assert 'action="/portal/dossier/electrical_profile_sheet"' not in html


def test_where_am_i_shows_each_step_its_deadline_who_owes_what_and_the_delivered_ism(french: None) -> None:
    status = {
        "legal_name": "Acme Télécom",
        "step": "ism",
        "overdue": False,
        "profile_reference": "EP-1",
        "milestones": ["production_ordered", "sims_validated", "sims_delivered", "ism_delivered"],
        "due_at": {"test_sims": NOW.isoformat(), "production": (NOW + timedelta(days=28)).isoformat()},
        "dossier": {item: {"status": "accepted"} for item in progress.DOSSIER_ITEMS},
        "missing_for_go_live": [],
    }
    ism = {
        "delivery": {"platform_url": "https://ism.example/acme", "account_id": "acme-01"},
        "password_set": False,
    }
    steps = progress.steps(status, None, ism, NOW)
    html = render("portal/home.html", status=status, steps=steps, ism=ism)
    assert 'Vous en êtes à : <strong id="current-step">Plateforme ISM</strong>' in html
    assert "Votre ISM : https://ism.example/acme — compte acme-01." in html
    assert "Choisissez votre mot de passe ISM" in html
    assert 'id="step-production"' in html and "À livrer" not in html
    # Dossier, steps 1 and 2, the ISM; step 3 waits for the integrator to confirm the delivery; GO to come.
    assert html.count('class="state state-done"') == 4
    assert "Confirmez la réception des SIM." in html


def test_documents_are_matched_to_their_items_and_named_in_the_readers_language(english: None) -> None:
    from web.pages import portal

    listed = [
        {"name": "offers_table-template.xlsx", "title": "Offres / Offers — modèle XLSX"},
        {"name": "offers_table-template.csv", "title": "Offres / Offers — modèle CSV"},
        {"name": "configuration-sheet", "title": "Blank postpaid configuration sheet"},
        {"name": "../etc/passwd", "title": "not one of ours"},
        {"name": "a-new-document", "title": "A new document"},
    ]
    by_item = portal._templates_by_item(listed)
    assert by_item == {
        "offers_table": [
            {"name": "offers_table-template.xlsx", "label": "XLSX"},
            {"name": "offers_table-template.csv", "label": "CSV"},
        ],
        "electrical_profile_sheet": [
            {
                "name": "configuration-sheet",
                "label": "Postpaid configuration sheet of the electrical profile, to fill in column B",
            }
        ],
    }
    assert portal.document_title("tariffs_international-template.csv", "x") == (
        "International tariffs — blank template (CSV)"
    )
    assert portal.document_title("a-new-document", "A new document") == "A new document"
    # The file name a service gave is re-encoded by the portal, never passed through as a header.
    headers = {
        "content-disposition": "attachment; filename=\"x.csv\"; filename*=UTF-8''offres%20%C3%A9t%C3%A9.csv"
    }
    assert portal._filename(headers, "fallback") == "offres été.csv"
    assert portal._filename({}, "fallback") == "fallback"
    response = portal._download(b"a;b\n", "text/csv", 'evil"\r\nSet-Cookie: x=1.csv')
    assert (
        "\r" not in response.headers["content-disposition"]
        and "\n" not in response.headers["content-disposition"]
    )
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
