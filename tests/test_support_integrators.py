"""support on the real stack, what issue 15 asked of it: it learns integrators from onboarding's
events (through Kafka), numbers tickets for people (`T-2026-000001`, rebuilt from the log), lets an
integrator name only its own people as requesters, suspends an approval when an unsigned
representative is declared, tells approved integrators of a release, and exports the approved list
with company data only."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chassis.clock import ManualClock
from contracts.events.common import Contact, Locale
from contracts.events.onboarding import IntegratorContactsUpdated, IntegratorRegistered
from support import app as support_app
from tests.support.upstream import Upstream
from tests.support.waiting import eventually

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACME = "0199a000-0000-7000-8000-0000000000ac"
PAUL = Contact(name="Paul Durand", email="paul@acme-caisse.example", phone="+33102030405")


def registration(*contacts: Contact) -> IntegratorRegistered:
    return IntegratorRegistered(
        legal_name="Acme Caisse SAS",
        address="1 rue de la Paix, 75002 Paris",
        siret="73282932000074",
        vat_number="FR44732829320",
        contacts=list(contacts) or [PAUL],
        locale=Locale.FR,
        customer_service_phone="3900",
        customer_service_cost_per_minute=Decimal("0.35"),
        customer_service_email="service@acme-caisse.example",
        registered_by="ops",
    )


async def ok(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


def ticket(email: str, subject: str = "Caisse bloquée") -> dict[str, Any]:
    return {
        "requester": {"name": "X", "email": email},
        "subject": subject,
        "description": "Elle ne démarre plus.",
    }


async def known_contacts(svc: Any) -> list[str]:
    row = await svc.runtime.projections.get("support_integrators", ACME)
    return [c["email"] for c in (row or {}).get("contacts", [])]


async def test_tickets_are_numbered_and_asked_only_by_the_integrators_own_people(service: Any) -> None:
    async with service(support_app, clock=ManualClock(START), run_schedules=False) as svc:
        me = svc.auth("integrator", ACME)
        # Before support knows the integrator, nobody may be named as its requester.
        unknown = await svc.http.post("/tickets", json=ticket(PAUL.email), headers=me)
        assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "requester.email"

        async with Upstream(svc.runtime.settings, ACME) as onboarding:
            await onboarding.publish(registration(), at=START)
            await eventually(lambda: known_contacts(svc), what="support learns Acme's contacts")

            # An outside address is refused, naming the field; Paul and a colleague at his domain are not.
            stranger = await svc.http.post("/tickets", json=ticket("victim@elsewhere.example"), headers=me)
            assert stranger.status_code == 422, stranger.text
            assert stranger.json()["errors"][0]["field"] == "requester.email"
            first = await ok(await svc.http.post("/tickets", json=ticket(PAUL.email), headers=me))
            second = await ok(
                await svc.http.post(
                    "/tickets", json=ticket("zoe@acme-caisse.example", "Imprimante"), headers=me
                )
            )
            # A technician registering a phone call is numbered in the same sequence.
            third = await ok(
                await svc.http.post(
                    "/tickets",
                    json={**ticket(PAUL.email, "Appel"), "integrator_id": ACME, "channel": "phone"},
                    headers=svc.auth("technician"),
                )
            )
            assert [t["ticket_number"] for t in (first, second, third)] == [
                "T-2026-000001",
                "T-2026-000002",
                "T-2026-000003",
            ]
            listed = await ok(await svc.http.get("/tickets", headers=me), 200)
            assert {(t["ticket_number"], t["integrator_name"]) for t in listed["tickets"]} == {
                ("T-2026-000001", "Acme Caisse SAS"),
                ("T-2026-000002", "Acme Caisse SAS"),
                ("T-2026-000003", "Acme Caisse SAS"),
            }

            # Contacts updated in onboarding: the old address may no longer ask, the new one may.
            carol = Contact(name="Carol", email="carol@acme-groupe.example", phone="+33102030409")
            await onboarding.publish(
                IntegratorContactsUpdated(contacts=[carol], locale=Locale.EN, updated_by="ops"), at=START
            )
            await eventually(
                lambda: _is(known_contacts(svc), [carol.email]), what="support learns the new contacts"
            )
            assert (await svc.http.post("/tickets", json=ticket(PAUL.email), headers=me)).status_code == 422
            fourth = await ok(await svc.http.post("/tickets", json=ticket(carol.email), headers=me))
            assert fourth["ticket_number"] == "T-2026-000004"

        # The numbers are in the log: the tickets' projection rebuilt from it holds the same ones.
        before = await svc.runtime.projections.list("support_tickets", order_by="key")
        await svc.runtime.projections.rebuild("support_tickets", producer="support", progress=False)
        after = await svc.runtime.projections.list("support_tickets", order_by="key")
        assert [r["ticket_number"] for r in after] == [r["ticket_number"] for r in before]
        assert sorted(r["ticket_number"] for r in after) == [f"T-2026-00000{n}" for n in range(1, 5)]


async def _is(value: Any, expected: Any) -> bool:
    return await value == expected


async def test_an_unsigned_representative_suspends_approval_and_the_export_holds_company_data_only(
    service: Any,
) -> None:
    async with service(support_app, clock=ManualClock(START), run_schedules=False) as svc:
        tech = svc.auth("technician")
        base = f"/approvals/{ACME}"
        async with Upstream(svc.runtime.settings, ACME) as onboarding:
            await onboarding.publish(registration(), at=START)
            await eventually(lambda: known_contacts(svc), what="support learns Acme")

        await ok(
            await svc.http.post(f"{base}/employees", json={"employee_name": "Anne Martin"}, headers=tech)
        )
        await ok(
            await svc.http.post(
                f"{base}/trainings",
                json={"employee_name": "Anne Martin", "session_date": "2026-02-20", "trainer": "G"},
                headers=tech,
            )
        )
        signed = await ok(
            await svc.http.post(
                f"{base}/charter-signatures",
                json={"employee_name": "Anne Martin", "signed_on": "2026-02-21", "charter_version": "v1"},
                headers=tech,
            )
        )
        assert signed["events"][-1] == "IntegratorApproved"

        # The approved list names the company; its export has company data and no employee's name.
        listed = await ok(await svc.http.get("/approved-integrators", headers=tech), 200)
        assert [i["legal_name"] for i in listed["integrators"]] == ["Acme Caisse SAS"]
        exported = (await svc.http.get("/approved-integrators.csv", headers=tech)).text
        assert exported.splitlines()[0] == "legal_name,siret,address,approved_at,with_maintenance_contract"
        assert "Acme Caisse SAS,73282932000074" in exported
        assert "Anne" not in exported and "Martin" not in exported and ACME not in exported

        # A release reaches the approved integrator.
        published = await ok(
            await svc.http.post(
                "/releases", json={"version": "3.3.0", "release_notes": "n", "certified": True}, headers=tech
            )
        )
        assert published["integrators_told"] == [ACME]

        # A new representative, neither trained nor signed: the approval is suspended at once...
        declared = await ok(
            await svc.http.post(f"{base}/employees", json={"employee_name": "Eve Nouvelle"}, headers=tech)
        )
        assert declared["events"] == ["EmployeeDeclared", "IntegratorApprovalSuspended"]
        assert (await ok(await svc.http.get("/approved-integrators", headers=tech), 200))["integrators"] == []
        again = await ok(
            await svc.http.post(
                "/releases", json={"version": "3.3.1", "release_notes": "n", "certified": True}, headers=tech
            )
        )
        assert again["integrators_told"] == []
        # ... and comes back with her training and signature, without anyone reinstating it.
        await ok(
            await svc.http.post(
                f"{base}/trainings",
                json={"employee_name": "Eve Nouvelle", "session_date": "2026-03-01", "trainer": "G"},
                headers=tech,
            )
        )
        back = await ok(
            await svc.http.post(
                f"{base}/charter-signatures",
                json={"employee_name": "Eve Nouvelle", "signed_on": "2026-03-02", "charter_version": "v1"},
                headers=tech,
            )
        )
        assert back["events"] == ["CharterSigned", "IntegratorApproved"]
        assert (
            len((await ok(await svc.http.get("/approved-integrators", headers=tech), 200))["integrators"])
            == 1
        )
