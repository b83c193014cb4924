"""Poison can always be parked: whatever bytes a message holds, its consumer keeps them as a dead
letter (table and topic) and goes on with the next event; a batch that fails again and again from the
same offset is not retried for ever — its message is parked, and ops see it (/ops/status, a metric).

On the real broker and PostgreSQL, with the real services; the valid events come from real commands
(an integrator registered through onboarding's API), never hand-built.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any

from chassis.devstack import free_port
from contracts import topics
from notifier import app as notifier_app
from onboarding import app as onboarding_app
from platform_cli import samples
from tests.support import chassis_app
from tests.support.poison import (
    dead_letter_topic,
    dead_letters_of,
    decoded,
    dlq_header,
    send_on_every_partition,
)
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[1]
NUL_HEADER = [("event_type", b"x\x00y")]


async def register(onboarding: Any) -> str:
    """An integrator registered by ops through onboarding's API, with a contact address of its own."""
    body = samples.registration(samples.siret())
    body["contacts"] = [
        {
            "name": "Jeanne Martin",
            "email": f"jeanne-{uuid.uuid4().hex[:12]}@telecom-exemple.fr",
            "phone": "0601020304",
        }
    ]
    response = await onboarding.http.post("/integrators", json=body, headers=onboarding.auth("ops"))
    assert response.status_code == 201, response.text
    integrator_id: str = response.json()["integrator_id"]
    return integrator_id


async def recorded(svc: Any, integrator_id: str, event_type: str) -> int:
    """How many `event_type` events the service recorded for the integrator (its effects)."""
    n: int = await svc.runtime.pool.fetchval(
        "SELECT count(*) FROM events WHERE integrator_id = $1 AND event_type = $2", integrator_id, event_type
    )
    return n


async def test_a_nul_byte_in_a_header_is_parked_and_the_next_registration_is_mailed(platform, stack):
    """Finding: a header value `x\\0y` made the dead-letter insert fail (jsonb refuses \\u0000), the
    batch came again for ever and no later event was handled, on any partition."""
    async with platform([onboarding_app, notifier_app], smtp_port=free_port()) as svcs:
        onboarding, notifier = svcs["onboarding"], svcs["notifier"]
        topic = notifier.runtime.settings.topic(topics.ONBOARDING)
        sent = await send_on_every_partition(
            stack.kafka.bootstrap, topic, key=b"i", value=b"{}", headers=NUL_HEADER
        )
        integrator_id = await register(onboarding)

        # The registration after it is handled: its welcome email is intended.
        await eventually(
            lambda: recorded(notifier, integrator_id, "EmailIntended"), what="the welcome email intended"
        )
        # The hostile message is a dead letter, its bytes as they came, one per partition it was on.
        letters = await dead_letters_of(notifier, topic, sent)
        assert len(letters) == len(sent)
        for letter in letters:
            assert decoded(letter) == (b"i", b"{}", NUL_HEADER), letter
            assert letter["consumer"] == "notifier.emails" and letter["reason"]
        # And on the dead-letter topic, header and all.
        published = await dead_letter_topic(
            notifier, stack.kafka.bootstrap, lambda m: dlq_header(m, "dlq_topic") == topic, len(sent)
        )
        assert sorted(
            (int(dlq_header(m, "dlq_partition")), int(dlq_header(m, "dlq_offset"))) for m in published
        ) == sorted(sent)
        assert all(("event_type", b"x\x00y") in m.headers and m.value == b"{}" for m in published)
        # The consumer never failed a batch for it.
        status = (await notifier.http.get("/ops/status", headers=notifier.auth("ops"))).json()
        assert status["consumers"]["notifier.emails"]["restarts"] == 0, status


async def test_a_batch_that_fails_again_and_again_from_one_offset_has_its_message_parked(
    service, stack, monkeypatch
):
    """A kind of poison nobody foresaw fails its whole batch, outside the handlers (there, a failure
    is already dead-lettered): the batch used to come again from the same offset for ever. Past
    CONSUMER_RESTARTS_BEFORE_PARKING failures in a row, the message is parked and the consumer goes on."""
    async with service(chassis_app, consumer_restarts_before_parking=2) as svc:
        rt = svc.runtime
        runner = rt.runners[0]
        handle_batch = runner.handle_batch

        async def failing_on_the_unforeseen(messages: list[Any]) -> None:
            if any(m.value == b"unforeseen" for m in messages):
                raise RuntimeError("a batch with the unforeseen message fails whole")
            await handle_batch(messages)

        monkeypatch.setattr(runner, "handle_batch", failing_on_the_unforeseen)
        topic = rt.settings.topic(topics.ONBOARDING)
        sent = await send_on_every_partition(
            stack.kafka.bootstrap, topic, key=b"k", value=b"unforeseen", headers=[]
        )
        # A real command after it: its event, relayed on one of the partitions, must be consumed.
        response = await svc.http.post("/sheets", json={"integrator_id": "acme", "sender": "ops"})
        assert response.status_code == 201, response.text

        async def consumed() -> int:
            n: int = await rt.pool.fetchval("SELECT count(*) FROM consumed")
            return n

        assert (
            await eventually(consumed, what="the sheet after the unforeseen message consumed", timeout=30)
            == 1
        )
        letters = await dead_letters_of(svc, topic, sent)
        for letter in letters:
            assert letter["reason"].startswith("parked: its batch failed 2 times in a row"), letter["reason"]
            assert "a batch with the unforeseen message fails whole" in letter["reason"]
            assert decoded(letter) == (b"k", b"unforeseen", [])
        # Ops see it: parked per consumer in /ops/status, nothing failing any more, and a metric.
        status = (await svc.http.get("/ops/status", headers=svc.auth("ops"))).json()
        echo = status["consumers"]["onboarding.echo"]
        assert echo["parked"] == len(sent) and echo["failing"] == {} and echo["restarts"] >= 2, echo
        metrics = (await svc.http.get("/metrics")).text
        assert (
            f'platform_consumer_messages_parked_total{{consumer="onboarding.echo",topic="{topics.ONBOARDING}"}} '
            f"{float(len(sent))}" in metrics
        )
        await dead_letter_topic(
            svc,
            stack.kafka.bootstrap,
            lambda m: (dlq_header(m, "dlq_reason") or "").startswith("parked"),
            len(sent),
        )


