"""The demo journey, through the public HTTP APIs only: one integrator through the whole of seed 000
(registration → dossier → electrical profile → test SIMs → validation → production → delivery → ISM →
GO intégrateur) and one support ticket through its whole life to a rating (seed 004).

The same `Journey` drives a running `make run` (base URLs) and the in-process services of the tests
(ASGI clients): it only ever speaks HTTP.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from chassis.auth import mint_token
from platform_cli import samples


class JourneyFailed(RuntimeError):
    pass


@dataclass
class Journey:
    clients: dict[str, httpx.AsyncClient]
    auth_secret: str
    #: Where the notifier's SMTP sink keeps emails (None: ask the notifier's API only).
    log: Callable[[str], None] = print
    integrator_id: str = ""
    ticket_id: str = ""
    steps: list[tuple[str, float]] = field(default_factory=list)

    # --- plumbing -----------------------------------------------------------------------------

    def headers(self, role: str, integrator: bool = False) -> dict[str, str]:
        token = mint_token(
            self.auth_secret,
            role=role,
            subject=f"demo-{role}",
            integrator_id=self.integrator_id if role == "integrator" else None,
        )
        return {"Authorization": f"Bearer {token}"}

    async def call(self, service: str, method: str, path: str, role: str = "ops", *, expect: int = 201,
                   **kwargs: Any) -> Any:
        r = await self.clients[service].request(method, path, headers=self.headers(role), **kwargs)
        if r.status_code != expect:
            raise JourneyFailed(f"{service} {method} {path} -> {r.status_code}: {r.text[:500]}")
        return r.json() if r.content and r.headers.get("content-type", "").startswith(("application/json",
                                                                                          "application/problem")) else r

    async def until(self, what: str, probe: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
        """Events travel through Kafka: wait (bounded) until another service has reacted."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = await probe()
                if value:
                    return value
            except (httpx.HTTPError, JourneyFailed, KeyError):
                pass
            if time.monotonic() > deadline:
                raise JourneyFailed(f"timed out waiting for {what}")
            await asyncio.sleep(0.1)

    def step(self, text: str) -> None:
        self.steps.append((text, time.monotonic()))
        self.log(f"• {text}")

    # --- seed 000 -----------------------------------------------------------------------------

    async def register(self) -> None:
        body = await self.call("onboarding", "POST", "/integrators", json=samples.REGISTRATION)
        self.integrator_id = body["integrator_id"]
        self.step(f"integrator registered: {self.integrator_id}")

    async def submit(self, item: str, *, files: dict[str, Any] | None = None, data: dict[str, str] | None = None,
                     accept: bool = True) -> None:
        base = f"/integrators/{self.integrator_id}/dossier/{item}"
        await self.call("onboarding", "POST", base, "integrator", files=files, data=data)
        if accept:
            await self.call("onboarding", "POST", f"{base}/acceptance")
        self.step(f"dossier: {item} submitted{' and accepted' if accept else ''}")

    async def dossier(self) -> None:
        png = "image/png"
        await self.submit("logo", files={"file": ("logo.png", samples.logo(), png)})
        await self.submit("footer_banner", files={"file": ("bandeau.png", samples.footer_banner(), png)},
                          data={"footer_text": samples.FOOTER_TEXT})
        await self.submit("sim_artwork", files={"file": ("carte-sim.png", samples.artwork(), png)})
        tables = {
            "offers_table": ("offres.csv", samples.OFFERS),
            "tariffs_metropolitan": ("tarifs-metropole.csv", samples.TARIFFS_METROPOLITAN),
            "tariffs_international": ("tarifs-international.csv", samples.TARIFFS_INTERNATIONAL),
        }
        for item, (name, rows) in tables.items():
            await self.submit(item, files={"file": (name, samples.csv(rows), "text/csv")})
        xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        await self.submit("terminals_table", files={"file": ("terminaux.xlsx", samples.xlsx(samples.TERMINALS), xlsx)})
        await self.submit("arcep_declaration", data={"sent_on": datetime.now(UTC).date().isoformat()})
        await self.submit("invoice_sender_email", data={"email": "facturation@telecom-exemple.fr"})

    async def electrical_profile(self) -> None:
        base = f"/integrators/{self.integrator_id}"
        await self.call("onboarding", "POST", f"{base}/configuration-sheet")
        self.step("step 1: configuration sheet sent to the integrator")
        xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        await self.call("onboarding", "POST", f"{base}/dossier/electrical_profile_sheet", "integrator",
                        files={"file": ("profil-electrique.xlsx", samples.configuration_sheet(), xlsx)})
        self.step("step 1: filled sheet received (ProfileReceived)")
        await self.call("onboarding", "POST", f"{base}/electrical-profile", json={"profile_reference": "EP-DEMO-1"})
        self.step("step 1: electrical profile created (ElectricalProfileCreated)")

    async def ism_configured(self) -> dict[str, Any]:
        async def configured() -> Any:
            status = await self.call("ism-provisioning", "GET", f"/integrators/{self.integrator_id}/ism", expect=200)
            return status if status.get("configuration_version") else None

        status = await self.until("the ISM configured from the tables", configured)
        self.step(f"ISM configured (version {status['configuration_version']})")
        return status

    async def deliver_ism(self) -> None:
        body = await self.call("ism-provisioning", "POST", f"/integrators/{self.integrator_id}/ism/delivery")
        self.step(f"ISM delivered: {body['platform_url']} (account {body['account_id']})")

    async def live(self) -> dict[str, Any]:
        async def is_live() -> Any:
            status = await self.call("onboarding", "GET", f"/integrators/{self.integrator_id}", expect=200)
            return status if status.get("live") else None

        status = await self.until("GO intégrateur", is_live)
        self.step("GO intégrateur: the integrator is live")
        return status

    # --- the timeline -------------------------------------------------------------------------

    async def timeline(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for service in self.clients:
            events += await self.call(service, "GET", f"/ops/integrators/{self.integrator_id}/events", expect=200)
        return sorted(events, key=lambda e: e["occurred_at"])


def one_week_from(now: datetime) -> datetime:
    return now + timedelta(days=7)
