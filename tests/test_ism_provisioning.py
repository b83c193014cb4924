"""ism-provisioning on the real stack: onboarding's and sim-logistics' events arrive through Kafka,
the ISM is configured from the tables, ops deliver it, the integrator sets its password once.

The producers are played here by publishing well-formed contract envelopes to their topics, so this
test does not depend on the other services; the cross-service journey exercises the real ones.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

from chassis import kafka
from chassis.clock import ManualClock
from chassis.links import sign_link_token
from contracts import topics
from contracts.envelope import Envelope
from contracts.events import DomainEvent
from contracts.events.common import DossierItem, FileRef, TableSnapshot
from contracts.events.ism_provisioning import SET_PASSWORD_LINK_PURPOSE
from contracts.events.onboarding import DossierItemAccepted
from contracts.events.sim_logistics import SimsDelivered
from ism_provisioning import app as ism_app
from ism_provisioning.tables import read_table
from tests.support.hand_published import publish_envelope, register
from tests.support.load import budget

SAMPLES = Path(__file__).parents[1] / "services" / "ism-provisioning" / "tests" / "samples"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LOGO = FileRef(sha256="c" * 64, size=2048, filename="logo.png", media_type="image/png")


def table(name: str) -> TableSnapshot:
    return read_table((SAMPLES / name).read_bytes(), name)


GOOD = {
    DossierItem.OFFERS_TABLE: "offers.csv",
    DossierItem.TARIFFS_METROPOLITAN: "tariffs_metropolitan.csv",
    DossierItem.TARIFFS_INTERNATIONAL: "tariffs_international.csv",
    DossierItem.TERMINALS_TABLE: "terminals.csv",
}


class Upstream:
    """Plays onboarding and sim-logistics: publishes their events as their relays would."""

    def __init__(self, settings, integrator_id: str) -> None:
        self.settings = settings
        self.integrator_id = integrator_id
        self.versions: dict[str, int] = {}
        self.producer = kafka.producer(settings)

    async def __aenter__(self) -> Upstream:
        await self.producer.start()
        # The integrator is registered first: the ISM believes nothing of an unknown integrator.
        await register(self.settings, self.integrator_id, producer=self.producer)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.producer.stop()

    async def publish(self, event: DomainEvent, *, event_id: UUID | None = None) -> Envelope:
        stream = f"{event.producer}-{self.integrator_id}"
        self.versions[stream] = self.versions.get(stream, 0) + 1
        envelope = Envelope(
            event_id=event_id or uuid4(),
            event_type=event.event_type,
            schema_version=event.schema_version,
            occurred_at=START,
            producer=event.producer,
            stream_id=stream,
            stream_version=self.versions[stream],
            integrator_id=self.integrator_id,
            correlation_id=uuid4(),
            payload=event.model_dump(mode="json"),
        )
        await self.send(event.producer, envelope)
        return envelope

    async def send(self, producer: str, envelope: Envelope) -> None:
        assert envelope.producer == producer
        await publish_envelope(self.settings, envelope, producer=self.producer)

    async def accept_table(self, item: DossierItem, snapshot: TableSnapshot | None) -> Envelope:
        return await self.publish(DossierItemAccepted(item=item, table=snapshot, accepted_by="ops-anne"))


async def eventually(probe, within: float = 15.0):
    deadline = asyncio.get_running_loop().time() + budget(within)
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached in time; last: {result!r}")
        await asyncio.sleep(0.05)


async def status_of(svc, integrator_id: str) -> dict:
    return await svc.runtime.projections.get("ism_status", integrator_id) or {}


async def test_tables_accepted_and_sims_delivered_lead_to_ism_delivery_and_a_single_use_password_link(
    service,
):
    clock = ManualClock(START)
    async with service(ism_app, clock=clock) as svc, Upstream(svc.runtime.settings, "acme") as upstream:
        ops, acme = svc.auth("ops"), svc.auth("integrator", "acme")

        # Given the four tables accepted in onboarding (one acceptance delivered twice), the logo,
        # a dossier item that is not the ISM's business, and the SIMs delivered by sim-logistics
        for item, name in GOOD.items():
            envelope = await upstream.accept_table(item, table(name))
        await upstream.send("onboarding", envelope)  # redelivery: changes nothing
        await upstream.publish(
            DossierItemAccepted(
                item=DossierItem.INVOICE_SENDER_EMAIL,
                details={"email": "facturation@acme.example"},
                accepted_by="ops-anne",
            )
        )
        await upstream.publish(DossierItemAccepted(item=DossierItem.LOGO, file=LOGO, accepted_by="ops-anne"))

        # Delivery before the SIMs: refused, clearly
        await eventually(lambda: _configured(svc, "acme"))
        early = await svc.http.post("/integrators/acme/ism/delivery", headers=ops)
        assert early.status_code == 409, early.text
        assert "SIMs are not delivered" in early.json()["detail"]

        await upstream.publish(
            SimsDelivered(
                quantity=500,
                iccid_first="8933150000000000001",
                iccid_last="8933150000000000500",
                delivery_note_number="BL-2026-0042",
                delivered_by="logistics-marc",
            )
        )
        status = await eventually(lambda: _ready(svc, "acme"))

        # Then the ISM is configured once (the redelivery was ignored), visible to the integrator
        assert status["configuration_version"] == 1
        assert status["errors"] == []
        assert status["logo_reference"] == LOGO.sha256
        seen = await svc.http.get("/integrators/acme/ism", headers=acme)
        assert seen.status_code == 200 and seen.json()["configuration_version"] == 1
        other = await svc.http.get("/integrators/acme/ism", headers=svc.auth("integrator", "globex"))
        assert other.status_code == 404
        events = [r.envelope.event_type for r in await svc.runtime.read_stream("ism-acme")]
        assert events.count("IsmTableReceived") == 4
        assert events.count("IsmConfigured") == 1

        # When an integrator user tries to deliver: forbidden; when ops deliver: ISMDelivered
        assert (await svc.http.post("/integrators/acme/ism/delivery", headers=acme)).status_code == 403
        delivered = await svc.http.post(
            "/integrators/acme/ism/delivery", headers=ops, json={"expected_configuration_version": 1}
        )
        assert delivered.status_code == 201, delivered.text
        body = delivered.json()
        assert body["platform_url"] == "https://ism.example.invalid/accounts/ism-acme"
        assert body["set_password_expires_at"] == (START + timedelta(hours=72)).isoformat()
        assert "token" not in json.dumps(body).replace("set_password_expires_at", "")
        again = await svc.http.post("/integrators/acme/ism/delivery", headers=ops)
        assert again.status_code == 409

        # The event reaches the ISM topic (for onboarding's go-live and the notifier), without a secret
        published = await _published(svc.runtime.settings, "ISMDelivered")
        assert published["payload"]["account_id"] == "ism-acme"
        assert published["payload"]["logo_reference"] == LOGO.sha256
        assert "password" not in {k for k in published["payload"] if not k.startswith("set_password_")}

        # The set-password link, signed as the notifier signs it, works once
        delivery = (await status_of(svc, "acme"))["delivery"]
        token = sign_link_token(
            svc.runtime.settings.link_signing_secret.get_secret_value(),
            SET_PASSWORD_LINK_PURPOSE,
            UUID(delivery["set_password_token_id"]),
            datetime.fromisoformat(delivery["set_password_expires_at"]),
        )
        clock.advance(timedelta(hours=5))
        page = await svc.http.get("/ism/set-password", params={"token": token})
        assert page.status_code == 200 and page.json()["account_id"] == "ism-acme"
        first = await svc.http.post(
            "/ism/set-password", json={"token": token, "password": "correct horse battery"}
        )
        assert first.status_code == 200, first.text
        assert first.json()["account_id"] == "ism-acme"
        second = await svc.http.post(
            "/ism/set-password", json={"token": token, "password": "another long one!"}
        )
        assert second.status_code == 409
        assert "already used" in second.json()["detail"]
        used = await svc.http.get("/ism/set-password", params={"token": token})
        assert used.status_code == 409
        forged = await svc.http.post(
            "/ism/set-password", json={"token": token[:-4] + "AAAA", "password": "x" * 12}
        )
        assert forged.status_code == 422
        short = await svc.http.post("/ism/set-password", json={"token": token, "password": "short"})
        assert short.status_code == 422
        kept = await svc.runtime.pool.fetchrow(
            "SELECT * FROM ism_account_passwords WHERE integrator_id='acme'"
        )
        assert kept["password_hash"].startswith("scrypt$") and "correct horse" not in kept["password_hash"]
        assert (await status_of(svc, "acme"))["password_set"] is True


async def test_bad_tables_are_rejected_with_their_rows_then_each_new_version_makes_a_new_configuration(
    service,
):
    clock = ManualClock(START)
    async with service(ism_app, clock=clock) as svc, Upstream(svc.runtime.settings, "bravo") as upstream:
        ops, bravo = svc.auth("ops"), svc.auth("integrator", "bravo")

        # Given a bad offers table among the four: rejected, with errors by row and column
        for item, name in GOOD.items():
            await upstream.accept_table(
                item, table("offers_bad.csv" if item is DossierItem.OFFERS_TABLE else name)
            )
        status = await eventually(lambda: _with_all_tables_and_errors(svc, "bravo"))
        assert status["configuration_version"] == 0
        seen = (await svc.http.get("/integrators/bravo/ism", headers=bravo)).json()
        errors = {(e["table"], e["row"], e["column"]) for e in seen["errors"]}
        assert ("offers_table", 3, "code") in errors  # duplicate ESS-5
        assert ("offers_table", 4, "monthly_price_eur") in errors  # 1e3
        assert ("offers_table", 8, "zones") in errors  # ASIE is no international zone
        not_configured = await svc.http.get("/integrators/bravo/ism/configuration", headers=ops)
        assert not_configured.status_code == 404

        # A table accepted without its rows breaks the contract: dead-lettered, visible to ops
        await upstream.accept_table(DossierItem.TERMINALS_TABLE, None)

        # When the corrected offers arrive: version 1; then new terminals: version 2
        await upstream.accept_table(DossierItem.OFFERS_TABLE, table("offers.csv"))
        await eventually(lambda: _at_version(svc, "bravo", 1))
        clock.advance(timedelta(days=3))
        terminals = TableSnapshot(columns=["brand", "model", "price_eur"], rows=[["Nokia", "3310", "59,90"]])
        await upstream.accept_table(DossierItem.TERMINALS_TABLE, terminals)
        await eventually(lambda: _at_version(svc, "bravo", 2))

        versions = (await svc.http.get("/integrators/bravo/ism/configuration/versions", headers=bravo)).json()
        assert [(v["configuration_version"], v["terminals"]) for v in versions] == [(1, 3), (2, 1)]
        assert versions[0]["table_versions"] == {
            "offers_table": 2,
            "tariffs_metropolitan": 1,
            "tariffs_international": 1,
            "terminals_table": 1,
        }
        assert versions[1]["table_versions"]["terminals_table"] == 2

        # Then the exports: JSON of the current and of an older version, CSV of a section
        current = (await svc.http.get("/integrators/bravo/ism/configuration", headers=bravo)).json()
        assert current["configuration_version"] == 2
        assert current["terminals"] == [{"brand": "Nokia", "model": "3310", "price_eur": "59.90"}]
        assert current["offers"][0]["monthly_price_eur"] == "9.99"
        older = (await svc.http.get("/integrators/bravo/ism/configuration?version=1", headers=ops)).json()
        assert len(older["terminals"]) == 3
        csv = await svc.http.get("/integrators/bravo/ism/configuration/offers.csv", headers=ops)
        assert csv.status_code == 200
        assert csv.headers["content-type"].startswith("text/csv")
        assert csv.text.splitlines()[0] == "code,name,monthly_price_eur,data_gb,voice_minutes,sms,zones"
        assert "VOY-100,Voyageur 100 Go,34.9,100,unlimited,unlimited,EU;MAGHREB" in csv.text
        unknown = await svc.http.get("/integrators/bravo/ism/configuration/sims.csv", headers=ops)
        assert unknown.status_code == 422
        assert (
            await svc.http.get("/integrators/bravo/ism/configuration?version=9", headers=ops)
        ).status_code == 404

        dead = await eventually(lambda: _dead_letters(svc, ops))
        assert "terminals_table accepted without its table rows" in dead[0]["reason"]

        # Every read model rebuilds from the log to the identical state (P4)
        for name in ("ism_status", "ism_configuration_versions"):
            live = await svc.runtime.projections.snapshot(name)
            await svc.runtime.projections.rebuild(name, producer="ism-provisioning", progress=False)
            assert await svc.runtime.projections.snapshot(name) == live

        # And a set-password link that expired is refused (delivery needs the SIMs and the logo)
        await upstream.publish(DossierItemAccepted(item=DossierItem.LOGO, file=LOGO, accepted_by="ops-anne"))
        await upstream.publish(
            SimsDelivered(
                quantity=10,
                iccid_first="8933150000000001001",
                iccid_last="8933150000000001010",
                delivery_note_number="BL-2026-0043",
                delivered_by="logistics-marc",
            )
        )
        await eventually(lambda: _ready(svc, "bravo"))
        stale = await svc.http.post(
            "/integrators/bravo/ism/delivery", headers=ops, json={"expected_configuration_version": 1}
        )
        assert stale.status_code == 409
        assert (await svc.http.post("/integrators/bravo/ism/delivery", headers=ops)).status_code == 201
        delivery = (await status_of(svc, "bravo"))["delivery"]
        assert delivery["configuration_version"] == 2
        token = sign_link_token(
            svc.runtime.settings.link_signing_secret.get_secret_value(),
            SET_PASSWORD_LINK_PURPOSE,
            UUID(delivery["set_password_token_id"]),
            datetime.fromisoformat(delivery["set_password_expires_at"]),
        )
        clock.advance(timedelta(hours=73))
        expired = await svc.http.post(
            "/ism/set-password", json={"token": token, "password": "correct horse battery"}
        )
        assert expired.status_code == 422
        assert "expired" in expired.json()["detail"]


async def _configured(svc, integrator_id):
    status = await status_of(svc, integrator_id)
    return status if status.get("configuration_version") and status.get("logo_reference") else None


async def _ready(svc, integrator_id):
    status = await status_of(svc, integrator_id)
    return status if status.get("ready_for_delivery") else None


async def _at_version(svc, integrator_id, version):
    status = await status_of(svc, integrator_id)
    return status if status.get("configuration_version") == version else None


async def _with_all_tables_and_errors(svc, integrator_id):
    status = await status_of(svc, integrator_id)
    return status if status.get("errors") and not status.get("missing_tables") else None


async def _dead_letters(svc, headers):
    response = await svc.http.get("/ops/dead-letters", headers=headers)
    return response.json() if response.status_code == 200 and response.json() else None


async def _published(settings, event_type: str) -> dict:
    """Read the service's own topic from the start until `event_type` appears."""
    consumer = kafka.consumer(settings, settings.topic(topics.ISM_PROVISIONING), group_id=None)
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + budget(15)
        while asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for message in (m for msgs in batches.values() for m in msgs):
                value = json.loads(message.value)
                if value["event_type"] == event_type:
                    return value
        raise AssertionError(f"{event_type} not published")
    finally:
        await consumer.stop()
