"""The satisfaction survey's link: its signed token is the credential of whoever holds the email.

The notifier signs it (`chassis.links`, purpose "survey") with the platform's link secret; support
only checks it here, and answers with the survey's token id (random, so the link is unguessable
even without the signature).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from chassis.links import verify_link_token
from chassis.runtime import ServiceRuntime

SURVEY = "survey"


def survey_token_id(runtime: ServiceRuntime, token: str) -> UUID:
    """The survey's token id, or CommandRefused (invalid_token / expired_token) naming `token`."""
    settings: Any = runtime.settings
    secret = settings.link_signing_secret.get_secret_value()
    token_id, _ = verify_link_token(secret, SURVEY, token, now=runtime.clock.now())
    return token_id
