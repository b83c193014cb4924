"""The integrator portal in a real Chromium, on the whole platform: an integrator invited by email
sets its password, signs in, sends its dossier (a refused logo, then a good one), sees the step it is
at, follows its SIMs and its support requests — and never sees another integrator's.

Each test registers its own integrator on the one platform of the session (fast, and independent).
"""

from __future__ import annotations

import io
import re
import time
from datetime import datetime
from datetime import time as time_of_day
from typing import Any

import holidays
from PIL import Image

from chassis.business_hours import PARIS
from platform_cli import samples
from tests.support.load import budget

from .conftest import PASSWORD, WebPlatform, assert_accessible, new_page, shoot, sign_in

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FRENCH_HOLIDAYS = holidays.country_holidays("FR", years=range(2025, 2030))


def png(width: int, height: int, dpi: int | None) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 90, 160)).save(out, "PNG", **({"dpi": (dpi, dpi)} if dpi else {}))
    return out.getvalue()


def invitation_link(web_platform: WebPlatform, address: str, timeout: float = 30.0) -> str:
    """The portal invitation's link, read from the `.eml` the notifier sent to the contact."""
    deadline = time.monotonic() + budget(timeout)
    while time.monotonic() < deadline:
        for mail in web_platform.mails():
            if address.lower() in mail.to.lower():
                for link in mail.links():
                    if link.startswith(web_platform.web) and "/invitation/" in link:
                        return link
        time.sleep(0.2)
    raise AssertionError(f"no invitation to {address}: {[(m.to, m.subject) for m in web_platform.mails()]}")


