"""Every link an email carries opens a page a person can use, on the web front (`PUBLIC_BASE_URL`).

Seed 000's journey and seed 004's ticket run through the public APIs (`platform demo`'s Journey), but
the integrator's personal links — ISM set-password, satisfaction survey, portal invitation — are left
for a person to click here, in a real Chromium: each works once, and a second visit says so.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from platform_cli.demo_cli import _drive

from .conftest import PASSWORD, WebPlatform, assert_accessible, shoot, sign_in


@pytest.fixture(scope="module")
def journey(web_platform: WebPlatform):
    """The demo's journey on this platform, its personal links left unused (no mail folder given)."""
    urls = {name: web_platform.url(name) for name in web_platform.ports if name != "web"}
    # Its own thread and event loop: the test session's loop may be running in this one.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, _drive(urls, None)).result(timeout=300)  # type: ignore[arg-type]


def test_the_ism_set_password_link_from_its_email_works_once(web_platform: WebPlatform, journey, page):
    mail = web_platform.wait_mail("jeanne@telecom-exemple.fr", "ISM")
    link = web_platform.link_in(mail, "/ism/set-password?token=")
    page.goto(link)
    assert page.locator("h1").inner_text()
    page.fill("#password", PASSWORD)
    page.fill("#confirmation", PASSWORD)
    page.click("main button[type=submit]")
    assert page.locator("[role=status]").is_visible()
    assert "ISM" in page.locator("[role=status]").inner_text()
    again = page.goto(link)
    assert again.status == 410
    assert "déjà été utilisé" in page.locator("[role=alert]").inner_text()


def test_a_closed_tickets_survey_is_answered_once_in_french(web_platform: WebPlatform, journey, page):
    mail = web_platform.wait_mail("@telecom-exemple.fr", "clôturée")
    link = web_platform.link_in(mail, "/survey/")
    page.goto(link)
    assert page.locator("html").get_attribute("lang") == "fr"
    assert "Êtes-vous satisfait" in page.locator("legend").inner_text()
    assert_accessible(page)
    page.check("#rating-4")
    page.fill("#comment", "Réponse rapide, merci.")
    shoot(page, "survey-fr")
    page.click("main button[type=submit]")
    assert "4/5" in page.locator("[role=status]").inner_text()
    page.goto(link)
    assert "déjà reçu une réponse" in page.locator("[role=status]").inner_text()


def test_a_tampered_survey_link_says_so_kindly(web_platform: WebPlatform, journey, page):
    mail = web_platform.wait_mail("@telecom-exemple.fr", "clôturée")
    link = web_platform.link_in(mail, "/survey/")
    response = page.goto(link[:-4] + "AAAA")
    assert response.status == 410
    assert "pas valide" in page.locator("[role=alert]").inner_text()


def test_every_link_in_the_demos_emails_opens_a_page(web_platform: WebPlatform, journey, browser):
    """Walk every link to the platform in every email the journey produced: each opens a real page
    (200), or a page saying the link was used (410) — never a JSON body, a 404 or a 500."""
    from .conftest import new_page

    page = new_page(browser)
    walked = []
    for mail in web_platform.mails():
        for link in mail.links():
            if not link.startswith(web_platform.web):
                assert "localhost" not in link and "127.0.0.1" not in link, (mail.subject, link)
                continue
            response = page.goto(link.rstrip(".,;)>"))
            walked.append((mail.subject, link, response.status))
            assert response.status in (200, 410), (mail.subject, link, response.status)
            assert "text/html" in response.headers["content-type"], (mail.subject, link)
            assert page.locator("h1").count() == 1, (mail.subject, link)
    page.context.close()
    kinds = {Path(link.split("?")[0]).parent.name or Path(link).name for _, link, _ in walked}
    assert len(walked) >= 3, walked
    assert {"survey", "invitation", "ism"} <= kinds | {p for _, link, _ in walked for p in link.split("/")}


def test_an_invited_contact_sets_a_password_and_signs_in(web_platform: WebPlatform, page):
    integrator = web_platform.register_integrator()
    mail = web_platform.wait_mail(integrator["contact_email"], "accès")
    link = web_platform.link_in(mail, "/invitation/")
    page.goto(link)
    assert_accessible(page)
    page.fill("#password", PASSWORD)
    page.fill("#confirmation", PASSWORD + "x")
    page.click("main button[type=submit]")
    assert "différents" in page.locator("[role=alert]").inner_text()
    page.fill("#password", PASSWORD)
    page.fill("#confirmation", PASSWORD)
    page.click("main button[type=submit]")
    assert "enregistré" in page.locator("[role=status]").inner_text()
    # The link is spent.
    assert page.goto(link).status == 410
    sign_in(page, web_platform.web, integrator["contact_email"])
    assert page.url.endswith("/portal")
    assert integrator["legal_name"] in page.content()


