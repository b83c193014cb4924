"""Contacts and language updated in onboarding reach the notifier through Kafka, on the real stack:
the next email (here the dossier going overdue, raised by onboarding's own schedule) goes to the new
address in the new language, and to ops; the old contact hears nothing more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

from chassis.clock import ManualClock
from chassis.devstack import MailSink, free_port
from notifier import app as notifier_app
from onboarding import app as onboarding_app
from tests.fixtures.onboarding.samples import registration
from tests.support.waiting import eventually

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OPS = "ops@integrator-platform.example"
CAROL = {"name": "Carol Nouvelle", "email": "carol@telecom-exemple.fr", "phone": "0601020399"}


def mailbox(sink: MailSink) -> list[Any]:
    if not sink.directory.exists():
        return []
    return [
        message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(sink.directory.glob("*.eml"))
    ]


def sent(sink: MailSink, template: str) -> list[tuple[str, str]]:
    return sorted(
        (str(m["To"]), str(m["Subject"])) for m in mailbox(sink) if m["X-Notifier-Template"] == template
    )


async def test_updated_contacts_and_locale_receive_the_next_emails(platform: Any, tmp_path: Any) -> None:
    sink = MailSink(tmp_path / "mail", free_port())
    sink.start()
    clock = ManualClock(START)
    try:
        async with platform(
            [onboarding_app, notifier_app],
            clock=clock,
            smtp_port=sink.port,
            email_retry_check_seconds=0.05,
            dossier_due_days=30,
            dossier_deadline_check_seconds=0.05,
        ) as services:
            onboarding = services["onboarding"]
            registered = await onboarding.http.post(
                "/integrators", json=registration(), headers=onboarding.auth("ops")
            )
            assert registered.status_code == 201, registered.text
            integrator_id = registered.json()["integrator_id"]
            await eventually(lambda: _async(sent(sink, "welcome")), what="the welcome email")
            assert sent(sink, "welcome")[0][0] == "jeanne@telecom-exemple.fr"

            # The integrator itself replaces its contact and reads English from now on.
            me = onboarding.auth("integrator", integrator_id)
            path = f"/integrators/{integrator_id}/contacts"
            updated = await onboarding.http.put(path, json={"contacts": [CAROL], "locale": "en"}, headers=me)
            assert updated.status_code == 201, updated.text
            assert updated.json()["events"] == ["IntegratorContactsUpdated"]
            # Another integrator may not change them; a bad address is named.
            other = onboarding.auth("integrator", "0199a000-0000-7000-8000-0000000000ff")
            assert (
                await onboarding.http.put(path, json={"contacts": [CAROL], "locale": "en"}, headers=other)
            ).status_code in (403, 404)
            bad = await onboarding.http.put(
                path, json={"contacts": [{**CAROL, "email": "not-an-address"}], "locale": "en"}, headers=me
            )
            assert bad.status_code == 422 and "contacts" in bad.text

            notifier = services["notifier"]

            async def noted() -> bool:
                row = await notifier.runtime.projections.get("notifier_contacts", integrator_id)
                return bool(row) and [c["email"] for c in row["contacts"]] == [CAROL["email"]]

            await eventually(noted, what="the notifier notes the new contacts")

            # Thirty days on, the dossier is still incomplete: overdue once, to Carol in English and to ops.
            clock.advance(timedelta(days=30, seconds=1))
            await eventually(
                lambda: _async(
                    len(sent(sink, "dossier_overdue")) + len(sent(sink, "dossier_overdue_ops")) == 2
                ),
                what="the overdue emails",
            )
            [(to, subject)] = sent(sink, "dossier_overdue")
            assert to == CAROL["email"] and subject == "Your dossier is incomplete"
            assert [to for to, _ in sent(sink, "dossier_overdue_ops")] == [OPS]
            assert not [
                m
                for m in mailbox(sink)
                if m["To"] == "jeanne@telecom-exemple.fr" and m["X-Notifier-Template"] != "welcome"
            ]
            # Raised once, however many times the schedule looked since.
            history = await onboarding.runtime.read_stream(f"integrator-{integrator_id}")
            assert [r.envelope.event_type for r in history].count("DossierWentOverdue") == 1
            status = await onboarding.http.get(
                f"/integrators/{integrator_id}", headers=onboarding.auth("ops")
            )
            assert status.json()["locale"] == "en"
            assert status.json()["dossier_overdue"]["missing"][0] == "electrical_profile_sheet"
    finally:
        sink.stop()


async def _async(value: Any) -> Any:
    return value
