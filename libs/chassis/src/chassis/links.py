"""Signed, expiring link tokens (survey, set-password).

The event records only a token id and its expiry; the token in the link is an HMAC of
(purpose, id, expiry) under `LINK_SIGNING_SECRET`, so no secret ever sits in an event, a log or the
event store, and the service that owns the token can check it without storing it. Single use is the
owner's business: it records the use as an event and refuses a second one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from uuid import UUID

from contracts.errors import CommandRefused


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_link_token(secret: str, purpose: str, token_id: UUID, expires_at: datetime) -> str:
    expiry = int(expires_at.timestamp())
    message = f"{purpose}|{token_id}|{expiry}".encode()
    mac = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return f"{_b64(token_id.bytes)}.{expiry}.{_b64(mac)}"


def verify_link_token(
    secret: str, purpose: str, token: str, *, now: datetime | None = None
) -> tuple[UUID, datetime]:
    """Return (token_id, expires_at), or raise CommandRefused('invalid'/'expired') naming `token`."""
    try:
        raw_id, raw_expiry, raw_mac = token.split(".")
        token_id = UUID(bytes=_unb64(raw_id))
        expiry = int(raw_expiry)
        mac = _unb64(raw_mac)
    except (ValueError, TypeError):
        raise CommandRefused("this link is not valid", field="token", code="invalid_token") from None
    expected = hmac.new(secret.encode(), f"{purpose}|{token_id}|{expiry}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        raise CommandRefused("this link is not valid", field="token", code="invalid_token")
    expires_at = datetime.fromtimestamp(expiry, UTC)
    if (now or datetime.now(UTC)) >= expires_at:
        raise CommandRefused("this link has expired", field="token", code="expired_token")
    return token_id, expires_at