async def test_a_record_the_client_cannot_parse_is_on_the_dead_letter_topic_too(service, stack):
    """A header name that is not UTF-8 fails aiokafka's own parsing: the record is dead-lettered by its
    coordinates (its bytes never reached the consumer). Its copy on the dead-letter topic, with neither
    key nor value, used to be refused by the client (only logged): now it goes, its value empty."""
    async with service(chassis_app) as svc:
        topic = svc.runtime.settings.topic(topics.ONBOARDING)
        publisher = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.unparsable_header",
            stack.kafka.bootstrap,
            topic,
            "{}",
            cwd=ROOT,
        )
        assert await asyncio.wait_for(publisher.wait(), 60) == 0
        response = await svc.http.post("/sheets", json={"integrator_id": "acme", "sender": "ops"})
        assert response.status_code == 201, response.text

        async def consumed() -> int:
            n: int = await svc.runtime.pool.fetchval("SELECT count(*) FROM consumed")
            return n

        await eventually(consumed, what="the sheet after the unreadable record consumed")
        [letter] = await dead_letters_of(svc, topic, [(0, 0)])
        assert "UnicodeDecodeError" in letter["reason"] and decoded(letter) == (None, None, [])
        [copy] = await dead_letter_topic(
            svc, stack.kafka.bootstrap, lambda m: dlq_header(m, "dlq_topic") == topic, 1
        )
        assert dlq_header(copy, "dlq_offset") == "0" and dlq_header(copy, "dlq_no_value") == "true"
        assert "UnicodeDecodeError" in (dlq_header(copy, "dlq_reason") or "")


async def test_dead_letters_kept_before_stay_readable_and_replayable(service, stack):
    """The rows recorded before the raw-bytes columns (headers as latin-1 text in jsonb) read as they
    did: through /ops/dead-letters and by replay; the migration adds the columns to such a table."""
    async with service(chassis_app) as svc:
        rt = svc.runtime
        # The table as the previous schema made it, with one of its rows.
        await rt.pool.execute("ALTER TABLE dead_letters DROP COLUMN header_names, DROP COLUMN header_values")
        await rt.pool.execute(
            "INSERT INTO dead_letters (consumer, topic, kafka_partition, kafka_offset, message_key, "
            "message_value, headers, reason) VALUES ('onboarding.echo', 't', 0, 7, 'k', 'not json', "
            """'{"event_type": "\u00ff\u00fe"}'::jsonb, 'not JSON')"""
        )
        await rt.migrate()  # as at the next start
        [letter] = await dead_letters_of(svc, "t", [(0, 7)])
        assert decoded(letter) == (b"k", b"not json", [("event_type", b"\xff\xfe")])
        replayed = await svc.http.post(f"/ops/dead-letters/{letter['id']}/replay", headers=svc.auth("ops"))
        # Read back and refused again (it is no event), not failing on the row's shape.
        assert replayed.status_code == 200 and replayed.json()["replayed"] is False, replayed.text
        assert replayed.json()["reason"]


async def test_a_dead_letter_the_database_refuses_is_kept_by_its_coordinates_and_the_consumer_goes_on(
    service, stack
):
    """Should the database refuse the dead letter's row anyway (here a constraint added for the test),
    it is kept with its coordinates and reason only, in a savepoint, and the batch commits."""
    async with service(chassis_app) as svc:
        rt = svc.runtime
        await rt.pool.execute(
            "ALTER TABLE dead_letters ADD CONSTRAINT refuses_bytes CHECK (message_value IS NULL)"
        )
        topic = rt.settings.topic(topics.ONBOARDING)
        sent = await send_on_every_partition(
            stack.kafka.bootstrap, topic, key=b"k", value=b"\x00junk", headers=NUL_HEADER
        )
        response = await svc.http.post("/sheets", json={"integrator_id": "acme", "sender": "ops"})
        assert response.status_code == 201, response.text

        async def consumed() -> int:
            n: int = await rt.pool.fetchval("SELECT count(*) FROM consumed")
            return n

        await eventually(consumed, what="the sheet after the refused dead letter consumed")
        for letter in await dead_letters_of(svc, topic, sent):
            assert letter["bytes_kept"] is False and decoded(letter) == (None, None, [])
            assert "its bytes could not be kept: CheckViolationError" in letter["reason"], letter["reason"]
        status = (await svc.http.get("/ops/status", headers=svc.auth("ops"))).json()
        assert status["consumers"]["onboarding.echo"]["restarts"] == 0
