"""The notifier on the real stack: events in through Kafka, emails out to an SMTP sink (aiosmtpd).

Upstream services are played by a producer publishing their envelopes as their relays would.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections import Counter
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path
from uuid import uuid4

import pytest

from chassis import kafka
from chassis.clock import ManualClock
from chassis.devstack import MailSink, free_port, mail_file_name
from contracts import topics
from contracts.envelope import Envelope
from contracts.events import DomainEvent
from contracts.events.common import Locale
from notifier import app
from notifier.domain.mapping import MAPPING, Audience
from tests.support.signed import signed_by
from tests.support.waiting import eventually


def _load_samples():
    """The notifier's unit-test samples (one event of each mapped type), loaded by path: the
    services' test folders are not packages (docs/CHASSIS.md, test layout)."""
    path = Path(__file__).resolve().parents[1] / "services" / "notifier" / "tests" / "samples.py"
    spec = importlib.util.spec_from_file_location("notifier_test_samples", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


samples = _load_samples()
ACME, NOW, mapped_events, registered = samples.ACME, samples.NOW, samples.mapped_events, samples.registered

OPS = "ops@integrator-platform.example"


class Upstream:
    """Plays onboarding, sim-logistics, ism-provisioning and support: publishes their envelopes."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.producer = kafka.producer(settings)

    async def __aenter__(self) -> Upstream:
        await self.producer.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.producer.stop()

    async def publish(self, event: DomainEvent, integrator_id: str = ACME) -> Envelope:
        envelope = Envelope(
            event_id=uuid4(),
            event_type=event.event_type,
            schema_version=event.schema_version,
            occurred_at=NOW,
            producer=event.producer,
            stream_id=f"{event.producer}-{integrator_id}",
            stream_version=1,
            integrator_id=integrator_id,
            correlation_id=uuid4(),
            payload=event.model_dump(mode="json"),
        )
        await self.send(envelope)
        return envelope

    async def send(self, envelope: Envelope) -> None:
        value, key = envelope.model_dump_json().encode(), envelope.integrator_id.encode()
        await self.producer.send_and_wait(
            self.settings.topic(topics.BY_SERVICE[envelope.producer]),
            value=value,
            key=key,
            headers=signed_by(envelope.producer, key, value, envelope.event_type),
        )


@pytest.fixture
def mail_port():
    return free_port()


@pytest.fixture
def sink(tmp_path, mail_port):
    s = MailSink(tmp_path / "mail", mail_port)
    yield s
    s.stop()


def mailbox(sink: MailSink) -> dict[str, object]:
    if not sink.directory.exists():
        return {}
    return {
        p.name: message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(sink.directory.glob("*.eml"))
    }


async def emails(svc, **query) -> list[dict]:
    r = await svc.http.get("/emails", params=query, headers=svc.auth("ops"))
    assert r.status_code == 200, r.text
    return r.json()["emails"]


def settings_for(mail_port: int, **extra):
    return dict(smtp_port=mail_port, email_retry_check_seconds=0.05, **extra)


async def test_each_event_yields_exactly_its_emails_once_even_when_delivered_twice(service, sink, mail_port):
    sink.start()
    async with (
        service(app, clock=ManualClock(NOW), **settings_for(mail_port)) as svc,
        Upstream(svc.runtime.settings) as upstream,
    ):
        events = mapped_events()
        published: dict[str, Envelope] = {}
        # Registration and the ticket first: they tell the notifier who to write to.
        for event_type in ["IntegratorRegistered", "TicketOpened"] + [
            t for t in events if t not in ("IntegratorRegistered", "TicketOpened")
        ]:
            published[event_type] = await upstream.publish(events[event_type])

        def recipients(event_type: str) -> Counter:
            """The emails an event must yield: each rule that applies to it, once per recipient."""
            want: Counter = Counter()
            payload = events[event_type].model_dump(mode="json")
            for rule in MAPPING[event_type]:
                if not rule.applies_to(payload):
                    continue
                for address in {
                    Audience.CONTACTS: ["alice@acme.example", "bob@acme.example"],
                    Audience.REQUESTER: ["chloe@acme.example"],
                    Audience.OPS: [OPS],
                    Audience.PERSON: [payload.get("email")],
                }[rule.audience]:
                    want[(rule.template, address)] += 1
            return want

        expected = sum(sum(recipients(t).values()) for t in published)

        async def all_sent():
            rows = await emails(svc, status="sent")
            return len(rows) == expected and len(mailbox(sink)) == expected and rows

        rows = await eventually(all_sent, what=f"{expected} emails sent", timeout=30)
        assert await emails(svc, status="intended") == [] and await emails(svc, status="failed") == []
        assert all(r["attempts"] == 1 for r in rows)

        # Per event: exactly its emails, to exactly its recipients.
        for event_type, envelope in published.items():
            r = await svc.http.get(f"/events/{envelope.event_id}/emails", headers=svc.auth("ops"))
            got = Counter((e["template"], e["recipients"][0]) for e in r.json()["emails"])
            assert got == recipients(event_type), event_type

        # What the sink received is what was intended: one file per Message-ID.
        box = mailbox(sink)
        for row in rows:
            message = box[mail_file_name(row["message_id"])]
            assert message["To"] == row["recipients"][0]
            assert message["X-Notifier-Template"] == row["template"]
        call = next(m for m in box.values() if m["X-Notifier-Template"] == "validation_call_booked")
        assert [p.get_content_type() for p in call.iter_attachments()] == ["text/calendar"]

        # The same events delivered again: no new email.
        processed = svc.runtime.runner_for("notifier.emails").processed
        for envelope in list(published.values())[:5]:
            await upstream.send(envelope)
        await eventually(
            lambda: _at_least(svc.runtime.runner_for("notifier.emails").processed, processed + 5),
            what="redeliveries consumed",
        )
        await asyncio.sleep(0.3)  # give a wrong after-commit send time to show up
        assert len(await emails(svc)) == expected
        assert len(mailbox(sink)) == expected
        assert sink.received == expected

        # An integrator sees its own emails, not another's; the rendered email is readable by ops.
        acme = await svc.http.get(f"/integrators/{ACME}/emails", headers=svc.auth("integrator", ACME))
        assert acme.status_code == 200 and acme.json()["count"] == expected
        other = await svc.http.get(
            f"/integrators/{ACME}/emails", headers=svc.auth("integrator", "someone-else")
        )
        assert other.status_code == 404
        ism = next(r for r in rows if r["template"] == "ism_delivered")
        shown = await svc.http.get(f"/emails/{ism['email_id']}/rendered", headers=svc.auth("ops"))
        assert shown.status_code == 200
        assert (
            "set-password" not in shown.json()["text"] and "[lien personnel masqué]" in shown.json()["text"]
        )
        assert shown.json()["headers"]["Message-ID"] == ism["message_id"]

        # Rebuilt from the notifier's own log: the same tables.
        for name in ("notifier_emails", "notifier_contacts"):
            before = await svc.runtime.projections.snapshot(name)
            await svc.runtime.projections.rebuild(name, producer="notifier", progress=False)
            assert await svc.runtime.projections.snapshot(name) == before


async def _at_least(value: int, target: int) -> bool:
    return value >= target


async def test_smtp_down_for_a_while_is_retried_and_sent_when_it_returns(service, sink, mail_port):
    clock = ManualClock(NOW)
    async with (
        service(app, clock=clock, **settings_for(mail_port, smtp_backoff_seconds=1.0)) as svc,
        Upstream(svc.runtime.settings) as upstream,
    ):
        await upstream.publish(registered(Locale.EN))

        async def failed_once():
            rows = await emails(svc)
            return len(rows) == 2 and all(r["attempts"] == 1 and r["last_error"] for r in rows) and rows

        rows = await eventually(failed_once, what="a first failed attempt")
        assert all(r["status"] == "intended" and r["retry_at"] for r in rows)
        clock.advance(timedelta(seconds=0.5))  # not yet due: nothing is tried
        await asyncio.sleep(0.3)
        assert all(r["attempts"] == 1 for r in await emails(svc))

        clock.advance(timedelta(seconds=1))  # due, but the server is still down: backoff doubles
        rows = await eventually(
            lambda: _all(emails(svc), lambda r: r["attempts"] == 2), what="a second failed attempt"
        )
        sink.start()
        clock.advance(timedelta(seconds=2))
        rows = await eventually(lambda: _all(emails(svc), lambda r: r["status"] == "sent"), what="sent")
        assert all(r["attempts"] == 3 for r in rows)
        assert len(mailbox(sink)) == 2 and sink.received == 2
        history = (await svc.http.get(f"/emails/{rows[0]['email_id']}", headers=svc.auth("ops"))).json()[
            "history"
        ]
        assert [h["event_type"] for h in history] == [
            "EmailIntended",
            "EmailAttemptFailed",
            "EmailAttemptFailed",
            "EmailSent",
        ]


async def _all(rows_coro, predicate):
    rows = await rows_coro
    return bool(rows) and all(predicate(r) for r in rows) and rows


async def _failed_after(rows_coro, count: int, attempts: int):
    rows = await rows_coro
    return len(rows) == count and all(r["attempts"] == attempts for r in rows) and rows


async def test_smtp_down_for_good_fails_visibly_and_ops_can_resend(service, sink, mail_port):
    clock = ManualClock(NOW)
    async with (
        service(
            app, clock=clock, **settings_for(mail_port, smtp_max_attempts=3, smtp_backoff_seconds=1.0)
        ) as svc,
        Upstream(svc.runtime.settings) as upstream,
    ):
        await upstream.publish(registered(Locale.FR))
        for attempts in (1, 2):
            await eventually(
                lambda n=attempts: _all(emails(svc), lambda r: r["attempts"] == n), what=f"attempt {attempts}"
            )
            clock.advance(timedelta(seconds=10))
        # Both emails (one per contact) give up; wait for both, not the first one to fail.
        failed = await eventually(
            lambda: _failed_after(emails(svc, status="failed"), 2, 3), what="EmailFailed"
        )
        assert len(failed) == 2
        assert all(r["last_error"] and r["failed_at"] for r in failed)
        clock.advance(timedelta(days=1))
        await asyncio.sleep(0.3)
        assert len(await emails(svc, status="failed")) == 2  # given up on: no more attempts
        assert mailbox(sink) == {}

        email_id = failed[0]["email_id"]
        assert (
            await svc.http.post(f"/emails/{email_id}/resend", headers=svc.auth("integrator", ACME))
        ).status_code == 403
        sink.start()
        r = await svc.http.post(f"/emails/{email_id}/resend", headers=svc.auth("ops"))
        assert r.status_code == 202, r.text
        await eventually(
            lambda: _all(emails(svc, status="sent"), lambda r: r["email_id"] == email_id), what="resent"
        )
        sent = (await emails(svc, status="sent"))[0]
        assert sent["attempts"] == 4 and sent["resend_requested_by"] == "ops-user"
        assert list(mailbox(sink)) == [mail_file_name(sent["message_id"])]
        again = await svc.http.post(f"/emails/{email_id}/resend", headers=svc.auth("ops"))
        assert again.status_code == 409  # only a failed email is resent
        assert len(await emails(svc, status="failed")) == 1


async def test_an_event_before_the_registration_waits_for_the_contacts(service, sink, mail_port):
    sink.start()
    async with (
        service(app, clock=ManualClock(NOW), **settings_for(mail_port)) as svc,
        Upstream(svc.runtime.settings) as upstream,
    ):
        # sim-logistics' topic is not ordered with onboarding's: its event may come first.
        shipped = await upstream.publish(mapped_events()["TestSimsShipped"])
        await eventually(
            lambda: _at_least(svc.runtime.runner_for("notifier.emails").processed, 1), what="event consumed"
        )
        assert await emails(svc) == []
        await upstream.publish(registered(Locale.EN))
        rows = await eventually(
            lambda: _all(emails(svc, status="sent"), lambda r: True), what="sent after registration"
        )
        await eventually(lambda: _count(emails(svc, status="sent"), 4), what="welcome and shipment emails")
        r = await svc.http.get(f"/events/{shipped.event_id}/emails", headers=svc.auth("ops"))
        assert sorted(e["recipients"][0] for e in r.json()["emails"]) == [
            "alice@acme.example",
            "bob@acme.example",
        ]
        assert all(e["locale"] == "en" for e in r.json()["emails"])
        assert rows
        dead = await svc.http.get("/ops/dead-letters", headers=svc.auth("ops"))
        assert "notifier" not in dead.text or dead.json() in ([], {"dead_letters": []})


async def _count(rows_coro, n: int) -> bool:
    return len(await rows_coro) == n
