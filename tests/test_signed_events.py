"""Signed events (issue 22): the relay signs what it publishes; a consumer believes a message only when
the owner of its topic signed it (unsigned, badly signed, an unknown key, another service's key → dead
letter naming why); two keys of one producer are honoured while it rotates; outside DEV_MODE a service
refuses to start on the built-in keys. On the real broker and database."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from chassis.settings import ServiceSettings, WeakSecret
from chassis.signing import (
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    Signer,
    Verifier,
    dev_signer,
    sign_headers,
    signature,
    signed_message,
)
from contracts import topics
from notifier import app as notifier_app
from tests.support import chassis_app
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[1]
STRONG = secrets.token_urlsafe(48)


def _envelope(sent_by: str, integrator_id: str = "i") -> bytes:
    return json.dumps(
        {
            "event_id": str(uuid4()),
            "event_type": "ConfigurationSheetSent",
            "schema_version": 1,
            "occurred_at": datetime(2026, 1, 5, tzinfo=UTC).isoformat(),
            "producer": "onboarding",
            "stream_id": f"sheet-{sent_by}",
            "stream_version": 1,
            "integrator_id": integrator_id,
            "correlation_id": str(uuid4()),
            "causation_id": None,
            "payload": {"sent_by": sent_by},
        }
    ).encode()


# --- the signed message, without I/O ------------------------------------------------------------


def test_no_byte_can_move_between_the_signed_fields():
    """Length-prefixed: the same bytes cut differently between key, event type and value sign
    differently, and a missing key is not an empty one."""
    secret = b"k" * 32
    assert signed_message(b"ab", b"c", b"d") != signed_message(b"a", b"bc", b"d")
    assert signature(secret, b"ab", b"c", b"d") != signature(secret, b"a", b"bc", b"d")
    assert signature(secret, b"a", b"b", b"cd") != signature(secret, b"a", b"bc", b"d")
    assert signature(secret, None, b"t", b"v") != signature(secret, b"", b"t", b"v")
    assert signature(secret, b"k", b"t", None) != signature(secret, b"k", b"t", b"")


def _verifier() -> Verifier:
    return Verifier(
        {
            "onboarding": {"onboarding-old": b"o" * 32, "onboarding-new": b"n" * 32},
            "support": {"support-1": b"s" * 32},
        }
    )


def _headers(signer: Signer, key: bytes | None, value: bytes, event_type: str) -> dict[str, str]:
    return {k: v.decode() for k, v in sign_headers(signer, key, value, event_type)}


def test_the_verifier_names_why_it_refuses():
    verifier, value = _verifier(), _envelope("x")
    topic = topics.ONBOARDING
    new, old = Signer("onboarding-new", b"n" * 32), Signer("onboarding-old", b"o" * 32)
    assert verifier.refusal(topic, _headers(new, b"i", value, "ConfigurationSheetSent"), b"i", value) is None
    assert verifier.refusal(topic, _headers(old, b"i", value, "ConfigurationSheetSent"), b"i", value) is None
    assert verifier.refusal(topic, {"event_type": "ConfigurationSheetSent"}, b"i", value).startswith(
        "unsigned"
    )
    signed = _headers(new, b"i", value, "ConfigurationSheetSent")
    assert "bad signature" in verifier.refusal(topic, signed, b"other", value)  # key changed
    assert "bad signature" in verifier.refusal(topic, signed, b"i", value + b" ")  # value changed
    assert "bad signature" in verifier.refusal(topic, {**signed, "event_type": "GoLiveDeclared"}, b"i", value)
    by_support = _headers(Signer("support-1", b"s" * 32), b"i", value, "ConfigurationSheetSent")
    assert "support's key" in verifier.refusal(topic, by_support, b"i", value)
    unknown = _headers(Signer("someone", b"x" * 32), b"i", value, "ConfigurationSheetSent")
    assert "unknown key id 'someone'" in verifier.refusal(topic, unknown, b"i", value)
    # Support's valid signature on its own topic, but over an event type only onboarding produces.
    forged = _headers(Signer("support-1", b"s" * 32), b"i", value, "IntegratorRegistered")
    assert "is onboarding's" in verifier.refusal(topics.SUPPORT, forged, b"i", value)
    without_type = {k: v for k, v in signed.items() if k != "event_type"}
    assert "event_type" in verifier.refusal(topic, without_type, b"i", value)


# --- keys from settings ---------------------------------------------------------------------------


def test_outside_dev_mode_the_built_in_event_keys_are_refused_naming_the_variables():
    strong = {"auth_secret": STRONG, "link_signing_secret": STRONG}
    with pytest.raises(WeakSecret) as refused:
        ServiceSettings(dev_mode=False, **strong).refuse_weak_secrets()
    assert "EVENT_SIGNING_KEY_ID and EVENT_SIGNING_KEY are unset" in str(refused.value)
    assert "EVENT_VERIFICATION_KEYS is unset" in str(refused.value)
    dev = dev_signer("support")
    with pytest.raises(WeakSecret) as refused:
        ServiceSettings(
            dev_mode=False,
            event_signing_key_id="onboarding-1",
            event_signing_key=STRONG,
            event_verification_keys={"support": {dev.kid: dev.secret.decode(), "support-2": "short"}},
            **strong,
        ).refuse_weak_secrets()
    assert str(refused.value).startswith(
        "EVENT_VERIFICATION_KEYS[support][support-dev] is a built-in development key (public); "
        "EVENT_VERIFICATION_KEYS[support][support-2] is 5 bytes, under 32"
    )
    with pytest.raises(WeakSecret, match=r"^EVENT_SIGNING_KEY is a built-in development key"):
        ServiceSettings(
            dev_mode=False,
            event_signing_key_id="onboarding-1",
            event_signing_key=dev_signer("onboarding").secret.decode(),
            event_verification_keys={},
            **strong,
        ).refuse_weak_secrets()


def test_a_verification_key_filed_under_an_unknown_service_is_refused():
    with pytest.raises(ValueError, match="unknown services \\['onbaording'\\]"):
        ServiceSettings(event_verification_keys={"onbaording": {"k": STRONG}})


async def test_a_consumer_without_keys_for_a_topic_it_reads_refuses_to_start():
    """The notifier reads five topics; given keys of support only, every other producer's event would
    be dead-lettered: it refuses to start, naming them, before touching its database."""
    settings = notifier_app.Settings(
        dev_mode=True,
        database_url="postgresql://nobody@127.0.0.1:1/none",
        event_verification_keys={"support": {"support-1": STRONG}},
    )
    runtime = notifier_app.build_runtime(settings)
    with pytest.raises(WeakSecret, match="no key of ism-provisioning, onboarding, sim-logistics, web, whose"):
        await runtime.start()
    assert not runtime.started
    # A service reading only its own topic is covered by its own signing key.
    assert chassis_app.build_runtime(settings).event_signatures.missing_owners({topics.ONBOARDING}) == []


def test_the_service_process_refuses_to_start_on_the_built_in_event_keys():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DEV_MODE", "AUTH_SECRET", "LINK_SIGNING_SECRET") and not k.startswith("EVENT_")
    }
    env.update(
        AUTH_SECRET=STRONG, LINK_SIGNING_SECRET=STRONG, DATABASE_URL="postgresql://nobody@127.0.0.1:1/none"
    )
    result = subprocess.run(
        [sys.executable, "-m", "tests.support.chassis_app", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "refusing to start" in result.stderr and "EVENT_SIGNING_KEY" in result.stderr
    assert "EVENT_VERIFICATION_KEYS is unset" in result.stderr


# --- on the real broker -----------------------------------------------------------------------------


async def _consumed(rt) -> int:
    return await rt.pool.fetchval("SELECT count(*) FROM consumed")


async def _reasons(rt, n: int) -> list[str] | None:
    rows = await rt.pool.fetch("SELECT reason FROM dead_letters ORDER BY kafka_offset")
    return [r["reason"] for r in rows] if len(rows) >= n else None


async def _at_least(rt, n: int) -> int | None:
    count = await _consumed(rt)
    return count if count >= n else None


async def test_a_consumer_dead_letters_what_the_topics_owner_did_not_sign_naming_why(service, stack):
    async with service(chassis_app) as svc:
        rt = svc.runtime
        topic = rt.settings.topic(topics.ONBOARDING)
        onboarding, support = dev_signer("onboarding"), dev_signer("support")
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.bootstrap)
        await producer.start()
        try:

            async def send(value: bytes, headers: list[tuple[str, bytes]]) -> None:
                # One partition: in order, the valid event last.
                await producer.send_and_wait(topic, value, key=b"i", partition=0, headers=headers)

            kind = "ConfigurationSheetSent"
            unsigned = _envelope("unsigned")
            await send(unsigned, [("event_type", kind.encode())])
            tampered = _envelope("tampered")
            headers = sign_headers(onboarding, b"i", tampered, kind)
            await send(tampered.replace(b"tampered", b"Tampered"), headers)
            by_support = _envelope("by-support")
            await send(by_support, sign_headers(support, b"i", by_support, kind))
            unknown = _envelope("unknown-key")
            await send(unknown, sign_headers(Signer("onboarding-1999", STRONG.encode()), b"i", unknown, kind))
            valid = _envelope("valid")
            await send(valid, sign_headers(onboarding, b"i", valid, kind))
        finally:
            await producer.stop()
        await eventually(lambda: _at_least(rt, 1), what="the signed event handled")
        reasons = await eventually(lambda: _reasons(rt, 4), what="four dead letters")
        assert reasons[0].startswith("unsigned: no sig_kid/sig header"), reasons
        assert reasons[1].startswith("bad signature: does not match onboarding's key 'onboarding-dev'"), (
            reasons
        )
        assert reasons[2].startswith("signed with support's key 'support-dev', not by onboarding"), reasons
        assert reasons[3].startswith("signed with unknown key id 'onboarding-1999'"), reasons
        senders = await rt.pool.fetchval("SELECT count(*) FROM consumed")
        assert senders == 1  # none of the four had an effect
        # Replay checks the signature again: still refused, for the same reason.
        rows = await rt.pool.fetch("SELECT id FROM dead_letters ORDER BY kafka_offset")
        replayed = await svc.http.post(f"/ops/dead-letters/{rows[2]['id']}/replay", headers=svc.auth("ops"))
        assert replayed.status_code == 200, replayed.text
        assert replayed.json()["replayed"] is False and "support's key" in replayed.json()["reason"]


async def test_during_a_rotation_the_previous_key_is_still_believed(service, stack):
    """Onboarding signs with its new key; its consumers still list the old one: an event signed with
    the old key (published before the switch) and one with the new key are both handled; one signed
    with a key no longer listed is not."""
    old, new, retired = (Signer(f"onboarding-{n}", secrets.token_bytes(32).hex().encode()) for n in (1, 2, 0))
    async with service(
        chassis_app,
        event_signing_key_id=new.kid,
        event_signing_key=new.secret.decode(),
        event_verification_keys={"onboarding": {old.kid: old.secret.decode()}},
    ) as svc:
        rt = svc.runtime
        topic = rt.settings.topic(topics.ONBOARDING)
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.bootstrap)
        await producer.start()
        try:
            for signer, sent_by in ((retired, "retired"), (old, "before-the-switch")):
                value = _envelope(sent_by)
                headers = sign_headers(signer, b"i", value, "ConfigurationSheetSent")
                await producer.send_and_wait(topic, value, key=b"i", partition=0, headers=headers)
        finally:
            await producer.stop()
        # Its own relay signs with the new key, and its consumer believes it.
        await rt.execute(stream_id="s", integrator_id="i", decide=chassis_app.send_sheet("after-the-switch"))
        await eventually(lambda: _at_least(rt, 2), what="the old key's and the new key's events handled")
        [reason] = await eventually(lambda: _reasons(rt, 1), what="the retired key's event dead-lettered")
        assert "unknown key id 'onboarding-0'" in reason
        assert await _consumed(rt) == 2


async def test_the_relays_messages_carry_a_valid_signature_of_its_service(service, stack):
    kid, key = "onboarding-2026-12", secrets.token_urlsafe(48)
    async with service(
        chassis_app, run_reactions=False, event_signing_key_id=kid, event_signing_key=key
    ) as svc:
        rt = svc.runtime
        for n in range(3):
            await rt.execute(stream_id=f"s{n}", integrator_id=f"i{n}", decide=chassis_app.send_sheet(f"u{n}"))
        consumer = AIOKafkaConsumer(
            rt.settings.topic(topics.ONBOARDING),
            bootstrap_servers=stack.kafka.bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
            fetch_max_wait_ms=20,
        )
        await consumer.start()
        try:

            async def three() -> list | None:
                batches = await consumer.getmany(timeout_ms=500)
                three.seen += [m for msgs in batches.values() for m in msgs]  # type: ignore[attr-defined]
                return three.seen if len(three.seen) >= 3 else None  # type: ignore[attr-defined]

            three.seen = []  # type: ignore[attr-defined]
            messages = await eventually(three, what="the relay's three messages")
        finally:
            await consumer.stop()
        verifier = Verifier({"onboarding": {kid: key.encode()}}, rt.settings.kafka_topic_prefix)
        for message in messages:
            headers = {k: v.decode() for k, v in message.headers}
            assert headers[KEY_ID_HEADER] == kid
            assert (
                headers[SIGNATURE_HEADER]
                == signature(
                    key.encode(), message.key, headers["event_type"].encode(), message.value
                ).decode()
            )
            assert verifier.refusal(message.topic, headers, message.key, message.value) is None
