"""Property, on the real broker and PostgreSQL with the whole platform running: whatever bytes a message
holds — any header names and values (NUL, empty, none at all, huge, not UTF-8), any key or none, any
body, a tombstone, a value over the consumers' 1 MB limit — every service's consumer that reads its
topic parks it as a dead letter (table and topic, its bytes as they came) and handles the valid event
published after it.

Each example puts the hostile message on every partition of onboarding's topic (read by sim-logistics,
ism-provisioning, support, the notifier and the web front) and of sim-logistics' topic (read by
onboarding, ism-provisioning and the notifier), so it comes before the valid events whichever
partition their integrator's key lands on. The valid events come from real commands on onboarding's
API — an integrator registered, its electrical profile created, its logo accepted — and each
consumer's own effect is awaited: support notes the integrator, the notifier intends the welcome
email, the web front invites the contact, sim-logistics opens the test-SIM step, onboarding notes that
step as a milestone (from sim-logistics' event), ism-provisioning notes the logo.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from chassis.consumer import MAX_MESSAGE_BYTES
from chassis.devstack import free_port
from contracts import topics
from ism_provisioning import app as ism_app
from notifier import app as notifier_app
from onboarding import app as onboarding_app
from platform_cli import samples
from sim_logistics import app as sim_app
from support import app as support_app
from tests.support.poison import dead_letters_of, decoded
from tests.support.waiting import eventually
from web import app as web_app

#: Who reads each topic the hostile messages go to, and what each does with the valid events after.
READERS = {
    topics.ONBOARDING: ("sim-logistics", "ism-provisioning", "support", "notifier", "web"),
    topics.SIM_LOGISTICS: ("onboarding", "ism-provisioning", "notifier"),
}
EFFECT = {
    "support": "IntegratorNoted",
    "notifier": "EmailIntended",
    "web": "PortalUserInvited",
    "sim-logistics": "TestSimsStepOpened",
    "onboarding": "OnboardingMilestoneNoted",
    "ism-provisioning": "LogoAcceptanceNoted",
}
#: The broker's default largest message (message.max.bytes): a hostile producer can send up to it.
BROKER_MAX_MESSAGE_BYTES = 1_048_000


def _repeated(chunk: bytes, size: int) -> bytes:
    return (chunk * (size // len(chunk) + 1))[:size]


# Hypothesis draws at most a few kB per example: big values are a drawn chunk repeated to a drawn size.
huge = st.builds(_repeated, st.binary(min_size=1, max_size=8), st.integers(64 * 1024, 300 * 1024))
over_the_limit = st.builds(
    _repeated,
    st.binary(min_size=1, max_size=8),
    st.integers(MAX_MESSAGE_BYTES - 8, MAX_MESSAGE_BYTES + 30_000),
)
header_values = (
    st.none() | st.binary(max_size=64) | st.sampled_from([b"", b"x\x00y", b"\xff\xfe\xc3", b"\x00"]) | huge
)
header_names = st.text(max_size=20) | st.sampled_from(
    ["event_type", "traceparent", "tracestate", "dlq_reason", ""]
)
keys = (
    st.none()
    | st.binary(max_size=64)
    | st.builds(_repeated, st.binary(min_size=1, max_size=4), st.integers(1024, 4096))
)
json_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
).map(lambda v: json.dumps(v).encode())
# Any body that is not a relay's event: bytes, JSON that is no envelope, a tombstone, too big.
bodies = st.binary(max_size=256) | json_junk | st.none() | over_the_limit


@st.composite
def hostile_messages(draw: st.DrawFn) -> dict[str, Any]:
    message = {
        "key": draw(keys),
        "value": draw(bodies),
        "headers": draw(st.lists(st.tuples(header_names, header_values), max_size=6)),
    }
    if message["key"] is None and message["value"] is None:
        message["key"] = b""  # a tombstone has a key (the client refuses to send one without)
    size = len(message["key"] or b"") + len(message["value"] or b"")
    size += sum(len(k.encode()) + len(v or b"") for k, v in message["headers"])
    # What the broker takes at most: beyond it the hostile producer is refused before any consumer.
    if size > BROKER_MAX_MESSAGE_BYTES:
        message["headers"] = [
            (k, v if v is None or len(v) < 1024 else v[:1024]) for k, v in message["headers"]
        ]
    return message


@pytest.fixture
async def running(platform: Any, stack: Any) -> AsyncIterator[dict[str, Any]]:
    """The whole platform, once for all the examples (each uses its own integrator and offsets), with a
    hostile producer and a reader of the dead-letter topic every service writes to."""
    modules = [onboarding_app, sim_app, ism_app, support_app, notifier_app, web_app]
    async with platform(modules, smtp_port=free_port()) as svcs:
        settings = svcs["onboarding"].runtime.settings
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.bootstrap, max_request_size=4 * 1024 * 1024)
        dlq_topic = settings.topic(topics.DEAD_LETTERS)
        dlq = AIOKafkaConsumer(
            bootstrap_servers=stack.kafka.bootstrap,
            group_id=None,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await producer.start()
        await dlq.start()
        try:
            partitions = sorted(await producer.partitions_for(dlq_topic))
            dlq.assign([TopicPartition(dlq_topic, p) for p in partitions])
            await dlq.seek_to_beginning()
            yield {"svcs": svcs, "producer": producer, "dlq": dlq, "dlq_seen": set(), "settings": settings}
        finally:
            await dlq.stop()
            await producer.stop()


async def _send_everywhere(
    running: dict[str, Any], topic: str, message: dict[str, Any]
) -> list[tuple[int, int]]:
    producer: AIOKafkaProducer = running["producer"]
    sent = []
    for partition in sorted(await producer.partitions_for(topic)):
        meta = await producer.send_and_wait(topic, partition=partition, **message)
        sent.append((meta.partition, meta.offset))
    return sent


async def _valid_events(onboarding: Any) -> str:
    """An integrator registered, its electrical profile created and its logo accepted, through
    onboarding's API as ops would: the events every consumer must still handle."""
    ops = onboarding.auth("ops")
    body = samples.registration(samples.siret())
    address = f"jeanne-{uuid.uuid4().hex[:12]}@telecom-exemple.fr"  # a new address: the web front invites it
    body["contacts"] = [{"name": "Jeanne Martin", "email": address, "phone": "0601020304"}]
    response = await onboarding.http.post("/integrators", json=body, headers=ops)
    assert response.status_code == 201, response.text
    integrator_id: str = response.json()["integrator_id"]
    base = f"/integrators/{integrator_id}"
    for path, kwargs in (
        ("/configuration-sheet", {}),
        (
            "/dossier/electrical_profile_sheet",
            {"files": {"file": ("profil.xlsx", samples.configuration_sheet())}},
        ),
        ("/electrical-profile", {"json": {"profile_reference": "EP-1"}}),
        ("/dossier/logo", {"files": {"file": ("logo.png", samples.logo(), "image/png")}}),
        ("/dossier/logo/acceptance", {}),
    ):
        response = await onboarding.http.post(base + path, headers=ops, **kwargs)
        assert response.status_code == 201, (path, response.text)
    return integrator_id


