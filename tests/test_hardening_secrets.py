"""Secrets that refuse to be defaults, and tokens with an issuer, an audience and a bounded lifetime
(issue 16, finding 4)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from fastapi import HTTPException

from chassis.auth import AUDIENCE, ISSUER, decode_token, mint_token
from chassis.settings import ServiceSettings, WeakSecret
from tests.support import chassis_app
from tests.support.load import budget

ROOT = Path(__file__).resolve().parents[1]
STRONG = secrets.token_urlsafe(48)


def test_outside_dev_mode_the_built_in_secrets_are_refused_naming_both_variables():
    with pytest.raises(WeakSecret) as refused:
        ServiceSettings(dev_mode=False).refuse_weak_secrets()
    assert "AUTH_SECRET is the built-in" in str(refused.value)
    assert "LINK_SIGNING_SECRET is the built-in" in str(refused.value)


def test_a_short_secret_is_refused_naming_its_variable():
    with pytest.raises(WeakSecret, match=r"^LINK_SIGNING_SECRET is 1 bytes, under 32") as refused:
        ServiceSettings(dev_mode=False, auth_secret=STRONG, link_signing_secret="x").refuse_weak_secrets()  # noqa: S106
    assert "AUTH_SECRET" not in str(refused.value).replace("LINK_SIGNING_SECRET", "")
    with pytest.raises(WeakSecret, match=r"AUTH_SECRET is 31 bytes"):
        ServiceSettings(
            dev_mode=False, auth_secret="a" * 31, link_signing_secret=STRONG
        ).refuse_weak_secrets()


#: Strong event keys (issue 22): without them a service refuses to start outside DEV_MODE too.
EVENT_KEYS = {
    "event_signing_key_id": "onboarding-2026-12",
    "event_signing_key": secrets.token_urlsafe(48),
    "event_verification_keys": {"support": {"support-2026-12": secrets.token_urlsafe(48)}},
}


def test_strong_secrets_or_dev_mode_start():
    ServiceSettings(
        dev_mode=False, auth_secret=STRONG, link_signing_secret=STRONG, **EVENT_KEYS
    ).refuse_weak_secrets()
    ServiceSettings(dev_mode=True).refuse_weak_secrets()


async def test_a_runtime_on_the_built_in_secret_refuses_to_start_before_touching_anything():
    settings = chassis_app.Settings(dev_mode=False, database_url="postgresql://nobody@127.0.0.1:1/none")
    runtime = chassis_app.build_runtime(settings)
    with pytest.raises(WeakSecret, match="AUTH_SECRET"):
        await runtime.start()
    assert not runtime.started


def _serve(env_overrides: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DEV_MODE", "AUTH_SECRET", "LINK_SIGNING_SECRET") and not k.startswith("EVENT_")
    }
    env.update(env_overrides, DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    return subprocess.run(
        [sys.executable, "-m", "tests.support.chassis_app", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_service_process_exits_with_a_message_naming_the_variable():
    started = time.monotonic()
    result = _serve({})
    assert result.returncode == 2, result.stderr[-2000:]
    assert "refusing to start" in result.stderr and "AUTH_SECRET" in result.stderr
    assert time.monotonic() - started < budget(30)  # at once, not after retrying the database
    result = _serve({"AUTH_SECRET": STRONG, "LINK_SIGNING_SECRET": "short"})
    assert result.returncode == 2
    assert "LINK_SIGNING_SECRET is 5 bytes" in result.stderr and "AUTH_SECRET is" not in result.stderr


def test_tokens_carry_issuer_audience_and_a_bounded_lifetime():
    token = mint_token(STRONG, role="ops", subject="o")
    claims = jwt.decode(token, STRONG, algorithms=["HS256"], audience=AUDIENCE)
    assert claims["iss"] == ISSUER and claims["aud"] == AUDIENCE
    assert claims["exp"] - claims["iat"] <= 12 * 3600
    assert decode_token(STRONG, token).role == "ops"
    with pytest.raises(ValueError, match="at most"):
        mint_token(STRONG, role="ops", subject="o", ttl=timedelta(days=30))


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": ISSUER},  # no audience
        {"aud": AUDIENCE},  # no issuer
        {"iss": "someone-else", "aud": AUDIENCE},
        {"iss": ISSUER, "aud": "another-api"},
        {"iss": ISSUER, "aud": AUDIENCE, "iat": None},  # no issue time: its lifetime is unknown
        {"iss": ISSUER, "aud": AUDIENCE, "exp_in": timedelta(days=365)},  # lives a year
    ],
    ids=["no-aud", "no-iss", "wrong-iss", "wrong-aud", "no-iat", "a-year"],
)
def test_a_token_without_issuer_audience_or_bounded_lifetime_is_refused(claims):
    now = datetime.now(UTC)
    body = {"sub": "o", "role": "ops", "iat": now, "exp": now + claims.pop("exp_in", timedelta(hours=1))}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    forged = jwt.encode(body, STRONG, algorithm="HS256")
    with pytest.raises(HTTPException) as refused:
        decode_token(STRONG, forged)
    assert refused.value.status_code == 401
