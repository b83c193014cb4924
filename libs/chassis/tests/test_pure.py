"""Pure parts of the chassis: link tokens, auth tokens, the content-addressed file store, the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from fastapi import HTTPException

from chassis.auth import Principal, authorize_integrator, decode_token, mint_token
from chassis.clock import ManualClock, OffsetClock, SystemClock, clock_for
from chassis.devstack import mail_file_name
from chassis.files import FileStore
from chassis.links import sign_link_token, verify_link_token
from contracts.errors import CommandRefused

SECRET = "s" * 40
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_a_link_token_verifies_for_its_purpose_until_it_expires():
    token_id = uuid4()
    token = sign_link_token(SECRET, "survey", token_id, NOW + timedelta(days=14))
    assert verify_link_token(SECRET, "survey", token, now=NOW) == (token_id, NOW + timedelta(days=14))
    with pytest.raises(CommandRefused, match="expired"):
        verify_link_token(SECRET, "survey", token, now=NOW + timedelta(days=14))
    with pytest.raises(CommandRefused, match="not valid"):
        verify_link_token(SECRET, "set-password", token, now=NOW)
    with pytest.raises(CommandRefused, match="not valid"):
        verify_link_token("other" * 10, "survey", token, now=NOW)
    with pytest.raises(CommandRefused, match="not valid"):
        verify_link_token(SECRET, "survey", "garbage", now=NOW)
    tampered = token.split(".")
    tampered[1] = str(int(tampered[1]) + 86400)
    with pytest.raises(CommandRefused, match="not valid"):
        verify_link_token(SECRET, "survey", ".".join(tampered), now=NOW)


def test_auth_tokens_carry_role_and_integrator():
    token = mint_token(SECRET, role="integrator", subject="u1", integrator_id="i-1")
    assert decode_token(SECRET, token) == Principal(subject="u1", role="integrator", integrator_id="i-1")
    with pytest.raises(HTTPException) as refused:
        decode_token("x" * 40, token)
    assert refused.value.status_code == 401
    expired = mint_token(SECRET, role="ops", subject="o", ttl=timedelta(seconds=-1))
    with pytest.raises(HTTPException):
        decode_token(SECRET, expired)
    with pytest.raises(ValueError):
        mint_token(SECRET, role="integrator", subject="u")


def test_an_integrator_never_reaches_another_integrator():
    authorize_integrator(Principal("u", "integrator", "a"), "a")
    authorize_integrator(Principal("o", "ops"), "b")
    with pytest.raises(HTTPException) as refused:
        authorize_integrator(Principal("u", "integrator", "a"), "b")
    assert refused.value.status_code == 404


def test_files_are_content_addressed(tmp_path):
    store = FileStore(tmp_path)
    ref = store.put(b"hello", "a.txt", "text/plain")
    again = store.put(b"hello", "b.txt", "text/plain")
    assert ref.sha256 == again.sha256 and store.read(ref.sha256) == b"hello"
    with pytest.raises(ValueError):
        store.read("../../etc/passwd")


def test_manual_clock_moves_only_when_told():
    clock = ManualClock(NOW)
    assert clock.now() == NOW
    assert clock.advance(timedelta(days=15)) == NOW + timedelta(days=15)


def test_an_offset_clock_runs_ahead_of_the_system_clock_and_keeps_ticking():
    assert isinstance(clock_for(0), SystemClock)
    clock = clock_for(3600)
    assert isinstance(clock, OffsetClock)
    first = clock.now()
    assert timedelta(minutes=59) < first - SystemClock().now() <= timedelta(hours=1)
    clock.advance(timedelta(days=2))
    assert clock.now() - first >= timedelta(days=2)


def test_mail_files_are_named_by_message_id():
    assert mail_file_name("<abc.123@notifier.example>") == "abc.123@notifier.example.eml"
    assert "/" not in mail_file_name("<../../x@y>")
