"""Consumers believe only what they can tie to what they have seen (chassis.known_integrators).

Each test plays an attacker able to write to a topic: forged envelopes are published by hand
(tests.support.hand_published), everything else runs on the real broker and database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from chassis.devstack import MailSink, free_port
from contracts.events.common import Contact, DossierItem, FileRef
from contracts.events.ism_provisioning import ISMDelivered
from contracts.events.onboarding import DossierItemAccepted
from contracts.events.sim_logistics import SimsDelivered
from contracts.events.support import Channel, Requester, TicketOpened
from contracts.events.web import PortalRole, PortalUserInvited
from ism_provisioning import app as ism_app
from notifier import app as notifier_app
from onboarding import app as onboarding_app
from platform_cli.samples import registration
from sim_logistics import app as sims_app
from tests.support.hand_published import publish, publish_envelope, register, registration_of
from tests.support.waiting import eventually
from web import app as web_app

MALLORY = Contact(name="Mallory", email="mallory@evil.example", phone="+33100000000")
LOGO = FileRef(sha256="a" * 64, filename="logo.png", size=1000, media_type="image/png")


@pytest.fixture
def mail_port() -> int:
    return free_port()


@pytest.fixture
def sink(tmp_path: Any, mail_port: int) -> Any:
    s = MailSink(tmp_path / "mail", mail_port)
    s.start()
    yield s
    s.stop()


def notifier_settings(mail_port: int, **extra: Any) -> dict[str, Any]:
    return {"smtp_port": mail_port, "email_retry_check_seconds": 0.05, **extra}


def sims_delivered() -> SimsDelivered:
    return SimsDelivered(
        quantity=10,
        iccid_first="8933150000000000001",
        iccid_last="8933150000000000010",
        delivery_note_number="BL-2026-0042",
        delivered_by="logistics-marc",
    )


def ism_delivered(integrator_id: str) -> ISMDelivered:
    now = datetime.now(UTC)
    return ISMDelivered(
        platform_url="https://ism.example/login",
        account_id=f"ism-{integrator_id}",
        logo_reference="a" * 64,
        configuration_version=1,
        set_password_token_id=uuid4(),
        set_password_expires_at=now + timedelta(hours=24),
        delivered_by="ops-anne",
    )


async def emails_of(svc: Any, integrator_id: str) -> list[dict[str, Any]]:
    r = await svc.http.get(f"/integrators/{integrator_id}/emails", headers=svc.auth("ops"))
    assert r.status_code in (200, 404), r.text
    return r.json().get("emails", []) if r.status_code == 200 else []


async def dead_letters(svc: Any, containing: str, at_least: int = 1) -> list[str] | None:
    rows = await svc.runtime.pool.fetch("SELECT reason FROM dead_letters ORDER BY id")
    reasons = [r["reason"] for r in rows if containing in r["reason"]]
    return reasons if len(reasons) >= at_least else None


async def test_a_second_registration_of_a_known_integrator_invites_no_one_to_its_portal(
    platform: Any,
) -> None:
    async with platform([onboarding_app, web_app]) as svcs:
        onboarding, web = svcs["onboarding"], svcs["web"]
        r = await onboarding.http.post("/integrators", json=registration(), headers=onboarding.auth("ops"))
        assert r.status_code == 201, r.text
        company = r.json()["integrator_id"]

        async def invited() -> list[str] | None:
            rows = await web.runtime.pool.fetch(
                "SELECT payload->>'email' AS email FROM events "
                "WHERE event_type = 'PortalUserInvited' AND integrator_id = $1",
                company,
            )
            return sorted(row["email"] for row in rows) or None

        contacts = await eventually(invited, what="the company's contacts invited to its portal")
        # The attacker re-registers the company (same key) under their own address.
        await publish(
            web.runtime.settings, registration_of(MALLORY), company, stream_id=f"integrator-{company}"
        )
        reasons = await eventually(
            lambda: dead_letters(web, "second registration"), what="the forged registration refused"
        )
        assert company in reasons[0] and "IntegratorRegistered" in reasons[0]
        assert await invited() == contacts  # nobody else invited: not the attacker
        assert MALLORY.email not in str(contacts)


async def test_an_event_read_before_its_integrators_registration_waits_for_it(
    platform: Any, sink: Any, mail_port: int
) -> None:
    integrator_id = f"late-{uuid4().hex[:8]}"
    async with platform(
        [notifier_app, ism_app],
        **notifier_settings(mail_port),
        held_events_check_seconds=0.1,
        metrics_refresh_seconds=0.2,
    ) as svcs:
        notifier, ism = svcs["notifier"], svcs["ism-provisioning"]
        settings = notifier.runtime.settings
        # sim-logistics' topic is read before onboarding's: the SIMs' delivery comes first.
        await publish(settings, sims_delivered(), integrator_id)

        async def held(svc: Any, consumer: str) -> dict[str, Any] | None:
            status = (await svc.http.get("/ops/status", headers=svc.auth("ops"))).json()
            return status["held_events"].get(consumer)

        shown = await eventually(lambda: held(notifier, "notifier.emails"), what="held by the notifier")
        assert shown["held"] == 1 and shown["oldest_held_seconds"] >= 0 and shown["oldest_held_at"]
        await eventually(lambda: held(ism, "ism-provisioning.upstream"), what="held by the ISM")

        async def gauge() -> bool:
            text = (await notifier.http.get("/metrics")).text
            return 'platform_held_events{consumer="notifier.emails"} 1.0' in text

        await eventually(gauge, what="the held event in the metrics")
        # Held, not acted on: no email, no fact recorded by the ISM.
        assert await emails_of(notifier, integrator_id) == []
        assert await ism.runtime.read_stream(f"ism-{integrator_id}") == []

        # Its registration arrives: the held event is acted on, once.
        await register(settings, integrator_id)

        async def mailed() -> list[str] | None:
            templates = sorted(e["template"] for e in await emails_of(notifier, integrator_id))
            return templates if "sims_delivered" in templates else None

        assert await eventually(mailed, what="the held event's email") == ["sims_delivered", "welcome"]

        async def ism_noted() -> list[str] | None:
            types = [r.envelope.event_type for r in await ism.runtime.read_stream(f"ism-{integrator_id}")]
            return types or None

        assert await eventually(ism_noted, what="the ISM notes the SIMs' delivery") == ["SimsDeliveryNoted"]
        assert await held(notifier, "notifier.emails") is None
        assert await dead_letters(notifier, "") is None


async def test_events_for_an_integrator_nobody_registered_are_dead_lettered_after_the_bound_and_never_mailed(
    platform: Any, sink: Any, mail_port: int
) -> None:
    made_up = f"ghost-{uuid4().hex[:8]}"
    async with platform(
        [notifier_app, ism_app, sims_app],
        **notifier_settings(mail_port),
        held_events_max_seconds=1.0,
        held_events_check_seconds=0.1,
    ) as svcs:
        notifier, ism, sims = svcs["notifier"], svcs["ism-provisioning"], svcs["sim-logistics"]
        settings = notifier.runtime.settings
        await publish(
            settings, DossierItemAccepted(item=DossierItem.LOGO, file=LOGO, accepted_by="x"), made_up
        )
        await publish(settings, sims_delivered(), made_up)
        for svc, expected in ((notifier, 2), (ism, 2), (sims, 1)):
            reasons = await eventually(
                lambda svc=svc, expected=expected: dead_letters(svc, "never came", expected),
                what=f"{svc.runtime.name} dead-letters what waited too long",
            )
            assert all(made_up in r and "IntegratorRegistered" in r for r in reasons), reasons
        assert await emails_of(notifier, made_up) == []
        assert sink.received == 0
        assert await ism.runtime.read_stream(f"ism-{made_up}") == []


async def test_a_ticket_requester_the_integrators_contacts_do_not_vouch_for_is_never_mailed(
    platform: Any, sink: Any, mail_port: int
) -> None:
    company = f"acme-{uuid4().hex[:8]}"
    async with platform([notifier_app], **notifier_settings(mail_port)) as svcs:
        notifier = svcs["notifier"]
        settings = notifier.runtime.settings
        await register(settings, company)  # its contact: alice@acme.example

        def opened(email: str) -> TicketOpened:
            return TicketOpened(
                ticket_id=uuid4(),
                channel=Channel.EMAIL,
                requester=Requester(name="Someone", email=email),
                subject="Click this",
                description="https://evil.example/phish",
                opened_by="support",
                ticket_number="T-2026-000001",
            )

        forged = await publish(settings, opened("eve@outside.example"), company)
        genuine = await publish(settings, opened("chloe@acme.example"), company)  # a colleague: same domain

        async def requester_mailed() -> list[str] | None:
            r = await notifier.http.get(f"/events/{genuine.event_id}/emails", headers=notifier.auth("ops"))
            found = [e["recipients"][0] for e in r.json()["emails"] if e["template"] == "ticket_opened"]
            return found or None

        assert await eventually(requester_mailed, what="the genuine requester mailed") == [
            "chloe@acme.example"
        ]
        reasons = await eventually(
            lambda: dead_letters(notifier, "requester"), what="the outside requester refused"
        )
        assert "not one of the integrator's contacts" in reasons[0]
        r = await notifier.http.get(f"/events/{forged.event_id}/emails", headers=notifier.auth("ops"))
        assert r.json()["emails"] == []
        assert all("eve@outside.example" not in e["recipients"] for e in await emails_of(notifier, company))


async def test_a_portal_invitation_goes_to_no_one_the_integrators_contacts_do_not_vouch_for(
    platform: Any, sink: Any, mail_port: int
) -> None:
    company = f"acme-{uuid4().hex[:8]}"
    async with platform([notifier_app], **notifier_settings(mail_port)) as svcs:
        notifier = svcs["notifier"]
        settings = notifier.runtime.settings
        await register(settings, company)  # its contact: alice@acme.example

        def invited(email: str) -> PortalUserInvited:
            return PortalUserInvited(
                user_id=uuid4(),
                email=email,
                name="Someone",
                role=PortalRole.INTEGRATOR,
                integrator_id=company,
                invitation_token_id=uuid4(),
                invitation_expires_at=datetime.now(UTC) + timedelta(days=7),
                invited_by="onboarding",
            )

        forged = await publish(settings, invited(MALLORY.email), company)
        genuine = await publish(settings, invited("alice@acme.example"), company)

        async def invitation_mailed() -> list[dict[str, Any]] | None:
            r = await notifier.http.get(f"/events/{genuine.event_id}/emails", headers=notifier.auth("ops"))
            return r.json()["emails"] or None

        assert [e["recipients"] for e in await eventually(invitation_mailed, what="the contact invited")] == [
            ["alice@acme.example"]
        ]
        reasons = await eventually(
            lambda: dead_letters(notifier, "the person is not one of"), what="the outside invitee refused"
        )
        assert "portal_invitation" in reasons[0]
        r = await notifier.http.get(f"/events/{forged.event_id}/emails", headers=notifier.auth("ops"))
        assert r.json()["emails"] == []


async def test_a_set_password_link_is_mailed_only_for_the_ism_delivery_that_follows_the_sims(
    platform: Any, sink: Any, mail_port: int
) -> None:
    company = f"acme-{uuid4().hex[:8]}"
    async with platform(
        [notifier_app],
        **notifier_settings(mail_port),
        held_events_max_seconds=1.5,
        held_events_check_seconds=0.1,
    ) as svcs:
        notifier = svcs["notifier"]
        settings = notifier.runtime.settings
        await register(settings, company)
        await eventually(lambda: emails_of(notifier, company), what="the welcome email")
        # A forged delivery of an ISM whose SIMs were never delivered: no link.
        await publish(settings, ism_delivered(company), company)
        reasons = await eventually(
            lambda: dead_letters(notifier, "never came"), what="the forged ISM delivery dead-lettered"
        )
        assert "ISMDelivered waited for SimsDelivered" in reasons[0]

        async def templates() -> list[str]:
            return sorted(e["template"] for e in await emails_of(notifier, company))

        assert "ism_delivered" not in await templates()

        # The real process: the SIMs delivered, then the ISM — mailed with its link, once.
        await publish(settings, sims_delivered(), company)
        delivered = ism_delivered(company)
        await publish(settings, delivered, company)

        async def link_mailed() -> list[str] | None:
            found = await templates()
            return found if "ism_delivered" in found else None

        assert await eventually(link_mailed, what="the ISM's link mailed") == [
            "ism_delivered",
            "sims_delivered",
            "welcome",
        ]
        # A second delivery of the same ISM, forged: refused, not mailed again.
        await publish(settings, ism_delivered(company), company)
        refused = await eventually(lambda: dead_letters(notifier, "second ISMDelivered"), what="refused")
        assert company in refused[0]
        assert (await templates()).count("ism_delivered") == 1


async def test_a_consumer_older_than_the_rule_learns_its_integrators_from_the_relays_republish(
    platform: Any, sink: Any, mail_port: int
) -> None:
    """A notifier that handled a registration before its trust table existed (an upgraded
    deployment: inbox row, no fact) learns it again when the relay republishes it, as `make run`'s
    relays do after each start: the integrator's later events are mailed, not held."""
    company = f"acme-{uuid4().hex[:8]}"
    async with platform([notifier_app], **notifier_settings(mail_port)) as svcs:
        notifier = svcs["notifier"]
        settings = notifier.runtime.settings
        registered = await register(settings, company)
        await eventually(lambda: emails_of(notifier, company), what="the welcome email")
        await notifier.runtime.pool.execute("DELETE FROM believed_facts WHERE integrator_id = $1", company)
        notifier.runtime.runner_for("notifier.emails").believer._facts.clear()
        await publish_envelope(settings, registered)  # the republish: a duplicate in the inbox
        await publish(
            settings, DossierItemAccepted(item=DossierItem.LOGO, file=LOGO, accepted_by="ops"), company
        )

        async def mailed() -> list[str] | None:
            templates = sorted(e["template"] for e in await emails_of(notifier, company))
            return templates if "dossier_item_accepted" in templates else None

        assert await eventually(mailed, what="the later event mailed") == ["dossier_item_accepted", "welcome"]
