"""onboarding on the real stack: an integrator registered, its dossier submitted (good and bad files),
step 1 done, then go-live learnt from sim-logistics' and ism-provisioning's events through Kafka.

The upstream producers are played by publishing well-formed contract envelopes to their topics, so
this test does not depend on the other services being built.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from chassis import kafka
from chassis.clock import ManualClock
from contracts import topics
from contracts.envelope import Envelope
from contracts.events import DomainEvent
from contracts.events.ism_provisioning import ISMDelivered
from contracts.events.sim_logistics import (
    ProductionOrdered,
    SimsDelivered,
    SimsValidated,
    StepWentOverdue,
    TestSimsStepOpened,
)
from onboarding import app as onboarding_app
from platform_cli import samples
from tests.fixtures.onboarding.samples import (
    FOOTER,
    OFFERS,
    TERMINALS,
    banner,
    configuration_sheet,
    csv,
    image,
    logo,
    registration,
    truncated_png,
)
from tests.support.load import budget
from tests.support.signed import signed_by

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def status(svc: Any, integrator_id: str) -> dict[str, Any]:
    response = await svc.http.get(f"/integrators/{integrator_id}", headers=svc.auth("ops"))
    assert response.status_code == 200, response.text
    return response.json()


def upload(name: str, content: bytes, media: str = "application/octet-stream") -> dict[str, Any]:
    return {"file": (name, content, media)}


async def register(svc: Any, **changes: Any) -> str:
    response = await svc.http.post("/integrators", json=registration(**changes), headers=svc.auth("ops"))
    assert response.status_code == 201, response.text
    return response.json()["integrator_id"]


async def test_register_then_dossier_then_step_one_with_the_status_right_at_each_point(service: Any) -> None:
    async with service(onboarding_app, clock=ManualClock(START)) as svc:
        ops = svc.auth("ops")
        integrator_id = await register(svc)
        me = svc.auth("integrator", integrator_id)
        base = f"/integrators/{integrator_id}"

        # Registered: every dossier item missing, nothing done yet
        now = await status(svc, integrator_id)
        assert now["step"] == "registered"
        assert {v["status"] for v in now["dossier"].values()} == {"missing"}
        assert now["missing_for_go_live"][0] == "electrical_profile_created"
        assert [h["event"] for h in now["history"]] == ["IntegratorRegistered"]
        assert now["history"][0]["at"] == START.isoformat()

        # The same SIRET cannot be registered twice; a SIRET failing Luhn is refused
        duplicate = await svc.http.post("/integrators", json=registration(), headers=ops)
        assert duplicate.status_code == 422 and duplicate.json()["code"] == "duplicate_siret", duplicate.text
        bad = await svc.http.post("/integrators", json=registration(siret="73282932000075"), headers=ops)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "siret"
        # ... and an integrator user cannot register companies
        assert (await svc.http.post("/integrators", json=registration(), headers=me)).status_code == 403

        # The logo: wrong size, wrong dpi, a GIF, a truncated PNG, then the right one
        for content, name, expected in [
            (image((96, 95)), "logo.png", "96×95"),
            (logo(dpi=72), "logo.png", "72×72 dpi"),
            (image((95, 95), fmt="GIF", dpi=None), "logo.gif", "GIF images are not accepted"),
            (truncated_png(), "logo.png", "damaged or truncated"),
        ]:
            refused = await svc.http.post(f"{base}/dossier/logo", files=upload(name, content), headers=me)
            assert refused.status_code == 422, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert expected in refused.json()["errors"][0]["reason"]
        assert (await status(svc, integrator_id))["dossier"]["logo"]["status"] == "missing"
        good = await svc.http.post(f"{base}/dossier/logo", files=upload("logo.png", logo()), headers=me)
        assert good.status_code == 201, good.text
        logo_ref = good.json()["file"]
        assert (await status(svc, integrator_id))["dossier"]["logo"]["status"] == "submitted"
        downloaded = await svc.http.get(f"{base}/dossier/logo/file", headers=me)
        assert downloaded.status_code == 200 and downloaded.content == logo()

        # The footer banner: its text without a SIRET is refused, with it accepted
        no_siret = FOOTER.replace("SIRET 732 829 320 00074 - ", "")
        refused = await svc.http.post(
            f"{base}/dossier/footer_banner",
            files=upload("b.png", banner()),
            data={"footer_text": no_siret},
            headers=me,
        )
        assert refused.status_code == 422 and "SIRET" in refused.json()["detail"], refused.text
        submitted = await svc.http.post(
            f"{base}/dossier/footer_banner",
            files=upload("b.png", banner()),
            data={"footer_text": FOOTER},
            headers=me,
        )
        assert submitted.status_code == 201, submitted.text

        # Tables: a duplicate offer code is reported with its row and column; good tables pass
        twice = [*OFFERS, OFFERS[1]]
        refused = await svc.http.post(
            f"{base}/dossier/offers_table", files=upload("offers.csv", csv(twice, ";")), headers=me
        )
        assert refused.status_code == 422
        assert refused.json()["errors"] == [
            {
                "field": "file",
                "row": 4,
                "column": "code",
                "value": "ESS-5",
                "reason": "duplicate 'ESS-5' (already on row 2)",
            }
        ]
        for item, rows in [("offers_table", OFFERS), ("terminals_table", TERMINALS)]:
            ok = await svc.http.post(
                f"{base}/dossier/{item}", files=upload("t.csv", csv(rows, ";")), headers=me
            )
            assert ok.status_code == 201 and ok.json()["rows"] == len(rows) - 1, ok.text

        # ARCEP and the invoice sender email are declared values
        ok = await svc.http.post(
            f"{base}/dossier/arcep_declaration", data={"sent_on": "2026-02-27"}, headers=me
        )
        assert ok.status_code == 201, ok.text
        bad = await svc.http.post(
            f"{base}/dossier/invoice_sender_email", data={"email": "facturation"}, headers=me
        )
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "email"
        ok = await svc.http.post(
            f"{base}/dossier/invoice_sender_email",
            data={"email": "facturation@telecom-exemple.fr"},
            headers=me,
        )
        assert ok.status_code == 201, ok.text

        # Ops review: the integrator cannot accept its own items; ops accept and reject with a reason
        assert (await svc.http.post(f"{base}/dossier/logo/acceptance", headers=me)).status_code == 403
        for item in ("logo", "footer_banner", "arcep_declaration", "offers_table"):
            accepted = await svc.http.post(f"{base}/dossier/{item}/acceptance", headers=ops)
            assert accepted.status_code == 201, accepted.text
        rejected = await svc.http.post(
            f"{base}/dossier/terminals_table/rejection",
            json={"reason": "prices must include VAT"},
            headers=ops,
        )
        assert rejected.status_code == 201
        again = await svc.http.post(f"{base}/dossier/logo/acceptance", headers=ops)
        assert again.status_code == 409
        now = await status(svc, integrator_id)
        assert now["dossier"]["logo"]["status"] == "accepted"
        assert now["dossier"]["logo"]["file"]["sha256"] == logo_ref["sha256"]
        assert now["dossier"]["terminals_table"] == {
            **now["dossier"]["terminals_table"],
            "status": "rejected",
            "reason": "prices must include VAT",
        }
        assert "dossier.invoice_sender_email" in now["missing_for_go_live"]
        assert "dossier.logo" not in now["missing_for_go_live"]

        # The accepted table travels with its rows (ism-provisioning configures from them)
        history = await svc.runtime.read_stream(f"integrator-{integrator_id}")
        [offers] = [
            r.event
            for r in history
            if r.envelope.event_type == "DossierItemAccepted" and r.event.item.value == "offers_table"
        ]
        # ... in canonical form: the decimal point and `unlimited`, whatever the file said
        canonical = [
            [c.replace("9,99", "9.99").replace("illimité", "unlimited") for c in r] for r in OFFERS[1:]
        ]
        assert offers.table is not None and offers.table.rows == canonical

        # Step 1: the sheet cannot come back before it is sent; sent; an unfilled one refused; received
        sheet = upload("profil.xlsx", configuration_sheet())
        early = await svc.http.post(f"{base}/dossier/electrical_profile_sheet", files=sheet, headers=me)
        assert early.status_code == 409, early.text
        sent = await svc.http.post(f"{base}/configuration-sheet", headers=ops)
        assert sent.status_code == 201
        assert (await status(svc, integrator_id))["step"] == "electrical_profile"
        unfilled = await svc.http.post(
            f"{base}/dossier/electrical_profile_sheet",
            files=upload("p.xlsx", configuration_sheet(False)),
            headers=me,
        )
        assert unfilled.status_code == 422
        assert unfilled.json()["errors"][0] | {"reason": ""} == {
            "field": "file",
            "row": 3,
            "column": "B",
            "reason": "",
        }
        received = await svc.http.post(f"{base}/dossier/electrical_profile_sheet", files=sheet, headers=me)
        assert received.json()["events"] == ["DossierItemSubmitted", "ProfileReceived"], received.text
        now = await status(svc, integrator_id)
        assert now["profile_received"] and now["step"] == "electrical_profile"

        created = await svc.http.post(
            f"{base}/electrical-profile", json={"profile_reference": "EP-042"}, headers=ops
        )
        assert created.json()["events"] == ["DossierItemAccepted", "ElectricalProfileCreated"], created.text
        now = await status(svc, integrator_id)
        assert now["step"] == "test_sims" and now["profile_reference"] == "EP-042"
        assert now["dossier"]["electrical_profile_sheet"]["status"] == "accepted"
        assert now["missing_for_go_live"][:3] == ["sims_validated", "sims_delivered", "ism_delivered"]

        # Another integrator learns nothing: 404 as if it did not exist, on every read and write
        other = svc.auth("integrator", str(uuid4()))
        for method, path in [
            ("GET", base),
            ("GET", f"{base}/dossier/logo/file"),
            ("POST", f"{base}/dossier/logo"),
        ]:
            response = await svc.http.request(
                method, path, headers=other, files=upload("l.png", logo()) if method == "POST" else None
            )
            assert response.status_code == 404, (path, response.text)
            assert "Télécom" not in response.text and integrator_id not in response.text
        assert (await svc.http.get("/integrators", headers=other)).status_code == 403

        # The status read model rebuilds from the log to the identical state (P4)
        for name in ("onboarding_status", "integrator_sirets"):
            live = await svc.runtime.projections.snapshot(name)
            await svc.runtime.projections.rebuild(name, producer="onboarding", progress=False)
            assert await svc.runtime.projections.snapshot(name) == live


async def test_uploads_over_the_limit_are_refused_early(service: Any) -> None:
    async with service(onboarding_app, clock=ManualClock(START), max_upload_bytes=2000) as svc:
        integrator_id = await register(svc)
        big = upload("logo.png", b"\x89PNG" + b"0" * 3000)
        response = await svc.http.post(
            f"/integrators/{integrator_id}/dossier/logo",
            files=big,
            headers=svc.auth("integrator", integrator_id),
        )
        assert response.status_code == 413, response.text
        assert (await status(svc, integrator_id))["dossier"]["logo"]["status"] == "missing"


async def test_registration_refusals_list_every_field_in_the_callers_language(service: Any) -> None:
    async with service(onboarding_app, clock=ManualClock(START)) as svc:
        ops = svc.auth("ops")
        # An address email-validator refuses (as the event's EmailStr does): 422 naming the field,
        # not a failure inside the domain.
        bad_email = await svc.http.post(
            "/integrators", json=registration(customer_service_email="a..b@example.com"), headers=ops
        )
        assert bad_email.status_code == 422, bad_email.text
        assert [e["field"] for e in bad_email.json()["errors"]] == ["customer_service_email"]

        await register(svc)
        # La Poste's head office: python-stdnum's rule, not a hand-written digit sum that refused it.
        await register(svc, siret="356 000 000 00048", vat_number="FR39356000000")

        # The SIRET is taken AND the VAT key is wrong AND the phone is not one: every problem listed,
        # the VAT number no longer hidden behind duplicate_siret.
        body = registration(vat_number="FR45732829320", customer_service_phone="12345")
        french = await svc.http.post("/integrators", json=body, headers=ops)
        assert french.status_code == 422, french.text
        problem = french.json()
        assert {(e["field"], e.get("code")) for e in problem["errors"]} == {
            ("vat_number", None),
            ("customer_service_phone", None),
            ("siret", "duplicate_siret"),
        }
        # No Accept-Language: French, the integrators' language; field names and codes unchanged.
        assert problem["title"] == "Refusé" and french.headers["content-language"] == "fr"
        assert problem["detail"].startswith("la clé de TVA 45 ne correspond pas au SIREN"), problem
        assert problem["detail"].endswith("(et 2 autre(s))")
        english = await svc.http.post(
            "/integrators", json=body, headers={**ops, "Accept-Language": "en-GB,en;q=0.9"}
        )
        assert english.json()["title"] == "Refused" and english.headers["content-language"] == "en"
        assert english.json()["detail"].startswith("the VAT key 45 does not match the SIREN")
        assert english.json()["errors"] == problem["errors"]
        # A request the API model refuses, and an unknown integrator: French too.
        invalid = await svc.http.post("/integrators", json={"siret": 1}, headers=ops)
        assert invalid.json()["title"] == "Requête invalide" and invalid.json()["detail"].startswith(
            "invalide : "
        )
        unknown = await svc.http.get(f"/integrators/{uuid4()}", headers=ops)
        assert (unknown.status_code, unknown.json()["detail"]) == (404, "intégrateur inconnu")


#: A registration's round trips to PostgreSQL (issue 18: <= 15; it was ~50): the SIRET's view row, the
#: new integrator's stream, the view rows its event changes, and one statement writing it all.
REGISTRATION_ROUND_TRIPS = 4
#: A plain load-decide-append command of onboarding: the stream, the view rows, one write.
PLAIN_COMMAND_ROUND_TRIPS = 3


async def test_two_concurrent_registrations_of_one_siret_register_it_once(service: Any) -> None:
    # Nothing else on the pool (relay, reactions, schedules, metrics): the round trips counted are
    # the registrations' own.
    quiet = {"run_relay": False, "run_reactions": False, "run_schedules": False, "metrics_enabled": False}
    async with service(onboarding_app, clock=ManualClock(START), **quiet) as svc:
        ops = svc.auth("ops")
        # Both read the SIRET free and decide to register it; the second's write finds the row
        # taken, decides again and is refused as a duplicate, not answered 409.
        for _ in range(3):
            siret = samples.siret()
            answers = await asyncio.gather(
                *(
                    svc.http.post("/integrators", json=samples.registration(siret), headers=ops)
                    for _ in range(2)
                )
            )
            assert sorted(a.status_code for a in answers) == [201, 422], [a.text for a in answers]
            refused = next(a for a in answers if a.status_code == 422)
            assert [e.get("code") for e in refused.json()["errors"]] == ["duplicate_siret"]
            registered = next(a for a in answers if a.status_code == 201).json()["integrator_id"]
            holder = await svc.runtime.projections.get("integrator_sirets", siret)
            assert holder == {"siret": siret, "integrator_id": registered}
        rows = await svc.runtime.projections.list("onboarding_status")
        assert len(rows) == 3

        rt = svc.runtime
        before = rt.round_trips.total
        integrator_id = await register(svc, **samples.registration(samples.siret()))
        print(f"\nround trips per registration (warm): {rt.round_trips.total - before}")
        assert rt.round_trips.total - before == REGISTRATION_ROUND_TRIPS
        # A plain command (the stream, the view row it changes, one write), warm: sent again.
        sheet = f"/integrators/{integrator_id}/configuration-sheet"
        assert (await svc.http.post(sheet, headers=ops)).status_code == 201
        before = rt.round_trips.total
        assert (await svc.http.post(sheet, headers=ops)).status_code == 201
        print(f"round trips per plain command (warm): {rt.round_trips.total - before}")
        assert rt.round_trips.total - before == PLAIN_COMMAND_ROUND_TRIPS


async def test_resources_are_downloadable_templates(service: Any) -> None:
    async with service(onboarding_app, clock=ManualClock(START)) as svc:
        me = svc.auth("integrator", "any")
        listed = (await svc.http.get("/resources", headers=me)).json()
        names = {r["name"] for r in listed}
        assert {"cgv-example", "contract-template", "competitive-benchmark"} <= names
        for resource in listed:
            if resource["name"] in ("cgv-example", "contract-template", "competitive-benchmark"):
                document = await svc.http.get(resource["href"], headers=me)
                assert document.status_code == 200 and "odèle" in document.text  # says it is a template
        assert (await svc.http.get("/resources/secret", headers=me)).status_code == 404
        assert (await svc.http.get("/resources")).status_code == 401


async def test_table_templates_download_and_are_accepted_once_filled(service: Any) -> None:
    async with service(onboarding_app, clock=ManualClock(START)) as svc:
        integrator_id = await register(svc)
        me = svc.auth("integrator", integrator_id)
        listed = {r["name"]: r for r in (await svc.http.get("/resources", headers=me)).json()}
        for item in ("offers_table", "tariffs_metropolitan", "tariffs_international", "terminals_table"):
            for fmt, magic in (("xlsx", b"PK"), ("csv", b"\xef\xbb\xbf")):
                name = f"{item}-template.{fmt}"
                template = await svc.http.get(listed[name]["href"], headers=me)
                assert template.status_code == 200 and template.content.startswith(magic), name
                # The example row the template carries is a row the check accepts.
                submitted = await svc.http.post(
                    f"/integrators/{integrator_id}/dossier/{item}",
                    files=upload(name, template.content),
                    headers=me,
                )
                assert submitted.status_code == 201, submitted.text
                assert submitted.json()["rows"] == 1
        # The upload's API description publishes the columns and their French and English headers.
        openapi = (await svc.http.get("/openapi.json")).json()
        described = openapi["paths"]["/integrators/{integrator_id}/dossier/{item}"]["post"]["description"]
        assert "`voice_minutes`" in described and "`minutes voix`" in described and "long form" in described


async def test_tables_in_french_shapes_are_accepted_and_a_bad_one_lists_every_problem(service: Any) -> None:
    async with service(onboarding_app, clock=ManualClock(START)) as svc:
        integrator_id = await register(svc)
        me = svc.auth("integrator", integrator_id)
        base = f"/integrators/{integrator_id}/dossier"
        # Tarifs internationaux, one row per destination × service, `;`, decimal commas, BOM, a comment
        long_form = (
            "Zone;Pays;Service;Unité;Prix (€);Commentaire\r\n"
            "EU;Allemagne;Voix;minute;0,15 €;\r\nEU;Allemagne;SMS;sms;0,10;\r\nEU;Allemagne;Data;Mo;0,05;hors forfait\r\n"
        ).encode("utf-8-sig")
        accepted = await svc.http.post(
            f"{base}/tariffs_international", files=upload("Tarifs internationaux.csv", long_form), headers=me
        )
        assert accepted.status_code == 201, accepted.text
        assert (accepted.json()["rows"], accepted.json()["ignored_columns"]) == (1, ["Commentaire"])

        bad = "Marque;Modèle;Couleur\r\nApple;iPhone 15;noir\r\nApple;iPhone 15;blanc\r\n".encode("cp1252")
        refused = await svc.http.post(
            f"{base}/terminals_table", files=upload("terminaux.csv", bad), headers=me
        )
        assert refused.status_code == 422, refused.text
        problems = [(e["row"], e["column"], e.get("value")) for e in refused.json()["errors"]]
        # The missing price, the unrecognised column it most likely is, and the duplicate row: all at once.
        assert problems == [(1, "price_eur", None), (1, "Couleur", None), (3, "Modèle", "iPhone 15")]
        assert "'Couleur'" in refused.json()["errors"][0]["reason"]  # the columns found...
        assert "'prix'" in refused.json()["errors"][0]["reason"]  # ...and the names expected
        assert refused.json()["detail"].startswith("terminals_table : colonne 'price_eur' absente")  # French


# --- go-live through Kafka ---------------------------------------------------------------------------


class Upstream:
    """Plays sim-logistics and ism-provisioning: publishes their events as their relays would."""

    def __init__(self, settings: Any, integrator_id: str) -> None:
        self.settings = settings
        self.integrator_id = integrator_id
        self.versions: dict[str, int] = {}
        self.producer = kafka.producer(settings)

    async def __aenter__(self) -> Upstream:
        await self.producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
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
        await self.send(envelope)
        return envelope

    async def send(self, envelope: Envelope) -> None:
        value, key = envelope.model_dump_json().encode(), self.integrator_id.encode()
        await self.producer.send_and_wait(
            self.settings.topic(topics.BY_SERVICE[envelope.producer]),
            value=value,
            key=key,
            headers=signed_by(envelope.producer, key, value, envelope.event_type),
        )


async def eventually(probe: Any, within: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + budget(within)
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached in time; last: {result!r}")
        await asyncio.sleep(0.05)


async def test_go_live_once_every_condition_holds_learnt_through_kafka(service: Any) -> None:
    clock = ManualClock(START)
    async with service(onboarding_app, clock=clock) as svc:
        ops = svc.auth("ops")
        integrator_id = await register(svc)
        base = f"/integrators/{integrator_id}"
        me = svc.auth("integrator", integrator_id)
        # Step 1 and the go-live dossier items, the logo left for last
        await svc.http.post(f"{base}/configuration-sheet", headers=ops)
        sheet = upload("profil.xlsx", configuration_sheet())
        assert (
            await svc.http.post(f"{base}/dossier/electrical_profile_sheet", files=sheet, headers=me)
        ).is_success
        assert (
            await svc.http.post(f"{base}/electrical-profile", json={"profile_reference": "EP-7"}, headers=ops)
        ).is_success
        submissions = [
            ("footer_banner", {"files": upload("b.png", banner()), "data": {"footer_text": FOOTER}}),
            ("arcep_declaration", {"data": {"sent_on": "2026-03-01"}}),
            ("invoice_sender_email", {"data": {"email": "facturation@telecom-exemple.fr"}}),
            ("logo", {"files": upload("logo.png", logo())}),
        ]
        for item, parts in submissions:
            assert (await svc.http.post(f"{base}/dossier/{item}", headers=me, **parts)).status_code == 201
        for item in ("footer_banner", "arcep_declaration", "invoice_sender_email"):
            assert (await svc.http.post(f"{base}/dossier/{item}/acceptance", headers=ops)).status_code == 201

        async with Upstream(svc.runtime.settings, integrator_id) as upstream:
            due = START + timedelta(weeks=2)
            await upstream.publish(TestSimsStepOpened(profile_reference="EP-7", due_at=due))
            overdue = await upstream.publish(StepWentOverdue(step="test_sims", due_at=due, detected_at=due))
            await upstream.send(overdue)  # delivered twice: noted once

            async def overdue_listed() -> list[dict[str, Any]]:
                response = await svc.http.get("/integrators", params={"overdue": "true"}, headers=ops)
                return response.json()

            [listed] = await eventually(overdue_listed)
            assert listed["integrator_id"] == integrator_id and listed["step"] == "test_sims"
            assert listed["due_at"] == {"test_sims": due.isoformat()}
            in_step = await svc.http.get("/integrators", params={"step": "test_sims"}, headers=ops)
            assert [r["integrator_id"] for r in in_step.json()] == [integrator_id]
            none = await svc.http.get("/integrators", params={"step": "production"}, headers=ops)
            assert none.json() == []

            production_due = START + timedelta(weeks=6)
            await upstream.publish(SimsValidated(validated_by="ops-anne", late_by_seconds=3600))
            await upstream.publish(
                ProductionOrdered(
                    quantity=500,
                    delivery_address="12 rue de la Paix, 75002 Paris",
                    artwork_reference="a" * 64,
                    due_at=production_due,
                    ordered_by="integrator",
                )
            )
            await upstream.publish(
                SimsDelivered(
                    quantity=500,
                    iccid_first="8933150000000000001",
                    iccid_last="8933150000000000500",
                    delivery_note_number="BL-1",
                    delivered_by="logistics",
                )
            )
            delivered = await upstream.publish(
                ISMDelivered(
                    platform_url="https://ism.example.invalid/accounts/1",
                    account_id="1",
                    logo_reference="b" * 64,
                    configuration_version=1,
                    set_password_token_id=uuid4(),
                    set_password_expires_at=START + timedelta(days=3),
                    delivered_by="ops-anne",
                )
            )

            async def both_deliveries_noted() -> dict[str, Any] | None:
                now = await status(svc, integrator_id)
                # The SIMs' delivery comes on another topic than the ISM's: either may be noted first.
                return now if {"ism_delivered", "sims_delivered"} <= set(now["milestones"]) else None

            now = await eventually(both_deliveries_noted)
            # Every upstream condition holds, but the logo is not accepted yet: not live
            assert now["step"] == "ism" and not now["live"] and not now["overdue"]
            assert now["missing_for_go_live"] == ["dossier.logo"]
            assert now["due_at"] == {"test_sims": due.isoformat(), "production": production_due.isoformat()}

            accepted = await svc.http.post(f"{base}/dossier/logo/acceptance", headers=ops)
            assert accepted.json()["events"] == ["DossierItemAccepted", "IntegratorWentLive"]
            # A redelivery after go-live changes nothing: checked once it is handled, not after a guess.
            handled = sum(runner.processed for runner in svc.runtime.runners)
            await upstream.send(delivered)

            async def redelivery_handled() -> bool:
                return sum(runner.processed for runner in svc.runtime.runners) > handled

            await eventually(redelivery_handled)

        now = await status(svc, integrator_id)
        assert now["live"] and now["step"] == "live" and now["missing_for_go_live"] == []
        events = [h["event"] for h in now["history"]]
        assert events.count("IntegratorWentLive") == 1
        assert events.count("OnboardingStepWentOverdue") == 1
        assert events.count("OnboardingMilestoneNoted") == 5


async def test_the_integrators_board_pages_and_filters_on_what_waits_on_whom(service: Any) -> None:
    """The console's board: what is pending on whom, filtered in SQL; pages that do not overlap."""
    async with service(onboarding_app, clock=ManualClock(START)) as svc:
        ops = svc.auth("ops")
        fresh = await register(svc, **samples.registration(samples.siret()))
        sent = await register(svc, **samples.registration(samples.siret()))
        await svc.http.post(f"/integrators/{sent}/configuration-sheet", headers=ops)
        me = svc.auth("integrator", sent)
        logo_sent = upload("logo.png", logo())
        assert (
            await svc.http.post(f"/integrators/{sent}/dossier/logo", files=logo_sent, headers=me)
        ).is_success

        async def board(**params: Any) -> list[dict[str, Any]]:
            response = await svc.http.get("/integrators", params=params, headers=ops)
            assert response.status_code == 200, response.text
            return response.json()

        def ids(rows: list[dict[str, Any]]) -> list[str]:
            return [r["integrator_id"] for r in rows]

        [first] = await board(limit=1)
        [second] = await board(limit=1, offset=1)
        assert [first["integrator_id"], second["integrator_id"]] == [fresh, sent]
        assert await board(limit=1, offset=2) == []
        # A fresh registration waits on the vendor (the configuration sheet); the other waits on the
        # integrator (its sheet, its dossier) and on the vendor (the logo to review).
        assert {"what": "configuration_sheet", "on": "vendor"} in first["pending"]
        assert {"what": "review:logo", "on": "vendor"} in second["pending"]
        assert {"what": "electrical_profile_sheet", "on": "integrator"} in second["pending"]
        assert ids(await board(waiting_on="vendor")) == [fresh, sent]
        # Both wait on their integrator too: the go-live dossier items still to submit.
        assert ids(await board(waiting_on="integrator")) == [fresh, sent]
        assert {"what": "submit:logo", "on": "integrator"} in first["pending"]
        assert ids(await board(integrator_id=[sent])) == [sent]
        assert first["deadline"] is None and first["due_soon"] is False
        # The logo accepted, nothing of that integrator waits on the vendor any more.
        assert (await svc.http.post(f"/integrators/{sent}/dossier/logo/acceptance", headers=ops)).is_success
        assert ids(await board(waiting_on="vendor")) == [fresh]

        # A submitted table reads back as it was parsed, for the reviewer's page (not a download).
        sent_table = await svc.http.post(
            f"/integrators/{sent}/dossier/offers_table", files=upload("t.csv", csv(OFFERS, ";")), headers=me
        )
        assert sent_table.status_code == 201, sent_table.text
        table = await svc.http.get(
            f"/integrators/{sent}/dossier/offers_table/table", params={"limit": 1}, headers=ops
        )
        assert table.status_code == 200, table.text
        assert table.json()["total_rows"] == len(OFFERS) - 1 and len(table.json()["rows"]) == 1
        assert len(table.json()["columns"]) == len(table.json()["rows"][0])
        none = await svc.http.get(f"/integrators/{sent}/dossier/terminals_table/table", headers=ops)
        assert none.status_code == 404
        other = svc.auth("integrator", fresh)
        theirs = await svc.http.get(f"/integrators/{sent}/dossier/offers_table/table", headers=other)
        assert theirs.status_code == 404
        assert (
            await svc.http.get("/integrators", params={"waiting_on": "nobody"}, headers=ops)
        ).status_code == 422