def invited_integrator(web_platform: WebPlatform, page: Any, locale: str = "fr") -> dict[str, Any]:
    """A new integrator whose contact accepts the invitation from its email and signs in."""
    info = web_platform.register_integrator(locale=locale)
    page.goto(invitation_link(web_platform, info["contact_email"]))
    page.fill("#password", PASSWORD)
    page.fill("#confirmation", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    sign_in(page, web_platform.web, info["contact_email"])
    assert page.url == f"{web_platform.web}/portal", page.url
    return info


def upload(page: Any, item: str, name: str, content: bytes, media_type: str) -> int:
    """Send a dossier item's file with its form; the status the portal answered."""
    page.set_input_files(f"#{item}-file", files=[{"name": name, "mimeType": media_type, "buffer": content}])
    with page.expect_response(
        lambda r: r.request.method == "POST" and f"/portal/dossier/{item}" in r.url
    ) as sent:
        page.click(f"#{item} button[type=submit]")
    page.wait_for_load_state()
    status: int = sent.value.status
    return status


def test_an_invited_integrator_sends_a_refused_logo_then_a_good_one_and_sees_its_step(
    web_platform: WebPlatform, page: Any
) -> None:
    info = invited_integrator(web_platform, page)
    assert info["legal_name"] in page.locator("h1").inner_text()
    # Just registered: step 1 waits for the vendor to send the configuration sheet.
    assert page.locator("#current-step").inner_text() == "Inscrit"
    assert "Vous envoyer la fiche de configuration" in page.locator("#step-electrical_profile").inner_text()

    page.goto(f"{web_platform.web}/portal/dossier")
    assert upload(page, "logo", "logo.png", png(100, 80, 72), "image/png") == 422
    problems = page.locator("#logo-problems")
    assert problems.get_attribute("role") == "alert"
    # Every problem at once, in French: the size and the resolution.
    text = problems.inner_text()
    assert "elle doit faire exactement 95×95 pixels" in text, text
    assert "elle doit être en 300 dpi" in text, text
    assert_accessible(page)
    page.locator("#logo").scroll_into_view_if_needed()
    shoot(page, "portal-dossier-refusal")

    assert upload(page, "logo", "logo.png", png(95, 95, 300), "image/png") == 303  # then the dossier again
    assert "Bien reçu" in page.locator("[role=status]").inner_text()
    assert page.locator("#logo .state").inner_text() == "Envoyé, en cours d’examen"
    assert page.locator("#logo-problems").count() == 0

    # The vendor sends the configuration sheet: the integrator now owes it back, on step 1.
    with web_platform.api("onboarding") as ops:
        assert ops.post(f"/integrators/{info['integrator_id']}/configuration-sheet").status_code == 201
    page.goto(f"{web_platform.web}/portal")
    assert page.locator("#current-step").inner_text() == "Étape 1 — profil électrique"
    step1 = page.locator("#step-electrical_profile")
    assert "En cours" in step1.inner_text()
    assert "Fiche de configuration du profil électrique" in step1.locator(".owner-integrator").inner_text()
    dossier = page.locator("#step-dossier").inner_text()
    assert "À examiner : Logo." in dossier  # on the vendor now
    # Whom to call, named on the home page (issue 23): the person, a phone to tap, an address to write to.
    contact = page.locator("#contact")
    assert contact.is_visible()
    assert contact.locator("h2").inner_text() == "Votre contact chez Caisse Libre Éditions"
    assert page.locator("#contact-person").inner_text().startswith("Claire Dubois")
    assert page.locator("#contact-phone").get_attribute("href") == "tel:+33184801200"
    assert page.locator("#contact-email").get_attribute("href") == "mailto:support@caisse-libre.example"
    assert "Horaires du support" in contact.locator("address").inner_text()
    assert_accessible(page)
    shoot(page, "portal-home")


def test_integrator_a_cannot_open_a_ticket_of_integrator_b(web_platform: WebPlatform, page: Any) -> None:
    b = web_platform.register_integrator()
    with web_platform.api("support", "integrator", b["integrator_id"]) as b_api:
        # Support learns B's people from onboarding's events: until then it refuses B's requester.
        deadline = time.monotonic() + budget(30)
        while True:
            opened = b_api.post(
                "/tickets",
                json={
                    "requester": {"name": b["contact_name"], "email": b["contact_email"]},
                    "subject": "Secret de B",
                    "description": "Ce que A ne doit pas lire",
                },
            )
            if opened.status_code != 422 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert opened.status_code == 201, opened.text
    b_ticket = opened.json()["ticket_id"]

    invited_integrator(web_platform, page)
    answer = page.goto(f"{web_platform.web}/portal/support/tickets/{b_ticket}")
    assert answer.status == 404
    assert "Secret de B" not in page.content()
    page.goto(f"{web_platform.web}/portal/support")
    assert "Secret de B" not in page.content()
    # Replying to it is refused the same way, not recorded on B's ticket.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrf")
    reply = page.request.post(
        f"{web_platform.web}/portal/support/tickets/{b_ticket}/messages",
        form={"csrf_token": csrf, "body": "intrusion"},
    )
    assert reply.status == 404
    with web_platform.api("support", "integrator", b["integrator_id"]) as b_api:
        assert b_api.get(f"/tickets/{b_ticket}").json()["messages"] == []


def test_a_ticket_opened_on_the_portal_shows_the_technicians_reply_but_not_the_internal_note(
    web_platform: WebPlatform, page: Any
) -> None:
    invited_integrator(web_platform, page)
    # Support learns the integrator's people from onboarding's events; until then the form says so
    # (the requester is not a known contact) and the person sends it again.
    deadline = time.monotonic() + budget(30)
    while True:
        page.goto(f"{web_platform.web}/portal/support")
        page.fill("#subject", "Le lecteur de cartes ne répond plus")
        page.fill("#description", "Depuis la mise à jour, le lecteur ne répond plus.")
        page.click("#tickets form button[type=submit]")
        page.wait_for_load_state()
        if page.locator("#ticket-problems").count() == 0 or time.monotonic() > deadline:
            break
        assert "contacts" in page.locator("#ticket-problems").inner_text()
        time.sleep(0.5)
    assert "Votre demande est enregistrée" in page.locator("[role=status]").inner_text()
    ticket_id = re.search(r"/portal/support/tickets/([0-9a-f-]+)", page.url)[1]  # type: ignore[index]
    number = re.search(r"T-\d{4}-\d{6}", page.locator("h1").inner_text())  # as its emails name it
    assert number is not None, page.locator("h1").inner_text()

    with web_platform.api("support", "technician") as tech:
        for body, internal in (
            ("Pouvez-vous redémarrer le poste ?", False),
            ("client déjà vu en mars", True),
        ):
            r = tech.post(f"/tickets/{ticket_id}/messages", json={"body": body, "internal": internal})
            assert r.status_code == 201, r.text
    # The open page follows the request by itself (htmx refreshes the messages; "refresh" is what
    # its 20-second timer does, sent now).
    url = page.url
    page.dispatch_event("#messages", "refresh")
    page.locator("#messages", has_text="Pouvez-vous redémarrer le poste ?").wait_for()
    assert page.url == url
    assert "client déjà vu en mars" not in page.content()

    page.fill("#body", "C'est fait, ça marche. Merci !")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert "C'est fait, ça marche. Merci !" in page.locator("#messages").inner_text()
    assert_accessible(page)
    page.goto(f"{web_platform.web}/portal/support")
    assert "Le lecteur de cartes ne répond plus" in page.locator("#tickets").inner_text()
    assert number[0] in page.locator("#tickets").inner_text()
    assert_accessible(page)

    # An installation report the integrator may not file yet: every reason, beside the form, in French.
    page.fill("#end_user_site", "Boulangerie Martin, Lyon")
    page.fill("#version", "9.9.9")
    page.check("#nf525_security")
    page.click("#reports form button[type=submit]")
    page.wait_for_load_state()
    refused = page.locator("#report-problems").inner_text()
    assert "Votre société n’est pas encore agréée." in refused, refused
    assert "La compatibilité du matériel n’est pas confirmée." in refused
    assert "Non attesté : Inaltérabilité des données, Conservation des données" in refused
    assert page.input_value("#end_user_site") == "Boulangerie Martin, Lyon"  # what was typed is kept
    assert page.is_checked("#nf525_security")
    assert_accessible(page)


def test_the_portal_in_french_then_in_english(web_platform: WebPlatform, browser: Any) -> None:
    page = new_page(browser)
    try:
        invited_integrator(web_platform, page)
        assert page.locator("html").get_attribute("lang") == "fr"
        assert page.locator("h1").inner_text().startswith("Où en suis-je")
        page.click("button[name=lang][value=en]")
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator("h1").inner_text().startswith("Where am I")
        assert page.locator("#current-step").inner_text() == "Registered"
        # Every portal page, in English, accessible.
        for path, heading in (
            ("/portal", "Where am I"),
            ("/portal/dossier", "Your dossier"),
            ("/portal/sims", "Your SIM cards"),
            ("/portal/support", "Support"),
            ("/portal/documents", "Documents to download"),
        ):
            answer = page.goto(f"{web_platform.web}{path}")
            assert answer.status == 200, path
            assert page.locator("h1").inner_text().startswith(heading), path
            if path in ("/portal", "/portal/support"):
                assert "Support hours" in page.locator("#contact address").inner_text(), path
            assert_accessible(page)
        # A refusal in English too, where the person reads it.
        page.goto(f"{web_platform.web}/portal/dossier")
        assert upload(page, "logo", "logo.png", png(95, 95, None), "image/png") == 422
        assert "it must be saved at 300 dpi" in page.locator("#logo-problems").inner_text()
        page.click("button[name=lang][value=fr]")
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "Votre dossier"
    finally:
        page.context.close()


def test_steps_one_and_two_on_the_portal_sheet_sent_back_sims_received_call_booked_in_support_hours(
    web_platform: WebPlatform, page: Any
) -> None:
    info = invited_integrator(web_platform, page)
    iid = info["integrator_id"]
    with web_platform.api("onboarding") as ops:
        assert ops.post(f"/integrators/{iid}/configuration-sheet").status_code == 201

    # Step 1: the filled-in sheet goes back through the dossier page.
    page.goto(f"{web_platform.web}/portal/dossier")
    assert page.locator("#electrical_profile_sheet a[download]").count() == 1  # the blank sheet
    status = upload(page, "electrical_profile_sheet", "profil.xlsx", samples.configuration_sheet(), XLSX)
    assert status == 303
    with web_platform.api("onboarding") as ops:
        r = ops.post(f"/integrators/{iid}/electrical-profile", json={"profile_reference": f"EP-{iid[:8]}"})
        assert r.status_code == 201, r.text
    with web_platform.api("sim-logistics") as logistics:
        deadline = time.monotonic() + budget(20)
        while logistics.get(f"/integrators/{iid}/sims").status_code == 404:  # step 2 opens from the event
            assert time.monotonic() < deadline, "step 2 did not open"
            time.sleep(0.2)
        iccids = [samples.iccid(700_001), samples.iccid(700_002)]
        shipped = logistics.post(
            f"/integrators/{iid}/test-sims/shipments",
            json={"iccids": iccids, "carrier": "Chronopost", "tracking_number": "XY987654321FR"},
        )
        assert shipped.status_code == 201, shipped.text

    page.goto(f"{web_platform.web}/portal")
    assert page.locator("#current-step").inner_text() == "Étape 2 — SIM de test"
    assert "À faire avant le" in page.locator("#step-test_sims").inner_text()  # its 2-week deadline
    assert "Confirmez la réception des SIM de test." in page.locator("#step-test_sims").inner_text()

    page.goto(f"{web_platform.web}/portal/sims")
    assert "XY987654321FR" in page.locator("#test-sims").inner_text()
    page.click("text=J’ai reçu les SIM de test")
    page.wait_for_load_state()
    assert "réception des SIM de test est enregistrée" in page.locator("[role=status]").inner_text()

    # The picker offers support hours only: business days, 09:00–12:00 and 14:00–18:00, Paris.
    values = [v for v in page.locator("#starts_at option").evaluate_all("os => os.map(o => o.value)") if v]
    assert values
    for value in values:
        start = datetime.fromisoformat(value).astimezone(PARIS)
        assert start.weekday() < 5 and start.date() not in FRENCH_HOLIDAYS
        assert time_of_day(9) <= start.time() < time_of_day(12) or time_of_day(
            14
        ) <= start.time() < time_of_day(18)
    assert {datetime.fromisoformat(v).astimezone(PARIS).time() for v in values} >= {
        time_of_day(9),
        time_of_day(17, 30),
    }
    page.select_option("#starts_at", values[0])
    page.fill("#phone", "+33 1 70 61 81 81")
    assert_accessible(page)
    page.click("#test-sims form button[type=submit]")
    page.wait_for_load_state()
    assert "L’appel de validation est réservé" in page.locator("[role=status]").inner_text()
    with web_platform.api("sim-logistics", "integrator", iid) as mine:
        call = mine.get(f"/integrators/{iid}/sims").json()["test_sims"]["call"]
    assert datetime.fromisoformat(call["starts_at"]) == datetime.fromisoformat(values[0])
    page.goto(f"{web_platform.web}/portal")
    assert "Tenir l’appel de validation" in page.locator("#step-test_sims .owner-vendor").inner_text()
