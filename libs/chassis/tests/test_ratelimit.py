"""Rate limits: a key's uses in a moving window, then 429 with Retry-After; other keys untouched."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from chassis.ratelimit import RateLimits


def test_a_key_is_refused_past_its_rate_with_the_wait_and_others_go_on():
    limits = RateLimits()
    assert [limits.retry_after("survey-link", "token-a", "3/minute") for _ in range(3)] == [0, 0, 0]
    wait = limits.retry_after("survey-link", "token-a", "3/minute")
    assert 1 <= wait <= 60
    assert limits.retry_after("survey-link", "token-b", "3/minute") == 0
    assert limits.retry_after("sign-in", "token-a", "3/minute") == 0  # scopes are separate


def test_enforce_answers_429_with_retry_after():
    limits = RateLimits()
    limits.enforce("registration", "ops@vendor.fr", "1/hour")
    with pytest.raises(HTTPException) as refused:
        limits.enforce("registration", "ops@vendor.fr", "1/hour")
    assert refused.value.status_code == 429
    assert 3000 < int(refused.value.headers["Retry-After"]) <= 3600


def test_disabled_limits_count_nothing():
    limits = RateLimits(enabled=False)
    assert all(limits.retry_after("x", "k", "1/hour") == 0 for _ in range(5))
