"""The staff console in a real Chromium, on the whole platform: ops review an integrator's dossier (the
logo seen, refused with a reason the integrator reads on its portal), follow an integrator's timeline
across the five services to the trace of its production order; a technician works a phone call from
registration to closing and finds it in the statistics; a technician cannot open ops' pages.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts import topics
from platform_cli import samples
from platform_cli.demo import CALL_LEAD, CALL_MINUTES, XLSX, next_support_slot
from platform_cli.demo_cli import _drive
from tests.support.load import budget
from tests.support.signed import POISON_TYPE, signed_by

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
    with ops.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/rejection")) as posted:
        ops.click("#item-logo button.secondary")
    ops.wait_for_load_state()
    # The web front's answer names its trace, and the service's event belongs to that same trace.
    click_trace = posted.value.headers["traceparent"].split("-")[1]
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
    assert refused[-1]["trace_id"] == click_trace


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
    deadline = time.monotonic() + budget(15)
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
    tech.get_by_role("button", name="Enregistrer un appel ou un e-mail").click()
    tech.wait_for_load_state()
    tech.check("#channel-phone")
    tech.select_option("#integrator_id", journey.integrator_id)
    tech.fill("#requester_name", "Jeanne Martin")
    tech.fill("#requester_email", "jeanne@telecom-exemple.fr")
    tech.fill("#subject", "Caisse bloquée à la clôture")
    tech.fill("#description", "Appel : la clôture journalière ne se termine pas depuis ce matin.")
    tech.get_by_role("button", name="Enregistrer le ticket").click()
    tech.wait_for_load_state()
    assert "/console/tickets/" in tech.url
    assert "enregistré" in tech.locator("[role=status]").inner_text()
    assert_accessible(tech)
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

    # The integrator reopens it and writes: the technician's queue shows both.
    ticket_id = ticket_url.rsplit("/", 1)[-1]
    with web_platform.api("support", "integrator", journey.integrator_id) as integrator:
        r = integrator.post(f"/tickets/{ticket_id}/reopening", json={"reason": "La clôture bloque encore."})
        assert r.status_code == 201, r.text
        r = integrator.post(f"/tickets/{ticket_id}/messages", json={"body": "Toujours bloqué ce soir."})
        assert r.status_code == 201, r.text
    tech.goto(f"{web_platform.web}/console/tickets?queue=mine")
    flags = tech.locator("tbody tr", has_text="Caisse bloquée à la clôture").inner_text()
    assert "rouvert" in flags and "message de l'intégrateur" in flags, flags

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
    # Signed in, a technician lands on the support desk, not on ops' integrators board.
    assert tech.url == f"{web_platform.web}/console/tickets"
    response = tech.goto(f"{web_platform.web}/console")
    assert response is not None and tech.url == f"{web_platform.web}/console/tickets"
    for path in (
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


def test_approvals_a_release_published_then_withdrawn_names_the_warned_integrators(
    web_platform: WebPlatform, browser: Any
) -> None:
    # A company name a spreadsheet would read as a formula: the export must not let it run.
    info = web_platform.register_integrator(name='=HYPERLINK("http://x.example") Caisse SAS')
    integrator_id, employee = info["integrator_id"], "Léa Formée"
    with web_platform.api("support", "technician") as api:
        for path, body in (
            ("employees", {"employee_name": employee, "represents_integrator": True}),
            (
                "trainings",
                {"employee_name": employee, "session_date": "2026-01-05", "trainer": "Marc Formateur"},
            ),
            (
                "charter-signatures",
                {"employee_name": employee, "signed_on": "2026-01-06", "charter_version": "DOC-QLT-18122014"},
            ),
        ):
            r = api.post(f"/approvals/{integrator_id}/{path}", json=body)
            assert r.status_code == 201, r.text

    tech, _ = _staff_page(web_platform, browser, "technician")
    # Support learns the company's name from onboarding's events (through the broker): a moment.
    deadline = time.monotonic() + budget(20)
    tech.goto(f"{web_platform.web}/console/approvals")
    while info["legal_name"] not in tech.locator("main").inner_text():
        assert time.monotonic() < deadline, tech.locator("main").inner_text()
        time.sleep(0.5)
        tech.reload()
    card = tech.locator("article", has_text=info["legal_name"])
    assert employee in card.inner_text() and "DOC-QLT-18122014" in card.inner_text()
    assert_accessible(tech)
    csv = tech.request.get(f"{web_platform.web}/console/approvals/approved-integrators.csv")
    assert csv.status == 200
    line = next(line for line in csv.text().splitlines() if "HYPERLINK" in line)
    assert not line.startswith("=") and not line.startswith('"='), line

    version = f"9.{int(time.time())}.0"
    tech.fill("#version", version)
    tech.fill("#release_notes", "Correctif de la clôture journalière.")
    tech.check("#certified")
    tech.get_by_role("button", name="Publier la version").click()
    tech.wait_for_load_state()
    assert "publiée" in tech.locator("[role=status]").inner_text()
    release = tech.locator("#releases ~ article", has_text=version)
    release.locator("summary").click()
    release.locator("input[name=reason]").fill("Anomalie de clôture")
    release.locator("textarea[name=warning_message]").fill("N'installez plus la " + version + ".")
    release.get_by_role("button", name="Retirer").click()
    tech.wait_for_load_state()
    warned = tech.locator("[role=status]").inner_text()
    assert info["legal_name"] in warned, warned
    assert "retirée" in tech.locator("#releases ~ article", has_text=version).inner_text()


def test_operations_show_every_service_refresh_live_and_list_dead_letters(
    web_platform: WebPlatform, browser: Any
) -> None:
    ops, _ = _staff_page(web_platform, browser, "ops")
    ops.goto(f"{web_platform.web}/console/operations")
    services = ops.locator("#services-title ~ table tbody th").all_inner_texts()
    assert services == ["onboarding", "sim-logistics", "ism-provisioning", "support", "notifier"]
    assert "ne répond pas" not in ops.locator("main").inner_text()
    assert_accessible(ops)
    # htmx polls the live part every 5 s (no reload of the page).
    with ops.expect_response(lambda r: r.url.endswith("/console/operations/live"), timeout=12_000) as polled:
        pass
    assert polled.value.status == 200

    # A poison message on a topic onboarding consumes: its dead letter is listed with the reason,
    # and replaying it says that its consumer still refuses it (and why).
    async def publish_poison() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=web_platform.platform.kafka.bootstrap)
        await producer.start()
        try:
            value, key = b"this is not json", b"console-test"
            headers = signed_by("sim-logistics", key, value, POISON_TYPE)  # believed, then read: not JSON
            await producer.send_and_wait(topics.SIM_LOGISTICS, value, key=key, headers=headers)
        finally:
            await producer.stop()

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, publish_poison()).result(timeout=60)
    row = ops.locator("#dead-title ~ table tbody tr", has_text="onboarding").filter(has_text="JSON")
    deadline = time.monotonic() + budget(30)
    while not row.count():
        assert time.monotonic() < deadline, ops.locator("main").inner_text()
        time.sleep(1)
        ops.reload()
    shoot(ops, "console-operations")
    with ops.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/replay")) as replayed:
        row.first.get_by_role("button").click()
    ops.wait_for_load_state()
    assert replayed.value.status == 422
    assert "encore refusé" in ops.locator("#replay-error").inner_text()


def _ops_action(page: Any, action: str, **fields: str) -> None:
    """One step action of the integrator page: open it, fill it, post it; the service recorded it."""
    box = page.locator("details", has=page.locator(f"button[data-action={action}]"))
    box.locator("summary").click()
    for name, value in fields.items():
        box.locator(f"[name={name}]").fill(value)
    box.locator(f"button[data-action={action}]").click()
    page.wait_for_load_state()
    status = page.locator("[role=status]")
    assert status.count() and "C'est fait" in status.inner_text(), page.locator("main").inner_text()[:2000]


def _until(what: str, check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + budget(timeout)
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout}s for {what}")
        time.sleep(0.3)


def test_ops_drive_an_integrator_from_registration_to_go_through_the_console(
    web_platform: WebPlatform, browser: Any, page: Any
) -> None:
    """Every vendor action is a click in the console; the integrator's side is done on its portal
    (`page`), except booking the validation call: the portal offers the next free support slots, and
    the test books one seconds away through the API so that it can be held and validated at once."""
    info = invited_integrator(web_platform, page)
    integrator_id = info["integrator_id"]
    sims_api = web_platform.api("sim-logistics", "integrator", integrator_id)
    ops, _ = _staff_page(web_platform, browser, "ops")
    page_url = f"{web_platform.web}/console/integrators/{integrator_id}"

    def submit(item: str, name: str = "", content: bytes = b"", media_type: str = "", **fields: str) -> None:
        """The integrator sends a dossier item with its portal's form."""
        page.goto(f"{web_platform.web}/portal/dossier")
        form = page.locator(f"#{item} form")
        if content:
            form.locator("input[type=file]").set_input_files(
                files=[{"name": name, "mimeType": media_type, "buffer": content}]
            )
        for field, value in fields.items():
            form.locator(f"[name={field}]").fill(value)
        with page.expect_response(
            lambda r: r.request.method == "POST" and f"/portal/dossier/{item}" in r.url
        ) as sent:
            form.locator("button[type=submit]").click()
        page.wait_for_load_state()
        assert sent.value.status in (200, 303), (
            item,
            sent.value.status,
            page.locator("main").inner_text()[:1000],
        )

    # Step 1: ops send the sheet, the integrator returns it, ops create the profile.
    ops.goto(page_url)
    _ops_action(ops, "configuration-sheet")
    submit("electrical_profile_sheet", "profil.xlsx", samples.configuration_sheet(), XLSX)
    ops.goto(page_url)
    _ops_action(ops, "electrical-profile", profile_reference="EP-CONSOLE-1")

    # The dossier, sent on the portal, each item accepted in the console.
    png_type = "image/png"
    submit("logo", "logo.png", samples.logo(), png_type)
    submit("footer_banner", "bandeau.png", samples.footer_banner(), png_type, footer_text=info["footer_text"])
    submit("sim_artwork", "carte-sim.png", samples.artwork(), png_type)
    for item, rows in (
        ("offers_table", samples.OFFERS),
        ("tariffs_metropolitan", samples.TARIFFS_METROPOLITAN),
        ("tariffs_international", samples.TARIFFS_INTERNATIONAL),
    ):
        submit(item, f"{item}.csv", samples.csv(rows), "text/csv")
    submit("terminals_table", "terminaux.xlsx", samples.xlsx(samples.TERMINALS), XLSX)
    submit("arcep_declaration", sent_on="2026-01-05")
    submit("invoice_sender_email", email=f"facturation@integrateur-{info['siret']}.fr")
    ops.goto(page_url)
    # A table under review is shown as a table, with its rows.
    assert ops.locator("table[data-item=offers_table] tbody tr").count() == len(samples.OFFERS) - 1
    for item in (
        "logo",
        "footer_banner",
        "sim_artwork",
        "offers_table",
        "tariffs_metropolitan",
        "tariffs_international",
        "terminals_table",
        "arcep_declaration",
        "invoice_sender_email",
    ):
        ops.locator(f"#item-{item}").get_by_role("button", name="Accepter").click()
        ops.wait_for_load_state()
        # The state agrees with the item: "Déclaration ARCEP — Acceptée", "Logo — Accepté".
        accepted = {
            "logo": "Accepté",
            "footer_banner": "Accepté",
            "sim_artwork": "Acceptée",
            "offers_table": "Accepté",
            "tariffs_metropolitan": "Acceptés",
            "tariffs_international": "Acceptés",
            "terminals_table": "Accepté",
            "arcep_declaration": "Acceptée",
            "invoice_sender_email": "Acceptée",
        }[item]
        assert ops.locator(f"#item-{item} header .state").inner_text() == accepted, item

    # Step 2: test SIMs shipped in the console, received and the call booked by the integrator.
    _until(
        "step 2 to open",
        lambda: (r := sims_api.get(f"/integrators/{integrator_id}/sims")).is_success and r.json(),
    )
    ops.goto(page_url)
    _ops_action(
        ops,
        "ship-test-sims",
        iccid_1=samples.iccid(800_001),
        iccid_2=samples.iccid(800_002),
        carrier="Chronopost",
        tracking_number="XY987654321FR",
    )
    page.goto(f"{web_platform.web}/portal/sims")
    page.locator("form[action='/portal/sims/test-sims/reception'] button").click()
    page.wait_for_load_state()
    platform_now = datetime.fromisoformat(sims_api.get(f"/integrators/{integrator_id}/sims").json()["as_of"])
    skew = platform_now - datetime.now(platform_now.tzinfo)
    starts_at = next_support_slot(
        platform_now.replace(microsecond=0) + CALL_LEAD + timedelta(seconds=1),
        timedelta(minutes=CALL_MINUTES),
    )
    booked = sims_api.post(
        f"/integrators/{integrator_id}/test-sims/validation-call",
        json={
            "starts_at": starts_at.isoformat(),
            "duration_minutes": CALL_MINUTES,
            "phone": "+33 6 01 02 03 04",
        },
    )
    assert booked.status_code == 201, booked.text
    wait = (starts_at - (datetime.now(platform_now.tzinfo) + skew)).total_seconds()
    assert wait < 120, f"the next support slot is {wait:.0f}s away"
    time.sleep(max(0.0, wait) + 0.5)
    ops.goto(page_url)
    _ops_action(ops, "validate-sims")

    # Step 3: the integrator orders; ops start, deliver, send the note; the integrator confirms.
    artwork = _until(
        "the accepted artwork noted",
        lambda: sims_api.get(f"/integrators/{integrator_id}/sims").json().get("accepted_artwork"),
    )
    page.goto(f"{web_platform.web}/portal/sims")
    page.fill("#quantity", "100")
    page.fill("#delivery_address", "12 rue de la Paix, 75002 Paris")
    assert page.locator("#artwork_reference").input_value() == artwork
    page.locator("form[action='/portal/sims/production-order'] button").click()
    page.wait_for_load_state()
    ops.goto(page_url)
    _ops_action(ops, "start-production")
    _ops_action(
        ops,
        "deliver-sims",
        quantity="100",
        iccid_first=samples.iccid(1),
        iccid_last=samples.iccid(100),
        delivery_note_number="BL-CONSOLE-1",
    )
    _ops_action(ops, "delivery-note", delivery_note_number="BL-CONSOLE-1", tariff_grid_reference="grille-v1")
    page.goto(f"{web_platform.web}/portal/sims")
    page.locator("form[action='/portal/sims/reception'] button").click()
    page.wait_for_load_state()
    assert sims_api.get(f"/integrators/{integrator_id}/sims").json()["production"]["reception_confirmed"]

    # The ISM, configured from the accepted tables, delivered from the console: GO.
    with web_platform.api("ism-provisioning", "integrator", integrator_id) as ism:
        _until(
            "the ISM configured",
            lambda: (
                (r := ism.get(f"/integrators/{integrator_id}/ism")).is_success
                and r.json().get("configuration_version")
                and r.json().get("sims_delivered")
                and r.json().get("logo_reference")
            ),
            timeout=60,
        )
    ops.goto(page_url)
    _ops_action(ops, "deliver-ism")

    def live() -> bool:
        ops.goto(f"{web_platform.web}/console?step=live")
        return info["legal_name"] in ops.locator("main").inner_text()

    _until("GO intégrateur on the board", live, timeout=60)
    ops.goto(page_url)
    assert "En production" in ops.locator("#facts").inner_text()
    # Each vendor action recorded who did it: the signed-in ops member, in every service.
    by = {
        row.split("\t")[2]: row.split("\t")[3]
        for row in ops.locator("#timeline ~ table tbody tr").all_inner_texts()
    }
    for event in ("ConfigurationSheetSent", "TestSimsShipped", "ProductionStarted", "ISMDelivered"):
        assert by.get(event, "").startswith("ops"), (event, by.get(event))