async def _recorded(svc: Any, integrator_id: str, event_type: str) -> bool:
    return bool(
        await svc.runtime.pool.fetchval(
            "SELECT count(*) FROM events WHERE integrator_id = $1 AND event_type = $2",
            integrator_id,
            event_type,
        )
    )


async def _on_dead_letter_topic(running: dict[str, Any], wanted: set[tuple[str, str, int, int]]) -> None:
    """Wait until the dead-letter topic holds a copy of each (consumer, topic, partition, offset)."""
    dlq: AIOKafkaConsumer = running["dlq"]
    seen: set[tuple[str, str, int, int]] = running["dlq_seen"]

    async def arrived() -> bool:
        for messages in (await dlq.getmany(timeout_ms=100)).values():
            for m in messages:
                h = {k: (v or b"").decode("utf-8", "replace") for k, v in m.headers if k.startswith("dlq_")}
                seen.add((h["dlq_consumer"], h["dlq_topic"], int(h["dlq_partition"]), int(h["dlq_offset"])))
        return wanted <= seen

    await eventually(arrived, what=f"{len(wanted - seen)} dead letter(s) on the dead-letter topic")


# Bounded: each example is one trip through the six services (~1-2 s); shrinking a failure would
# replay the trip many times over, so it is off (the falsifying example is printed as drawn). The
# platform fixture is function-scoped and shared by the examples on purpose — starting six services
# per example would cost minutes — and each example uses its own integrator and offsets, so examples
# do not see one another's effects. Derandomized and without the example database: CI runs the same
# examples every time.
@settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@example({"key": b"i", "value": b"{}", "headers": [("event_type", b"x\x00y")]})  # the finding as reported
@example({"key": b"", "value": None, "headers": [("", None), ("\x00", b"")]})  # a tombstone, empty key
@example({"key": b"k", "value": _repeated(b"\x00\xff", MAX_MESSAGE_BYTES + 1), "headers": []})  # too big
@given(message=hostile_messages())
async def test_every_consumer_parks_any_hostile_message_and_handles_the_next_event(
    running: dict[str, Any], message: dict[str, Any]
) -> None:
    svcs, settings = running["svcs"], running["settings"]
    sent = {topic: await _send_everywhere(running, settings.topic(topic), message) for topic in READERS}
    integrator_id = await _valid_events(svcs["onboarding"])

    for name, event_type in EFFECT.items():
        await eventually(
            lambda svc=svcs[name], t=event_type: _recorded(svc, integrator_id, t),
            what=f"{name} handling the valid events after the hostile message ({event_type})",
            timeout=45,  # six services' chain on a loaded machine; the first example also waits for joins
        )
    on_topic = set()
    for topic, readers in READERS.items():
        broker_topic = settings.topic(topic)
        for name in readers:
            letters = await dead_letters_of(svcs[name], broker_topic, sent[topic])
            for letter in letters:
                assert decoded(letter) == (message["key"], message["value"], message["headers"]), letter[
                    "reason"
                ]
                on_topic.add(
                    (letter["consumer"], broker_topic, letter["kafka_partition"], letter["kafka_offset"])
                )
    await _on_dead_letter_topic(running, on_topic)
    for name, svc in svcs.items():
        status = (await svc.http.get("/ops/status", headers=svc.auth("ops"))).json()
        for consumer, health in status["consumers"].items():
            # Dead-lettered by its reader, not parked after its batch failed again and again.
            assert health["parked"] == 0 and health["failing"] == {}, (name, consumer, health)