def test_a_form_posted_without_its_csrf_token_is_refused(web_platform: WebPlatform):
    with httpx.Client(base_url=web_platform.web, timeout=10) as http:
        http.get("/login")  # has the csrf cookie now, but does not send the form field
        r = http.post("/login", data={"email": "someone@editeur-essai.fr", "password": "whatever"})
        assert r.status_code == 403
        assert "Formulaire expiré" in r.text or "Form expired" in r.text
        forged = http.post("/login", data={"email": "x@y.z", "password": "p", "csrf_token": "not-the-cookie"})
        assert forged.status_code == 403


def test_wrong_passwords_slow_the_guesser_and_it_says_so(web_platform: WebPlatform, page):
    address = web_platform.add_staff("technician")
    for _ in range(5):
        sign_in(page, web_platform.web, address, "not the password at all")
        assert "incorrect" in page.locator("[role=alert]").inner_text()
    # This browser now waits before each next try, twice as long each time (1 s, 2 s, 4 s…: a slow
    # browser may still get one more try in): never an account lock, which a stranger's failures
    # could set off to keep the owner out (tests/test_web_edges.py).
    alerts = []
    for _ in range(6):
        sign_in(page, web_platform.web, address, "still not the password")
        alerts.append(page.locator("[role=alert]").inner_text())
        if "Trop de tentatives" in alerts[-1]:
            break
    assert "Trop de tentatives" in alerts[-1], alerts
    assert not any("verrouillé" in alert for alert in alerts)
    assert "/login" in page.url


def test_the_sign_in_page_is_accessible_in_both_languages(web_platform: WebPlatform, browser):
    from .conftest import new_page

    for locale, heading in (("fr-FR", "Se connecter"), ("en-GB", "Sign in")):
        page = new_page(browser, locale)
        page.goto(f"{web_platform.web}/login")
        assert page.locator("h1").inner_text() == heading
        assert_accessible(page)
        page.context.close()


def test_no_link_token_is_kept_in_any_trace_or_log(web_platform: WebPlatform, journey, page):
    """The tokens of every personal link (in the emails) appear in no span and no log line of any of
    the six services, even after the links were opened and used through the web front."""
    tokens = set()
    for mail in web_platform.mails():
        for link in mail.links():
            for marker in ("/survey/", "/invitation/", "/password-reset/", "token="):
                if marker in link:
                    tokens.add(link.split(marker, 1)[1].rstrip(".,;)>"))
    assert len(tokens) >= 3
    for link in [m for mail in web_platform.mails() for m in mail.links() if m.startswith(web_platform.web)][
        :10
    ]:
        page.goto(link)
    time.sleep(1.5)  # spans are exported in batches every 500 ms
    kept = [p for p in (web_platform.data_dir / "traces").glob("*") if p.is_file()]
    kept += [p for p in (web_platform.data_dir / "logs").glob("*.log")]
    assert kept
    for path in kept:
        text = path.read_text(errors="replace")
        leaked = [t[:12] + "…" for t in tokens if t in text]
        assert not leaked, f"{path.name} holds link tokens {leaked}"


def test_a_forgotten_password_is_reset_by_email_and_the_old_one_stops_working(
    web_platform: WebPlatform, page
):
    address = web_platform.add_staff("ops")
    page.goto(f"{web_platform.web}/password-reset")
    page.fill("#email", address)
    page.click("main button[type=submit]")
    assert address in page.locator("[role=status]").inner_text()
    # The same answer for an address without an account: nobody learns who has one.
    page.goto(f"{web_platform.web}/password-reset")
    page.fill("#email", "nobody@editeur-essai.fr")
    page.click("main button[type=submit]")
    assert "nobody@editeur-essai.fr" in page.locator("[role=status]").inner_text()
    mail = web_platform.wait_mail(address, "mot de passe")
    link = web_platform.link_in(mail, "/password-reset/")
    page.goto(link)
    page.fill("#password", PASSWORD + " renewed")
    page.fill("#confirmation", PASSWORD + " renewed")
    page.click("main button[type=submit]")
    assert "enregistré" in page.locator("[role=status]").inner_text()
    assert page.goto(link).status == 410  # used once
    sign_in(page, web_platform.web, address)  # the old password
    assert "incorrect" in page.locator("[role=alert]").inner_text()
    sign_in(page, web_platform.web, address, PASSWORD + " renewed")
    assert page.url.endswith("/console")
