"""The support desk's ticket queue (support's GET /ticket-queue) on the real stack: mine, unassigned,
waiting on the tracker, by age and by severity, paged in SQL; an integrator's message waiting for an
answer and a reopening show in the queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chassis.clock import ManualClock
from support import app as support_app

# Monday 2 March 2026, 09:00 UTC = 10:00 in Paris (support hours)
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACME = "0199a000-0000-7000-8000-0000000000ac"


async def test_the_queues_filter_order_and_page_on_the_server(service: Any) -> None:
    clock = ManualClock(START)
    async with service(support_app, clock=clock) as svc:
        anne = {"Authorization": f"Bearer {svc.token('technician', subject='anne@editeur.fr')}"}
        paul = {"Authorization": f"Bearer {svc.token('technician', subject='paul@editeur.fr')}"}
        acme = svc.auth("integrator", ACME)

        async def open_ticket(subject: str) -> str:
            r = await svc.http.post(
                "/tickets",
                json={
                    "integrator_id": ACME,
                    "channel": "phone",
                    "requester": {"name": "Paul Durand", "email": "paul@acme-caisse.example"},
                    "subject": subject,
                    "description": "Appel.",
                },
                headers=anne,
            )
            assert r.status_code == 201, r.text
            clock.advance(timedelta(hours=1))
            return str(r.json()["ticket_id"])

        oldest, middle, newest = [await open_ticket(s) for s in ("oldest", "middle", "newest")]
        await svc.http.post(
            f"/tickets/{newest}/qualification",
            json={"category": "incident", "severity": "critical"},
            headers=anne,
        )
        await svc.http.post(f"/tickets/{middle}/assignment", json={}, headers=anne)
        await svc.http.post(
            f"/tickets/{middle}/tracker-declaration", json={"tracker_reference": "M-1"}, headers=anne
        )
        await svc.http.post(f"/tickets/{oldest}/assignment", json={}, headers=paul)
        asked = await svc.http.post(
            f"/tickets/{oldest}/messages", json={"body": "Toujours bloqué"}, headers=acme
        )
        assert asked.status_code == 201, asked.text

        async def queue(who: dict[str, str], **params: Any) -> dict[str, Any]:
            r = await svc.http.get("/ticket-queue", params=params, headers=who)
            assert r.status_code == 200, r.text
            return r.json()

        def subjects(answer: dict[str, Any]) -> list[str]:
            return [t["subject"] for t in answer["tickets"]]

        assert subjects(await queue(anne, queue="mine")) == ["middle"]
        assert subjects(await queue(paul, queue="mine")) == ["oldest"]
        assert subjects(await queue(anne, queue="unassigned")) == ["newest"]
        assert subjects(await queue(anne, queue="waiting_on_tracker")) == ["middle"]
        assert subjects(await queue(anne)) == ["oldest", "middle", "newest"]  # open, oldest first
        assert subjects(await queue(anne, order="severity")) == ["newest", "oldest", "middle"]
        assert subjects(await queue(anne, limit=1, offset=1)) == ["middle"]
        answer = await queue(anne)
        assert answer["counts"] == {"mine": 1, "unassigned": 1, "waiting_on_tracker": 1, "open": 3, "all": 3}
        first = answer["tickets"][0]
        # Opened at 10:00 Paris, now 13:00: two support hours (closed for lunch from noon), and the
        # integrator wrote last.
        assert first["age_business_hours"] == 2.0
        assert first["awaiting_answer"] is True and first["reopened"] is False
        assert [t["awaiting_answer"] for t in answer["tickets"][1:]] == [False, False]

        # Resolved, closed, then reopened by the integrator: back in the open queue, marked reopened.
        for path, body in (
            ("qualification", {"category": "question", "severity": "low"}),
            ("messages", {"body": "Procédure envoyée"}),
            ("resolution", {"resolution_procedure": "P-12"}),
            ("closing", None),
        ):
            done = await svc.http.post(f"/tickets/{oldest}/{path}", json=body, headers=paul)
            assert done.status_code == 201, (path, done.text)
        assert subjects(await queue(anne)) == ["middle", "newest"]
        r = await svc.http.post(
            f"/tickets/{oldest}/reopening", json={"reason": "Encore bloqué"}, headers=acme
        )
        assert r.status_code == 201, r.text
        reopened = (await queue(paul, queue="mine"))["tickets"]
        assert [(t["subject"], t["reopened"]) for t in reopened] == [("oldest", True)]
        assert (
            await svc.http.get("/ticket-queue", params={"queue": "nobody"}, headers=anne)
        ).status_code == 422
        assert (await svc.http.get("/ticket-queue", headers=acme)).status_code == 403
