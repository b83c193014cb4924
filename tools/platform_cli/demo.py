"""The demo journey, through the public HTTP APIs only: one integrator through the whole of seed 000
(registration → dossier → electrical profile → test SIMs → validation → production → delivery → ISM →
GO intégrateur) and one support ticket through its whole life to a rating (seed 004).

The same `Journey` drives a running `make run` (base URLs) and the in-process services of the tests
(ASGI clients): it only ever speaks HTTP. What it cannot get over HTTP it reads where an integrator
would: the links (ISM set-password, satisfaction survey) from the emails in the SMTP sink's folder.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from chassis.auth import mint_token
from chassis.devstack import mail_file_name
from platform_cli import samples

SERVICES = ("onboarding", "sim-logistics", "ism-provisioning", "support", "notifier")

#: Support hours (seed 004), when the vendor holds the SIM validation call: 09–12 and 14–18, Mon–Fri, Paris.
PARIS = ZoneInfo("Europe/Paris")
SUPPORT_WINDOWS = ((clock_time(9), clock_time(12)), (clock_time(14), clock_time(18)))
CALL_MINUTES = 15
#: How far ahead of the platform's "now" the call is booked (it must be in the future), and how long
#: the demo is willing to wait in real time for it to start.
CALL_LEAD = timedelta(seconds=2)
MAX_REAL_WAIT = timedelta(minutes=2)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_LINK = re.compile(r"https?://\S+")


class JourneyFailed(RuntimeError):
    pass


def next_support_slot(after: datetime, length: timedelta) -> datetime:
    """The earliest instant at or after `after` at which `length` fits whole in one support window."""
    local = after.astimezone(PARIS)
    for days in range(15):
        day = local.date() + timedelta(days=days)
        if day.weekday() >= 5:
            continue
        for opens, closes in SUPPORT_WINDOWS:
            start = max(datetime.combine(day, opens, PARIS), after)
            if start + length <= datetime.combine(day, closes, PARIS):
                return start.astimezone(UTC)
    raise ValueError(f"no support window after {after}")


def clock_offset_for_support_hours(now: datetime, length: timedelta = timedelta(minutes=30)) -> timedelta:
    """How far to move a platform's clock so that `now` (and `length` after it) falls in support hours:
    zero when it already does. `make demo` starts its embedded platform with this offset."""
    return next_support_slot(now, length) - now


def _hours(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}"


def traceparent() -> tuple[str, str]:
    """A fresh W3C trace context: the services continue the trace it names, so its id is known here."""
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


@dataclass
class Email:
    template: str
    subject: str
    recipients: list[str]
    status: str
    source_event_type: str
    message_id: str
    path: Path | None


@dataclass
class JourneyReport:
    integrator_id: str
    ticket_id: str
    live: dict[str, Any]
    timeline: list[dict[str, Any]]
    emails: list[Email]
    production_order_trace_id: str
    steps: list[tuple[str, float]]
    seconds: float
    #: Values that must never show in an event or an email (the ISM password the integrator chose).
    secrets: list[str]


@dataclass
class Journey:
    clients: dict[str, httpx.AsyncClient]
    auth_secret: str
    #: Where the SMTP sink keeps emails (`<message-id>.eml`): the integrator's mailbox, for its links.
    mail_dir: Path | None = None
    #: How the platform's time reaches the validation call. Default: wait for it in real time (it is
    #: booked a couple of seconds ahead); tests move their clock instead.
    wait_until: Callable[[datetime], Awaitable[None]] | None = None
    log: Callable[[str], None] = print
    timeout: float = 30.0
    integrator_id: str = ""
    ticket_id: str = ""
    production_order_trace_id: str = ""
    steps: list[tuple[str, float]] = field(default_factory=list)
    chosen_secrets: list[str] = field(default_factory=list)
    artwork_sha256: str = ""
    #: The platform's clock minus ours (the embedded demo and the tests may run the platform ahead).
    platform_offset: timedelta = timedelta(0)
    _started: float = field(default_factory=time.monotonic)

    # --- plumbing -----------------------------------------------------------------------------

    def headers(self, role: str) -> dict[str, str]:
        token = mint_token(
            self.auth_secret,
            role=role,
            subject=f"demo-{role}",
            integrator_id=self.integrator_id if role == "integrator" else None,
        )
        return {"Authorization": f"Bearer {token}"}

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        role: str = "ops",
        *,
        expect: int = 201,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        r = await self.clients[service].request(
            method, path, headers={**self.headers(role), **(headers or {})}, **kwargs
        )
        if r.status_code != expect:
            raise JourneyFailed(f"{service} {method} {path} -> {r.status_code}: {r.text[:500]}")
        kind = r.headers.get("content-type", "")
        return r.json() if r.content and kind.startswith(("application/json", "application/problem")) else r

    async def until(
        self, what: str, probe: Callable[[], Awaitable[Any]], timeout: float | None = None
    ) -> Any:
        """Events travel through Kafka: wait (bounded) until another service has reacted."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                value = await probe()
                if value:
                    return value
            except (httpx.HTTPError, JourneyFailed, KeyError):
                pass
            if time.monotonic() > deadline:
                raise JourneyFailed(f"timed out waiting for {what}")
            await asyncio.sleep(0.05)

    def step(self, text: str) -> None:
        self.steps.append((text, time.monotonic() - self._started))
        self.log(f"[{time.monotonic() - self._started:5.1f}s] {text}")

    def platform_now(self) -> datetime:
        return datetime.now(UTC) + self.platform_offset

    def _measure_offset(self, platform_time: str) -> None:
        self.platform_offset = datetime.fromisoformat(platform_time) - datetime.now(UTC)

    async def run(self) -> JourneyReport:
        """The whole journey; returns what happened (timeline, emails, the production order's trace)."""
        self._started = time.monotonic()
        await self.register()
        await self.dossier()
        await self.electrical_profile()
        await self.test_sims()
        await self.production()
        await self.ism()
        live = await self.live()
        await self.support_ticket()
        emails = await self.emails()
        return JourneyReport(
            integrator_id=self.integrator_id,
            ticket_id=self.ticket_id,
            live=live,
            timeline=await self.timeline(),
            emails=emails,
            production_order_trace_id=self.production_order_trace_id,
            steps=self.steps,
            seconds=time.monotonic() - self._started,
            secrets=self.chosen_secrets,
        )

    # --- seed 000: registration and the dossier ------------------------------------------------

    async def register(self) -> None:
        siret = samples.siret()  # a new company each run: a SIRET registers once
        self.siret = siret
        body = await self.call("onboarding", "POST", "/integrators", json=samples.registration(siret))
        self.integrator_id = body["integrator_id"]
        events = await self.call(
            "onboarding", "GET", f"/ops/integrators/{self.integrator_id}/events", expect=200
        )
        self._measure_offset(events[0]["occurred_at"])
        self.step(f"integrator registered (IntegratorRegistered): {self.integrator_id}, SIRET {siret}")

        async def contacts_known() -> Any:
            return await self.call(
                "notifier", "GET", f"/integrators/{self.integrator_id}/contacts", expect=200
            )

        # Topics are not ordered with one another: an event reaching the notifier before the
        # registration is held and mailed later, in the registration's trace. Waiting here keeps
        # each email in the trace of the request that caused it.
        await self.until("the notifier to learn the integrator's contacts", contacts_known)

    async def submit(
        self,
        item: str,
        *,
        files: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
        accept: bool = True,
    ) -> dict[str, Any]:
        base = f"/integrators/{self.integrator_id}/dossier/{item}"
        body: dict[str, Any] = await self.call(
            "onboarding", "POST", base, "integrator", files=files, data=data
        )
        if accept:
            await self.call("onboarding", "POST", f"{base}/acceptance")
        self.step(f"dossier: {item} submitted by the integrator{', accepted by ops' if accept else ''}")
        return body

    async def dossier(self) -> None:
        png = "image/png"
        await self.submit("logo", files={"file": ("logo.png", samples.logo(), png)})
        await self.submit(
            "footer_banner",
            files={"file": ("bandeau.png", samples.footer_banner(), png)},
            data={"footer_text": samples.footer_text(self.siret)},
        )
        artwork = await self.submit("sim_artwork", files={"file": ("carte-sim.png", samples.artwork(), png)})
        self.artwork_sha256 = artwork["file"]["sha256"]
        tables = {
            "offers_table": ("offres.csv", samples.OFFERS),
            "tariffs_metropolitan": ("tarifs-metropole.csv", samples.TARIFFS_METROPOLITAN),
            "tariffs_international": ("tarifs-international.csv", samples.TARIFFS_INTERNATIONAL),
        }
        for item, (name, rows) in tables.items():
            await self.submit(item, files={"file": (name, samples.csv(rows), "text/csv")})
        await self.submit(
            "terminals_table", files={"file": ("terminaux.xlsx", samples.xlsx(samples.TERMINALS), XLSX)}
        )
        await self.submit("arcep_declaration", data={"sent_on": self.platform_now().date().isoformat()})
        await self.submit("invoice_sender_email", data={"email": "facturation@telecom-exemple.fr"})

    # --- step 1: the electrical profile ----------------------------------------------------------

    async def electrical_profile(self) -> None:
        base = f"/integrators/{self.integrator_id}"
        await self.call("onboarding", "POST", f"{base}/configuration-sheet")
        self.step("step 1: configuration sheet sent to the integrator (ConfigurationSheetSent)")
        await self.call(
            "onboarding",
            "POST",
            f"{base}/dossier/electrical_profile_sheet",
            "integrator",
            files={"file": ("profil-electrique.xlsx", samples.configuration_sheet(), XLSX)},
        )
        self.step("step 1: filled-in sheet received (ProfileReceived)")
        await self.call(
            "onboarding", "POST", f"{base}/electrical-profile", json={"profile_reference": "EP-DEMO-1"}
        )
        self.step("step 1: electrical profile created (ElectricalProfileCreated)")

    # --- step 2: test SIMs ------------------------------------------------------------------------

    async def sims(self) -> dict[str, Any]:
        timeline: dict[str, Any] = await self.call(
            "sim-logistics", "GET", f"/integrators/{self.integrator_id}/sims", expect=200
        )
        return timeline

    async def test_sims(self) -> None:
        base = f"/integrators/{self.integrator_id}/test-sims"

        async def step_open() -> Any:
            return (await self.sims()).get("profile_reference")

        await self.until("sim-logistics to open step 2 (TestSimsStepOpened)", step_open)
        iccids = [samples.iccid(900_001), samples.iccid(900_002)]
        await self.call(
            "sim-logistics",
            "POST",
            f"{base}/shipments",
            json={"iccids": iccids, "carrier": "Chronopost", "tracking_number": "XY123456789FR"},
        )
        self.step(f"step 2: two test SIMs shipped (TestSimsShipped): {', '.join(iccids)}")
        await self.call("sim-logistics", "POST", f"{base}/reception", "integrator")
        self.step("step 2: test SIMs received by the integrator (TestSimsReceived)")

        self._measure_offset((await self.sims())["as_of"])
        starts_at = next_support_slot(
            self.platform_now().replace(microsecond=0) + CALL_LEAD + timedelta(seconds=1),
            timedelta(minutes=CALL_MINUTES),
        )
        wait = starts_at - self.platform_now()
        if self.wait_until is None and wait > MAX_REAL_WAIT:
            suggested = int(
                (clock_offset_for_support_hours(datetime.now(UTC)) + timedelta(seconds=5)).total_seconds()
            )
            raise JourneyFailed(
                f"the validation call is held in support hours (09–12, 14–18 Mon–Fri, Paris); the next slot "
                f"is {starts_at.astimezone(PARIS):%a %d %b %H:%M} Paris time, {_hours(wait)} from now. Run `make demo` "
                f"(its embedded platform's clock is moved into support hours), or restart `make run` with "
                f"DEV_CLOCK_OFFSET_SECONDS={suggested}."
            )
        await self.call(
            "sim-logistics",
            "POST",
            f"{base}/validation-call",
            "integrator",
            json={
                "starts_at": starts_at.isoformat(),
                "duration_minutes": CALL_MINUTES,
                "phone": "+33 6 01 02 03 04",
            },
        )
        self.step(
            f"step 2: validation call booked (ValidationCallBooked) for "
            f"{starts_at.astimezone(PARIS):%a %d %b %Y %H:%M:%S} Paris time"
        )
        if self.wait_until is not None:
            await self.wait_until(starts_at)
            self._measure_offset((await self.sims())["as_of"])
        else:
            await asyncio.sleep(max(0.0, (starts_at - self.platform_now()).total_seconds()) + 0.2)
        await self.call("sim-logistics", "POST", f"{base}/validation")
        self.step("step 2: the call held, the test SIMs work (SimsValidated)")

    # --- step 3: production and delivery ------------------------------------------------------------

    async def production(self) -> None:
        base = f"/integrators/{self.integrator_id}"

        async def artwork_noted() -> bool:
            return (await self.sims()).get("accepted_artwork") == self.artwork_sha256

        await self.until("sim-logistics to note the accepted artwork", artwork_noted)
        # The production order carries a trace context of ours: its id names the trace to look at.
        self.production_order_trace_id, parent = traceparent()
        await self.call(
            "sim-logistics",
            "POST",
            f"{base}/production-order",
            "integrator",
            headers={"traceparent": parent},
            json={
                "quantity": 500,
                "delivery_address": "Télécom Exemple SAS, 12 rue de la Paix, 75002 Paris",
                "artwork_reference": self.artwork_sha256,
            },
        )
        self.step(
            f"step 2 closed: 500 SIMs ordered (ProductionOrdered), trace {self.production_order_trace_id}"
        )
        await self.call("sim-logistics", "POST", f"{base}/production/start")
        self.step("step 3: production started (ProductionStarted)")
        first, last = samples.iccid(1), samples.iccid(500)
        await self.call(
            "sim-logistics",
            "POST",
            f"{base}/production/delivery",
            json={
                "quantity": 500,
                "iccid_first": first,
                "iccid_last": last,
                "delivery_note_number": "BL-DEMO-1",
            },
        )
        self.step(f"step 3 closed: SIMs {first}…{last} delivered (SimsDelivered)")
        await self.call(
            "sim-logistics",
            "POST",
            f"{base}/production/delivery-note",
            json={"delivery_note_number": "BL-DEMO-1", "tariff_grid_reference": "grille-tarifaire-v1"},
        )
        self.step("step 3: delivery note sent with the tariff grid (DeliveryNoteSent)")
        await self.call("sim-logistics", "POST", f"{base}/production/reception", "integrator")
        self.step("step 3: reception confirmed by the integrator (SimsReceptionConfirmed)")

    # --- final: the ISM and go-live ------------------------------------------------------------------

    async def ism(self) -> None:
        path = f"/integrators/{self.integrator_id}/ism"

        async def ready() -> Any:
            status = await self.call("ism-provisioning", "GET", path, expect=200)
            done = status.get("configuration_version") and status.get("sims_delivered")
            return status if done and status.get("logo_reference") else None

        status = await self.until("the ISM configured from the accepted tables, SIMs delivered, logo", ready)
        self.step(
            f"ISM configured from the four accepted tables (IsmConfigured v{status['configuration_version']})"
        )
        body = await self.call("ism-provisioning", "POST", f"{path}/delivery")
        self.step(f"ISM delivered (ISMDelivered): {body['platform_url']}")
        link = await self.link_in_email("ism_delivered", "/ism/set-password?token=")
        if link is not None:
            token = link.split("token=", 1)[1]
            password = "demo-" + secrets.token_urlsafe(12)
            self.chosen_secrets.append(password)
            await self.call(
                "ism-provisioning",
                "POST",
                "/ism/set-password",
                expect=200,
                json={"token": token, "password": password},
            )
            self.step("the integrator set its ISM password through the emailed link (IsmPasswordSet)")

    async def live(self) -> dict[str, Any]:
        async def is_live() -> Any:
            status = await self.call("onboarding", "GET", f"/integrators/{self.integrator_id}", expect=200)
            return status if status.get("live") else None

        status: dict[str, Any] = await self.until("GO intégrateur (IntegratorWentLive)", is_live)
        self.step("GO intégrateur: the integrator is live (IntegratorWentLive)")
        return status

    # --- seed 004: a support ticket to its rating --------------------------------------------------

    async def support_ticket(self) -> None:
        approval = f"/approvals/{self.integrator_id}"
        today = self.platform_now().date().isoformat()
        employee = "Luc Bernard"
        await self.call(
            "support",
            "POST",
            f"{approval}/employees",
            "technician",
            json={"employee_name": employee, "represents_integrator": True},
        )
        await self.call(
            "support",
            "POST",
            f"{approval}/trainings",
            "technician",
            json={"employee_name": employee, "session_date": today, "trainer": "Claire Petit"},
        )
        await self.call(
            "support",
            "POST",
            f"{approval}/charter-signatures",
            "technician",
            json={"employee_name": employee, "signed_on": today, "charter_version": "DOC-QLT-18122014"},
        )
        approved = await self.call("support", "GET", approval, "technician", expect=200)
        self.step(
            f"approval: {employee} trained and signed the NF525 charter (approved: {approved.get('approved')})"
        )

        body = await self.call(
            "support",
            "POST",
            "/tickets",
            "integrator",
            json={
                "requester": {"name": employee, "email": "luc.bernard@telecom-exemple.fr"},
                "subject": "Les cartes SIM livrées ne s'activent pas",
                "description": "Trois cartes du lot BL-DEMO-1 restent sans réseau après activation.",
            },
        )
        self.ticket_id = body["ticket_id"]
        ticket = f"/tickets/{self.ticket_id}"
        self.step(f"ticket opened by the integrator (TicketOpened): {self.ticket_id}")
        await self.call(
            "support",
            "POST",
            f"{ticket}/qualification",
            "technician",
            json={"category": "incident", "severity": "high"},
        )
        self.step("ticket qualified: incident, high (TicketQualified)")
        await self.call("support", "POST", f"{ticket}/assignment", "technician", json={})
        self.step("ticket taken by a technician (TicketTaken)")
        await self.call(
            "support",
            "POST",
            f"{ticket}/messages",
            "technician",
            json={"body": "Pouvez-vous nous donner les ICCID des trois cartes ?"},
        )
        await self.call(
            "support",
            "POST",
            f"{ticket}/messages",
            "integrator",
            json={"body": f"{samples.iccid(17)}, {samples.iccid(18)}, {samples.iccid(19)}"},
        )
        self.step("messages exchanged between the technician and the integrator")
        await self.call(
            "support",
            "POST",
            f"{ticket}/resolution",
            "technician",
            json={
                "resolution_procedure": "Profils réémis sur l'ISM pour les trois ICCID ; "
                "cartes redémarrées ; réseau présent."
            },
        )
        self.step("ticket resolved with the procedure applied (TicketResolved)")
        await self.call("support", "POST", f"{ticket}/closing", "technician")
        self.step("ticket closed: a satisfaction survey goes out (TicketClosed)")
        link = await self.link_in_email("ticket_closed", "/survey/")
        if link is None:
            self.step("no mail folder given: the survey link cannot be read, the rating is skipped")
            return
        token = link.rsplit("/survey/", 1)[1]
        survey = await self.call("support", "GET", f"/surveys/{token}", expect=200)
        await self.call(
            "support", "POST", f"/surveys/{token}", json={"rating": 5, "comment": "Rapide et clair."}
        )
        self.step(
            f"survey answered through the emailed link: 5/5 ({survey['question'][:40]}…) (SatisfactionRated)"
        )

    # --- the integrator's mailbox ---------------------------------------------------------------------

    async def email_rows(self) -> list[dict[str, Any]]:
        body = await self.call("notifier", "GET", f"/integrators/{self.integrator_id}/emails", expect=200)
        rows: list[dict[str, Any]] = body["emails"]
        return rows

    async def link_in_email(self, template: str, marker: str) -> str | None:
        """The personal link an email carries, read from the file the SMTP sink wrote (as the
        integrator would click it). None when the demo was not told where the sink keeps emails."""
        if self.mail_dir is None:
            return None
        mail_dir = self.mail_dir

        async def sent() -> Any:
            rows = [r for r in await self.email_rows() if r["template"] == template and r["status"] == "sent"]
            path = mail_dir / mail_file_name(rows[0]["message_id"]) if rows else None
            return path if path is not None and path.exists() else None

        path: Path = await self.until(f"the {template} email in {mail_dir}", sent)
        message = message_from_bytes(await asyncio.to_thread(path.read_bytes), policy=policy.default)
        text = message.get_body(("plain",))
        content = text.get_content() if text is not None else ""
        for url in _LINK.findall(content):
            if marker in url:
                return str(url.rstrip(".,;)>"))
        raise JourneyFailed(f"no link with {marker} in {path}")

    async def emails(self) -> list[Email]:
        """Every email about the integrator, once they are all sent (the last events' emails included)."""

        async def settled() -> Any:
            rows = await self.email_rows()
            templates = {r["template"] for r in rows}
            done = {"integrator_live", "ticket_closed"} <= templates and all(
                r["status"] == "sent" for r in rows
            )
            if not done:
                return None
            await asyncio.sleep(0.3)  # nothing more on its way?
            again = await self.email_rows()
            return again if len(again) == len(rows) and all(r["status"] == "sent" for r in again) else None

        rows = await self.until("every email sent", settled)
        emails = []
        for row in rows:
            rendered = await self.call("notifier", "GET", f"/emails/{row['email_id']}/rendered", expect=200)
            path = self.mail_dir / mail_file_name(row["message_id"]) if self.mail_dir else None
            emails.append(
                Email(
                    template=row["template"],
                    subject=rendered["subject"],
                    recipients=row["recipients"],
                    status=row["status"],
                    source_event_type=row["source_event_type"],
                    message_id=row["message_id"],
                    path=path,
                )
            )
        return emails

    # --- the timeline -------------------------------------------------------------------------

    async def timeline(self) -> list[dict[str, Any]]:
        """Every event about the integrator, in every service's log, in time order."""
        events: list[dict[str, Any]] = []
        for service in SERVICES:
            events += await self.call(
                service, "GET", f"/ops/integrators/{self.integrator_id}/events", expect=200
            )
        order = {name: i for i, name in enumerate(SERVICES)}
        return sorted(events, key=lambda e: (e["occurred_at"], order[e["service"]], e["position"]))
