"""support on the real stack (PostgreSQL + broker, in-process service, manual clock).

A ticket's whole life as seed 004 tells it: a request arrives by email and is registered before any
answer, qualified, taken, declared on the tracker (with a reminder while it waits), resolved with
its procedure, closed with a survey, rated once through the signed link — then the statistics in
support hours, and the ticket projection rebuilt from the log identical to the live one.
Then approval, releases and installation reports.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from chassis.clock import ManualClock
from chassis.links import sign_link_token
from support import app as support_app
from support.domain.installations import NF525_CHECKLIST
from tests.support.upstream import Upstream
from tests.support.waiting import eventually
from tests.test_support_integrators import registration

# Monday 2 March 2026, 09:00 UTC = 10:00 in Paris (support hours)
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACME = "0199a000-0000-7000-8000-0000000000ac"
OTHER = "0199a000-0000-7000-8000-0000000000ff"


def survey_link_token(svc: Any, token_id: str, expires_at: str) -> str:
    """What the notifier puts in the survey email: the same chassis function, the same secret."""
    return sign_link_token(
        svc.runtime.settings.link_signing_secret.get_secret_value(),
        "survey",
        UUID(token_id),
        datetime.fromisoformat(expires_at),
    )


def old_format_link(svc: Any, purpose: str, token_id: str, expires_at: str) -> str:
    """A link as the notifier signed them before the JWT format (chassis.links as it was)."""
    secret = svc.runtime.settings.link_signing_secret.get_secret_value()
    expiry = int(datetime.fromisoformat(expires_at).timestamp())
    mac = hmac.new(secret.encode(), f"{purpose}|{token_id}|{expiry}".encode(), hashlib.sha256).digest()
    raw_id, raw_mac = (base64.urlsafe_b64encode(b).rstrip(b"=").decode() for b in (UUID(token_id).bytes, mac))
    return f"{raw_id}.{expiry}.{raw_mac}"


async def ok(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


async def test_a_ticket_from_an_email_to_its_rating_then_statistics_and_a_rebuild(service: Any) -> None:
    clock = ManualClock(START)
    async with service(support_app, clock=clock, tracker_reminder_check_seconds=0.05) as svc:
        tech = svc.auth("technician")
        me = svc.auth("integrator", ACME)
        requester = {"name": "Paul Durand", "email": "paul@acme-caisse.example"}

        # An email arrives: the technician registers it before answering anything
        opened = await ok(
            await svc.http.post(
                "/tickets",
                json={
                    "integrator_id": ACME,
                    "channel": "email",
                    "requester": requester,
                    "subject": "Ticket Z manquant",
                    "description": "Le ticket Z du 1er mars n'est pas sorti à la clôture.",
                },
                headers=tech,
            )
        )
        ticket_id = opened["ticket_id"]
        assert opened["events"] == ["TicketOpened"]
        base = f"/tickets/{ticket_id}"

        # Qualified, then taken at 11:30 Paris (1 h 30 of support hours after the opening)
        await ok(
            await svc.http.post(
                f"{base}/qualification", json={"category": "incident", "severity": "high"}, headers=tech
            )
        )
        clock.advance(timedelta(hours=1, minutes=30))
        taken = await ok(await svc.http.post(f"{base}/assignment", json={}, headers=tech))
        assert taken["events"] == ["TicketTaken"]

        # A message to the integrator and an internal note
        await ok(await svc.http.post(f"{base}/messages", json={"body": "Nous regardons."}, headers=tech))
        await ok(
            await svc.http.post(
                f"{base}/messages", json={"body": "bug in Z export?", "internal": True}, headers=tech
            )
        )
        # The integrator cannot write an internal note, and never sees one
        refused = await svc.http.post(f"{base}/messages", json={"body": "x", "internal": True}, headers=me)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "internal"
        mine = await ok(await svc.http.get(base, headers=me), 200)
        assert [m["body"] for m in mine["messages"]] == ["Nous regardons."]
        staff_view = await ok(await svc.http.get(base, headers=tech), 200)
        assert [m["internal"] for m in staff_view["messages"]] == [False, True]
        # ...and another integrator does not even learn the ticket exists
        assert (await svc.http.get(base, headers=svc.auth("integrator", OTHER))).status_code == 404

        # Declared on the tracker: after 5 business days waiting, a reminder is recorded
        await ok(
            await svc.http.post(
                f"{base}/tracker-declaration", json={"tracker_reference": "TRK-4242"}, headers=tech
            )
        )
        clock.advance(timedelta(days=7))  # Monday 9 March, 11:30 Paris: 5 business days later
        history: list[str] = []
        for _ in range(100):
            history = [h["event"] for h in (await ok(await svc.http.get(base, headers=tech), 200))["history"]]
            if "TicketStillWaitingOnTracker" in history:
                break
            await _sleep(0.05)
        assert history.count("TicketStillWaitingOnTracker") == 1, history

        # Resolution needs the procedure applied
        empty = await svc.http.post(f"{base}/resolution", json={"resolution_procedure": "  "}, headers=tech)
        assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "resolution_procedure"
        clock.set(datetime(2026, 3, 9, 16, 0, tzinfo=UTC))  # 17:00 Paris
        await ok(
            await svc.http.post(
                f"{base}/resolution",
                json={"resolution_procedure": "Correctif 3.2.1 installé, Z régénéré."},
                headers=tech,
            )
        )
        closed = await ok(await svc.http.post(f"{base}/closing", headers=tech))
        assert closed["events"] == ["TicketClosed"]

        # The survey link, built as the notifier builds it, answered once
        file = await ok(await svc.http.get(base, headers=tech), 200)
        assert file["status"] == "closed" and file["resolution_procedure"].startswith("Correctif")
        assert "token_id" not in file["surveys"][0]  # the API never hands out a link's token id
        [survey] = (await svc.runtime.projections.get("support_tickets", ticket_id))["surveys"]
        token = survey_link_token(svc, survey["token_id"], survey["expires_at"])
        question = await ok(await svc.http.get(f"/surveys/{token}"), 200)
        assert question["answered"] is False and question["ticket"]["subject"] == "Ticket Z manquant"
        rated = await ok(await svc.http.post(f"/surveys/{token}", json={"rating": 4, "comment": "Rapide"}))
        assert rated["events"] == ["SatisfactionRated"]
        again = await svc.http.post(f"/surveys/{token}", json={"rating": 1})
        assert again.status_code == 409 and again.json()["code"] == "survey_already_answered"
        forged = await svc.http.post(f"/surveys/{token[:-3]}AAA", json={"rating": 5})
        assert forged.status_code == 422 and forged.json()["code"] == "invalid_token"

        # A closed ticket stays readable, by the integrator too
        assert (await ok(await svc.http.get(base, headers=me), 200))["surveys"][0]["rating"] == 4

        # Statistics right afterwards, in support hours
        figures = await ok(await svc.http.get("/statistics", headers=tech), 200)
        overall = figures["overall"]
        assert overall["tickets"] == 1
        assert overall["time_to_take"]["average_business_hours"] == 1.5
        # Mon 2 March 10:00 -> Mon 9 March 17:00 Paris: 6 h on the 2nd, 7 h × 4 days, 6 h on the 9th
        assert overall["time_to_resolve"]["average_business_hours"] == 6 + 28 + 6
        assert overall["satisfaction"] == {
            "surveys_sent": 1,
            "answers": 1,
            "response_rate": 1.0,
            "average_rating": 4,
        }
        assert figures["by_status"]["closed"]["tickets"] == 1
        assert figures["by_category"]["incident"]["tickets"] == 1
        assert figures["by_integrator"][ACME]["tickets"] == 1
        later = await ok(
            await svc.http.get("/statistics", params={"since": "2026-03-03T00:00:00+01:00"}, headers=tech),
            200,
        )
        assert later["overall"]["tickets"] == 0
        assert (await svc.http.get("/statistics", headers=me)).status_code == 403
        assert (await svc.http.get("/statistics", headers=svc.auth("ops"))).status_code == 200

        # The ticket projection (and the survey lookup) rebuilt from the log identical to the live ones
        for name in ("support_tickets", "support_surveys"):
            live = await svc.runtime.projections.snapshot(name)
            result = await svc.runtime.projections.rebuild(name, producer="support", progress=False)
            assert result["rows"] == 1
            assert await svc.runtime.projections.snapshot(name) == live, name

        # Reopened by the integrator: back in progress with its technician
        await ok(await svc.http.post(f"{base}/reopening", json={"reason": "Le Z manque encore"}, headers=me))
        assert (await ok(await svc.http.get(base, headers=me), 200))["status"] == "in_progress"

        # Resolved and closed again: a new survey; unanswered past SURVEY_TTL_DAYS, its link has expired
        await ok(
            await svc.http.post(
                f"{base}/resolution", json={"resolution_procedure": "Base Z réindexée."}, headers=tech
            )
        )
        await ok(await svc.http.post(f"{base}/closing", headers=tech))
        second = (await svc.runtime.projections.get("support_tickets", ticket_id))["surveys"][-1]
        assert second["token_id"] != survey["token_id"]
        # A link mailed before links became JWTs is honoured until it expires (then refused as expired)
        old_link = old_format_link(svc, "survey", second["token_id"], second["expires_at"])
        assert (await ok(await svc.http.get(f"/surveys/{old_link}"), 200))["answered"] is False
        clock.advance(timedelta(days=14))
        old_late = await svc.http.get(f"/surveys/{old_link}")
        assert old_late.status_code == 422 and old_late.json()["code"] == "expired_token"
        late = await svc.http.post(
            f"/surveys/{survey_link_token(svc, second['token_id'], second['expires_at'])}", json={"rating": 5}
        )
        assert late.status_code == 422 and late.json()["code"] == "expired_token"
        final = await ok(await svc.http.get("/statistics", headers=tech), 200)
        assert final["overall"]["satisfaction"]["response_rate"] == 0.5


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def test_integrator_opens_its_own_ticket_through_the_api(service: Any) -> None:
    async with service(support_app, clock=ManualClock(START), run_relay=False, run_schedules=False) as svc:
        me = svc.auth("integrator", ACME)
        body = {
            "requester": {"name": "Paul", "email": "paul@acme-caisse.example"},
            "subject": "Q",
            "description": "?",
        }
        # Support learns Acme and its contacts from onboarding (an integrator names its own people).
        async with Upstream(svc.runtime.settings, ACME) as onboarding:
            await onboarding.publish(registration(), at=START)
        await eventually(
            lambda: svc.runtime.projections.get("support_integrators", ACME), what="support learns Acme"
        )
        opened = await ok(await svc.http.post("/tickets", json={**body, "channel": "phone"}, headers=me))
        mine = await ok(await svc.http.get(f"/tickets/{opened['ticket_id']}", headers=me), 200)
        assert (mine["integrator_id"], mine["channel"]) == (ACME, "api")
        assert (
            await svc.http.post("/tickets", json={**body, "integrator_id": OTHER}, headers=me)
        ).status_code == 404
        listed = await ok(await svc.http.get("/tickets", headers=svc.auth("integrator", OTHER)), 200)
        assert listed["tickets"] == []
        # Asking for another integrator's tickets is refused, not answered with one's own.
        other = await svc.http.get("/tickets", params={"integrator_id": OTHER}, headers=me)
        assert other.status_code == 404, other.text
        own = await ok(await svc.http.get("/tickets", params={"integrator_id": ACME}, headers=me), 200)
        assert [t["ticket_id"] for t in own["tickets"]] == [opened["ticket_id"]]


async def test_tickets_opened_at_once_get_distinct_consecutive_numbers(service: Any) -> None:
    """Four openings at once read the same counter row: each one that loses the race conflicts and
    numbers again (no transaction, no lock), so no number is given twice or skipped."""
    import asyncio

    async with service(support_app, clock=ManualClock(START), run_relay=False, run_schedules=False) as svc:
        tech = svc.auth("technician")

        async def opening(n: int) -> Any:
            body = {
                "integrator_id": ACME,
                "channel": "phone",
                "requester": {"name": "Paul", "email": "paul@acme-caisse.example"},
                "subject": f"Q{n}",
                "description": "?",
            }
            return await svc.http.post("/tickets", json=body, headers=tech)

        responses = await asyncio.gather(*(opening(n) for n in range(4)))
        numbers = sorted([(await ok(r))["ticket_number"] for r in responses])
        assert numbers == [f"T-2026-{n:06d}" for n in range(1, 5)]
        # The counter is a view like the others: rebuilt from the log, the same.
        live = await svc.runtime.projections.snapshot("support_ticket_numbers")
        assert [row[2] for row in live] == [{"last": 4}]
        await svc.runtime.projections.rebuild("support_ticket_numbers", producer="support", progress=False)
        assert await svc.runtime.projections.snapshot("support_ticket_numbers") == live
        # A database from before the counter: tickets, no counter row. The next start fills it.
        async with svc.runtime.pool.acquire() as conn:
            await conn.execute("DELETE FROM support_ticket_numbers")
        await svc.runtime.migrate()
        assert [
            (row[0], row[2]) for row in await svc.runtime.projections.snapshot("support_ticket_numbers")
        ] == [("2026", {"last": 4})]


async def test_approval_releases_and_installation_reports(service: Any) -> None:
    async with service(support_app, clock=ManualClock(START), run_schedules=False) as svc:
        tech = svc.auth("technician")
        me = svc.auth("integrator", ACME)
        base = f"/approvals/{ACME}"
        pv = {
            "end_user_site": "Boulangerie Martin, 57000 Metz",
            "version": "3.2.0",
            "hardware_compatible": True,
            "nf525_checklist": dict.fromkeys(NF525_CHECKLIST, True),
        }

        await ok(
            await svc.http.post(
                "/releases",
                json={"version": "3.2.0", "release_notes": "Z fixes", "certified": True},
                headers=tech,
            )
        )
        # Not approved yet: the report is refused, with the reason
        refused = await svc.http.post(f"/integrators/{ACME}/installation-reports", json=pv, headers=me)
        assert refused.status_code == 422 and refused.json()["code"] == "integrator_not_approved"

        for name, represents in (("Anne", True), ("Bob", False)):
            await ok(
                await svc.http.post(
                    f"{base}/employees",
                    json={"employee_name": name, "represents_integrator": represents},
                    headers=tech,
                )
            )
        await ok(
            await svc.http.post(
                f"{base}/trainings",
                json={"employee_name": "Anne", "session_date": "2026-02-27", "trainer": "GGL"},
                headers=tech,
            )
        )
        signed = await ok(
            await svc.http.post(
                f"{base}/charter-signatures",
                json={
                    "employee_name": "Anne",
                    "signed_on": "2026-02-27",
                    "charter_version": "DOC-QLT-18122014",
                },
                headers=tech,
            )
        )
        assert signed["events"] == ["CharterSigned", "IntegratorApproved"]
        await ok(
            await svc.http.post(f"{base}/maintenance-contract", json={"with_contract": True}, headers=tech)
        )
        mine = await ok(await svc.http.get(base, headers=me), 200)
        assert mine["approved"] and mine["mandatory_updates"] == "free" and mine["conditions_unmet"] == []
        listed = await ok(await svc.http.get("/approved-integrators", headers=svc.auth("ops")), 200)
        assert [i["integrator_id"] for i in listed["integrators"]] == [ACME]
        exported = await svc.http.get("/approved-integrators.csv", headers=tech)
        assert exported.headers["content-type"].startswith("text/csv")
        # Company data only (support learnt none for Acme here: its id stands for the name).
        assert exported.text.splitlines()[1].startswith(f"{ACME},") and exported.text.rstrip().endswith(
            ",true"
        )
        assert "Anne" not in exported.text

        # Approved, current version, all elements: accepted
        accepted = await ok(
            await svc.http.post(f"/integrators/{ACME}/installation-reports", json=pv, headers=me)
        )
        assert accepted["events"] == ["InstallationReported"]
        missing = await svc.http.post(
            f"/integrators/{ACME}/installation-reports",
            json={
                **pv,
                "nf525_checklist": {**pv["nf525_checklist"], "archiving": False},
                "hardware_compatible": False,
            },
            headers=me,
        )
        assert missing.status_code == 422
        assert {e["code"] for e in missing.json()["errors"]} == {"hardware_not_compatible", "element_missing"}

        # 3.2.0 withdrawn: approved integrators are warned, the version is refused from then on
        withdrawn = await ok(
            await svc.http.post(
                "/releases/3.2.0/withdrawal",
                json={"reason": "Z totals wrong", "warning_message": "Ne plus installer la 3.2.0"},
                headers=tech,
            )
        )
        assert withdrawn["integrators_warned"] == [ACME]
        catalogue = await ok(await svc.http.get("/releases", headers=me), 200)
        assert catalogue["current_certified"] is None
        assert catalogue["releases"][0]["warning_message"] == "Ne plus installer la 3.2.0"
        again = await svc.http.post(f"/integrators/{ACME}/installation-reports", json=pv, headers=me)
        assert again.status_code == 422 and again.json()["code"] == "version_withdrawn"
        await ok(
            await svc.http.post(
                "/releases",
                json={"version": "3.2.1", "release_notes": "fix", "certified": True},
                headers=tech,
            )
        )
        assert (await ok(await svc.http.get("/releases/current", headers=me), 200))["version"] == "3.2.1"

        # Revoked: off the list, reports refused
        await ok(
            await svc.http.post(f"{base}/revocation", json={"reason": "Charte non respectée"}, headers=tech)
        )
        assert (await ok(await svc.http.get("/approved-integrators", headers=tech), 200))["integrators"] == []
        revoked = await svc.http.post(
            f"/integrators/{ACME}/installation-reports", json={**pv, "version": "3.2.1"}, headers=me
        )
        assert revoked.status_code == 422 and revoked.json()["code"] == "integrator_not_approved"
        reports = await ok(await svc.http.get(f"/integrators/{ACME}/installation-reports", headers=tech), 200)
        assert len(reports["reports"]) == 1

        # Every support projection rebuilds to the live state
        for name in ("support_approvals", "support_releases", "support_installations"):
            live = await svc.runtime.projections.snapshot(name)
            await svc.runtime.projections.rebuild(name, producer="support", progress=False)
            assert await svc.runtime.projections.snapshot(name) == live, name


async def test_an_installation_report_waits_for_a_revocation_in_flight_and_sees_it(service: Any) -> None:
    import asyncio

    from support.domain import approval

    async with service(support_app, clock=ManualClock(START), run_relay=False, run_schedules=False) as svc:
        tech = svc.auth("technician")
        base = f"/approvals/{ACME}"
        await ok(
            await svc.http.post(
                "/releases", json={"version": "3.2.0", "release_notes": "n", "certified": True}, headers=tech
            )
        )
        await ok(await svc.http.post(f"{base}/employees", json={"employee_name": "Anne"}, headers=tech))
        await ok(
            await svc.http.post(
                f"{base}/trainings",
                json={"employee_name": "Anne", "session_date": "2026-02-27", "trainer": "G"},
                headers=tech,
            )
        )
        await ok(
            await svc.http.post(
                f"{base}/charter-signatures",
                json={"employee_name": "Anne", "signed_on": "2026-02-27", "charter_version": "v1"},
                headers=tech,
            )
        )
        pv = {
            "end_user_site": "Boulangerie Martin",
            "version": "3.2.0",
            "hardware_compatible": True,
            "nf525_checklist": dict.fromkeys(NF525_CHECKLIST, True),
        }

        # A revocation appended but not yet committed...
        async with svc.runtime.pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            await svc.runtime.execute_in(
                conn,
                stream_id=approval.stream_id(ACME),
                integrator_id=ACME,
                decide=lambda history: approval.revoke(
                    approval.fold(r.event for r in history), reason="charte", by="tech"
                ),
            )
            report = asyncio.create_task(
                svc.http.post(
                    f"/integrators/{ACME}/installation-reports", json=pv, headers=svc.auth("integrator", ACME)
                )
            )
            await asyncio.sleep(0.5)
            assert not report.done(), "the report must wait for the revocation in flight"
            await transaction.commit()
        # ...once committed, the waiting report sees it and is refused
        refused = await asyncio.wait_for(report, 10)
        assert refused.status_code == 422 and refused.json()["code"] == "integrator_not_approved", (
            refused.text
        )
