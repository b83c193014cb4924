"""The notifier does not trust what any writer to a topic says (issue 16, finding 3): a second
registration for a known integrator is dead-lettered, not applied (its emails keep going to the real
contacts); a link is never signed for longer than the notifier's own MAX_LINK_TTL_HOURS."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from chassis.clock import ManualClock
from chassis.devstack import MailSink, free_port
from chassis.links import verify_link_token
from contracts.events.common import Contact
from contracts.events.ism_provisioning import SET_PASSWORD_LINK_PURPOSE
from notifier import app
from tests.support.waiting import eventually
from tests.test_notifier import NOW, Upstream, emails, mailbox, mapped_events, registered, settings_for


@pytest.fixture
def mail_port():
    return free_port()


@pytest.fixture
def sink(tmp_path, mail_port):
    s = MailSink(tmp_path / "mail", mail_port)
    yield s
    s.stop()


async def _dead_letters(svc, n: int) -> list[dict] | None:
    rows = (await svc.http.get("/ops/dead-letters", headers=svc.auth("ops"))).json()
    return rows if len(rows) >= n else None


async def _sent(svc, n: int) -> list[dict] | None:
    rows = await emails(svc, status="sent")
    return rows if len(rows) >= n else None


async def test_a_forged_second_registration_is_dead_lettered_and_the_contacts_stay(service, sink, mail_port):
    sink.start()
    async with (
        service(app, clock=ManualClock(NOW), **settings_for(mail_port)) as svc,
        Upstream(svc.runtime.settings) as upstream,
    ):
        first = await upstream.publish(registered())
        await eventually(lambda: _sent(svc, 2), what="the welcome emails to the two contacts")
        # The same registration delivered again: a duplicate, not poison.
        await upstream.send(first)
        # Another "registration" of the same integrator, naming the forger as its only contact.
        forger = Contact(name="Mallory", email="mallory@evil.example", phone="+33100000000")
        await upstream.publish(registered(contacts=[forger]))
        dead = await eventually(lambda: _dead_letters(svc, 1), what="the forged registration dead-lettered")
        assert len(dead) == 1 and "second registration" in dead[0]["reason"], dead
        # Later emails still go to the integrator's real contacts (the ISM is delivered after the SIMs).
        await upstream.publish(mapped_events()["SimsDelivered"])
        delivered = await upstream.publish(mapped_events()["ISMDelivered"])
        await eventually(lambda: _sent(svc, 6), what="the SIM and ISM delivery emails")
        r = await svc.http.get(f"/events/{delivered.event_id}/emails", headers=svc.auth("ops"))
        assert sorted(e["recipients"][0] for e in r.json()["emails"]) == [
            "alice@acme.example",
            "bob@acme.example",
        ]
        assert not any("mallory" in str(m["To"]) for m in mailbox(sink).values())
        assert len(await _dead_letters(svc, 1) or []) == 1  # the redelivery was not dead-lettered


async def test_a_far_link_expiry_in_an_event_is_capped_at_the_notifiers_setting(service, sink, mail_port):
    sink.start()
    async with (
        service(app, clock=ManualClock(NOW), **settings_for(mail_port, max_link_ttl_hours=72)) as svc,
        Upstream(svc.runtime.settings) as upstream,
    ):
        await upstream.publish(registered())
        forged = mapped_events()["ISMDelivered"].model_copy(
            update={"set_password_expires_at": NOW + timedelta(days=3650)}
        )
        await upstream.publish(mapped_events()["SimsDelivered"])  # the ISM is delivered after the SIMs
        await upstream.publish(forged)
        await eventually(lambda: _sent(svc, 6), what="welcome, SIM and ISM delivery emails")
        ism = next(m for m in mailbox(sink).values() if m["X-Notifier-Template"] == "ism_delivered")
        text = ism.get_body(preferencelist=("plain",)).get_content()
        token = re.search(r"set-password\?token=([A-Za-z0-9_\-.]+)", text).group(1)
        secret = svc.runtime.settings.link_signing_secret.get_secret_value()
        token_id, expires_at = verify_link_token(secret, SET_PASSWORD_LINK_PURPOSE, token, now=NOW)
        assert token_id == forged.set_password_token_id
        assert expires_at == NOW + timedelta(hours=72)  # not ten years
