"""The staff console in a real Chromium, on the whole platform: ops review an integrator's dossier (the
logo seen, refused with a reason the integrator reads on its portal), follow an integrator's timeline
across the five services to the trace of its production order; a technician works a phone call from
registration to closing and finds it in the statistics; a technician cannot open ops' pages.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from platform_cli.demo_cli import _drive

from .conftest import WebPlatform, assert_accessible, new_page, shoot, sign_in
from .test_portal import invited_integrator, png


@pytest.fixture(scope="module")
def journey(web_platform: WebPlatform) -> Any:
    """One integrator through the whole of seed 000 (and one ticket) through the public APIs."""
    urls = {name: web_platform.url(name) for name in web_platform.ports if name != "web"}
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, _drive(urls, None)).result(timeout=300)  # type: ignore[arg-type]


def _staff_page(web_platform: WebPlatform, browser: Any, role: str) -> tuple[Any, str]:
    address = web_platform.add_staff(role)
    page = new_page(browser)
    sign_in(page, web_platform.web, address)
    return page, address


def test_ops_review_a_logo_see_it_refuse_it_and_the_integrator_reads_why(
    web_platform: WebPlatform, browser: Any, page: Any
) -> None:
    info = invited_integrator(web_platform, page)  # `page` is the integrator's, signed in on its portal
    integrator_id = info["integrator_id"]
    with web_platform.api("onboarding", "integrator", integrator_id) as api:
        sent = api.post(
            f"/integrators/{integrator_id}/dossier/logo",
            files={"file": ("logo.png", png(95, 95, 300), "image/png")},
        )
        assert sent.status_code == 201, sent.text

    ops, _ = _staff_page(web_platform, browser, "ops")
    # The board: the company by name, waiting on the vendor (the logo to review), filtered on the server.
    ops.goto(f"{web_platform.web}/console?waiting=vendor")
    row = ops.locator("tbody tr", has_text=info["legal_name"])
    assert "relire Logo" in row.inner_text(), row.inner_text()
    assert_accessible(ops)
    shoot(ops, "console-board")

    row.get_by_role("link", name=info["legal_name"]).click()
    ops.wait_for_load_state()
    assert ops.locator("h1").inner_text() == info["legal_name"]
    logo = ops.locator("img[data-item=logo]")
    logo.wait_for()
    # The browser loaded the file itself (through the console, from onboarding): a 95×95 image.
    assert ops.evaluate(
        "(img) => [img.complete, img.naturalWidth, img.naturalHeight]", logo.element_handle()
    ) == [
        True,
        95,
        95,
    ]
    assert_accessible(ops)
    shoot(ops, "console-integrator")

    reason = "Le logo doit reprendre la couleur de la marque (bleu 2945C)."
    ops.fill("#reason-logo", reason)
    ops.click("#item-logo button.secondary")
    ops.wait_for_load_state()
    assert "refusé" in ops.locator("[role=status]").inner_text()
    assert reason in ops.locator("#item-logo").inner_text()

    # The integrator's portal shows why (onboarding's answer, read by the portal's dossier page).
    page.goto(f"{web_platform.web}/portal/dossier")
    assert reason in page.locator("main").inner_text()
    # The refusal names who refused it: the ops member signed in, not the web front.
    with web_platform.api("onboarding") as api:
        events = api.get(f"/ops/integrators/{integrator_id}/events").json()
    refused = [e for e in events if e["event_type"] == "DossierItemRejected"]
    assert refused and refused[-1]["by"].startswith("ops"), refused


def test_ops_open_the_trace_of_the_production_order_from_the_timeline(
    web_platform: WebPlatform, browser: Any, journey: Any
) -> None:
    ops, _ = _staff_page(web_platform, browser, "ops")
    ops.goto(f"{web_platform.web}/console/integrators/{journey.integrator_id}")
    timeline = ops.locator("#timeline ~ table")
    # The five services' events in one timeline, each with who did it.
    text = timeline.inner_text()
    for service in ("onboarding", "sim-logistics", "ism-provisioning", "support", "notifier"):
        assert service in text, service
    ordered = timeline.locator("tr", has_text="ProductionOrdered").first
    ordered.locator("a").click()
    ops.wait_for_load_state()
    assert ops.url.startswith(f"{web_platform.web}/console/traces/")

    # The consumers export their spans every half second: the page may be early by that much.
    deadline = time.monotonic() + 15
    while True:
        services = set(
            ops.locator("table.waterfall tbody tr").evaluate_all("(rows) => rows.map(r => r.dataset.service)")
        )
        names = ops.locator("table.waterfall tbody th").all_inner_texts()
        if {"sim-logistics", "onboarding", "notifier"} <= services and any("send email" in n for n in names):
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"spans of {services}: {names}")
        time.sleep(1)
        ops.reload()
    assert any("event.type=ProductionOrdered" in n for n in names), names
    assert any("email.template=" in n for n in names), names
    assert_accessible(ops)
    shoot(ops, "console-trace")


def test_a_technician_registers_a_call_works_it_to_closing_and_sees_it_in_the_statistics(
    web_platform: WebPlatform, browser: Any, journey: Any
) -> None:
    tech, address = _staff_page(web_platform, browser, "technician")
    tech.goto(f"{web_platform.web}/console/tickets")
    tech.check("#channel-phone")
    tech.select_option("#integrator_id", journey.integrator_id)
    tech.fill("#requester_name", "Jeanne Martin")
    tech.fill("#requester_email", "jeanne@telecom-exemple.fr")
    tech.fill("#subject", "Caisse bloquée à la clôture")
    tech.fill("#description", "Appel : la clôture journalière ne se termine pas depuis ce matin.")
    tech.click("section[aria-labelledby=register] button[type=submit]")
    tech.wait_for_load_state()
    assert "/console/tickets/" in tech.url
    assert "enregistré" in tech.locator("[role=status]").inner_text()
    ticket_url = tech.url.split("?")[0]

    tech.select_option("#category", "incident")
    tech.select_option("#severity", "high")
    tech.get_by_role("button", name="Qualifier").click()
    tech.wait_for_load_state()
    tech.get_by_role("button", name="Prendre le ticket").click()
    tech.wait_for_load_state()
    assert address in tech.locator("main dl").inner_text()
    tech.fill("#tracker_reference", "MANTIS-4242")
    tech.get_by_role("button", name="Déclarer au tracker").click()
    tech.wait_for_load_state()
    assert "MANTIS-4242" in tech.locator("main dl").inner_text()

    # In the queue: mine, waiting on the tracker, with its company's name.
    tech.goto(f"{web_platform.web}/console/tickets?queue=waiting_on_tracker")
    row = tech.locator("tbody tr", has_text="Caisse bloquée à la clôture")
    assert "Télécom Exemple SAS" in row.inner_text()
    assert_accessible(tech)
    shoot(tech, "console-tickets")
    tech.goto(ticket_url)

    # Resolving needs the procedure: the service refuses, the page says so beside the field.
    response = None
    with tech.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/resolution")) as sent:
        tech.get_by_role("button", name="Résoudre").click()
    response = sent.value
    tech.wait_for_load_state()
    assert response.status == 422
    assert tech.locator("#error-resolution").is_visible()
    assert tech.locator("#error-resolution").get_attribute("role") == "alert"

    tech.fill(
        "#resolution_procedure", "Purge du journal de caisse puis relance de la clôture (procédure P-12)."
    )
    tech.get_by_role("button", name="Résoudre").click()
    tech.wait_for_load_state()
    assert "résolu" in tech.locator("#ticket-status").inner_text()
    tech.get_by_role("button", name="Clôturer (l'enquête part)").click()
    tech.wait_for_load_state()
    assert "clôturé" in tech.locator("#ticket-status").inner_text()

    # The statistics count it: the technician's own row, by channel and by technician.
    tech.goto(f"{web_platform.web}/console/statistics")
    mine = tech.locator("#table-technician tbody tr", has_text=address)
    assert mine.locator("td").first.inner_text().strip().endswith("1")
    assert "Appel téléphonique" in tech.locator("#table-channel").inner_text()
    assert int(tech.locator("#kpi-tickets").inner_text().replace("\u202f", "").strip()) >= 2
    assert_accessible(tech)
    shoot(tech, "console-statistics")


def test_a_technician_cannot_open_ops_pages(web_platform: WebPlatform, browser: Any, journey: Any) -> None:
    tech, _ = _staff_page(web_platform, browser, "technician")
    for path in (
        "/console",
        f"/console/integrators/{journey.integrator_id}",
        "/console/operations",
        "/console/traces/" + "0" * 31 + "1",
    ):
        response = tech.goto(f"{web_platform.web}{path}")
        assert response is not None and response.status == 403, path
        assert "ne peut pas ouvrir cette page" in tech.locator("[role=alert]").inner_text()
    # Nor through the back door: a POST of an ops action is refused the same way.
    csrf = next(c["value"] for c in tech.context.cookies() if c["name"] == "csrf")
    cookies = {c["name"]: c["value"] for c in tech.context.cookies()}
    r = httpx.post(
        f"{web_platform.web}/console/integrators/{journey.integrator_id}/actions/deliver-ism",
        data={"csrf_token": csrf},
        cookies=cookies,
    )
    assert r.status_code == 403
    # Their own pages open.
    for path in ("/console/tickets", "/console/approvals", "/console/statistics"):
        response = tech.goto(f"{web_platform.web}{path}")
        assert response is not None and response.status == 200, path
