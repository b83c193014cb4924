"""Pure parts of the chassis: link tokens, auth tokens, the content-addressed file store, the clock."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import jwt
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
    assert verify_link_token(SECRET, "survey", token, now=NOW + timedelta(days=14, seconds=-1))[0] == token_id
    with pytest.raises(CommandRefused, match="expired") as expired:
        verify_link_token(SECRET, "survey", token, now=NOW + timedelta(days=14))
    assert (expired.value.code, expired.value.field) == ("expired_token", "token")
    for purpose, secret, text in [
        ("set-password", SECRET, token),  # another purpose
        ("survey", "other" * 10, token),  # another secret
        ("survey", SECRET, "garbage"),
        ("survey", SECRET, ""),
        ("survey", SECRET, "a.b.c"),
        ("survey", SECRET, token + "x"),
    ]:
        with pytest.raises(CommandRefused, match="not valid") as refused:
            verify_link_token(secret, purpose, text, now=NOW)
        assert (refused.value.code, refused.value.field) == ("invalid_token", "token")


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _forge(token: str, **claims: object) -> str:
    """The token with its claims changed and its signature kept: what a tamperer can do without the secret."""
    header, _, signature = token.split(".")
    payload = base64.urlsafe_b64encode(json.dumps(_claims(token) | claims).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


def test_a_link_token_is_a_jwt_checked_by_pyjwt():
    token_id = uuid4()
    token = sign_link_token(SECRET, "survey", token_id, NOW + timedelta(days=14))
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="survey", options={"verify_exp": False})
    assert claims == {
        "iss": "integrator-platform",
        "aud": "survey",
        "jti": str(token_id),
        "exp": int((NOW + timedelta(days=14)).timestamp()),
    }
    # URL-safe as it is, in a path (/survey/{token}) or a query (?token=...), and short enough:
    # 77 characters in the old format, 207-221 as a JWT (typ header left out).
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", token)
    longest = sign_link_token(SECRET, "portal_invitation", token_id, NOW + timedelta(days=14))
    assert len(token) <= len(longest) <= 230


def test_a_tampered_link_token_is_refused_even_before_its_expiry():
    token = sign_link_token(SECRET, "survey", uuid4(), NOW + timedelta(days=1))
    for forged in [
        _forge(token, exp=int((NOW + timedelta(days=365)).timestamp())),  # a longer life
        _forge(token, aud="password_reset"),  # another purpose
        _forge(token, jti=str(uuid4())),  # another link's id
        _forge(token, iss="someone-else"),
    ]:
        with pytest.raises(CommandRefused, match="not valid"):
            verify_link_token(SECRET, "survey", forged, now=NOW)
    # Signed with the secret but not a link of ours: another issuer, no expiry, `none` algorithm.
    exp = int((NOW + timedelta(days=1)).timestamp())
    for claims, algorithm in [
        ({"iss": "someone-else", "aud": "survey", "jti": str(uuid4()), "exp": exp}, "HS256"),
        ({"iss": "integrator-platform", "aud": "survey", "jti": str(uuid4())}, "HS256"),
        ({"iss": "integrator-platform", "aud": "survey", "jti": "not-a-uuid", "exp": exp}, "HS256"),
        ({"iss": "integrator-platform", "aud": "survey", "jti": str(uuid4()), "exp": exp}, "none"),
    ]:
        other = jwt.encode(claims, SECRET if algorithm != "none" else None, algorithm=algorithm)
        with pytest.raises(CommandRefused, match="not valid"):
            verify_link_token(SECRET, "survey", other, now=NOW)


def _old_format_link(secret: str, purpose: str, token_id: UUID, expires_at: datetime) -> str:
    """A link as `sign_link_token` made them before the JWT format (the code as it was)."""
    expiry = int(expires_at.timestamp())
    mac = hmac.new(secret.encode(), f"{purpose}|{token_id}|{expiry}".encode(), hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return f"{b64(token_id.bytes)}.{expiry}.{b64(mac)}"


def test_a_link_mailed_in_the_old_format_is_honoured_until_it_expires():
    token_id = uuid4()
    token = _old_format_link(SECRET, "survey", token_id, NOW + timedelta(days=14))
    assert len(token) == 77
    assert verify_link_token(SECRET, "survey", token, now=NOW) == (token_id, NOW + timedelta(days=14))
    with pytest.raises(CommandRefused, match="expired"):
        verify_link_token(SECRET, "survey", token, now=NOW + timedelta(days=14))
    with pytest.raises(CommandRefused, match="not valid"):
        verify_link_token(SECRET, "set-password", token, now=NOW)
    with pytest.raises(CommandRefused, match="not valid"):
        verify_link_token("other" * 10, "survey", token, now=NOW)
    tampered = token.split(".")
    tampered[1] = str(int(tampered[1]) + 86400)
    with pytest.raises(CommandRefused, match="not valid"):
        verify_link_token(SECRET, "survey", ".".join(tampered), now=NOW)


def test_checking_links_logs_neither_the_secret_nor_the_token(caplog):
    caplog.set_level(logging.DEBUG)
    token = sign_link_token(SECRET, "survey", uuid4(), NOW + timedelta(days=1))
    old = _old_format_link(SECRET, "survey", uuid4(), NOW + timedelta(days=1))
    refusals = []
    for text, purpose, at in [
        (token, "survey", NOW),
        (old, "survey", NOW),
        (token, "password_reset", NOW),
        (token, "survey", NOW + timedelta(days=2)),
        (_forge(token, aud="x"), "survey", NOW),
    ]:
        try:
            verify_link_token(SECRET, purpose, text, now=at)
        except CommandRefused as refused:
            refusals.append(f"{refused} {refused.__cause__!r} {refused.__context__!r}")
    said = caplog.text + " ".join(refusals)
    assert len(refusals) == 3
    for never in (SECRET, token, token.split(".")[-1], old, old.split(".")[-1]):
        assert never not in said


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
