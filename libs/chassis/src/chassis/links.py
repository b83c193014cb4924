"""Signed, expiring link tokens (survey, set-password, portal invitation, password reset).

The event records only a token id and its expiry; the token in the link is a JWT (HS256, PyJWT, the
library the platform's bearer tokens use) signed with `LINK_SIGNING_SECRET`, carrying the purpose as
its audience, the token id as `jti`, the expiry as `exp` and the platform as issuer. So no secret
ever sits in an event, a log or the event store, and the service that owns the token can check it
without storing it. Single use is the owner's business: it records the use as an event and refuses
a second one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import jwt

from contracts.errors import CommandRefused

#: Who signs the links. The same issuer as the bearer tokens (chassis.auth), but never the same
#: audience: a link's audience is its purpose, so a link is not a bearer token, nor the reverse.
ISSUER = "integrator-platform"
_ALGORITHM = "HS256"
#: No `typ` header (optional, RFC 7519 §5.1): 16 characters fewer in every link.
_HEADERS: dict[str, Any] = {"typ": None}


def _invalid() -> CommandRefused:
    return CommandRefused("this link is not valid", field="token", code="invalid_token")


def sign_link_token(secret: str, purpose: str, token_id: UUID, expires_at: datetime) -> str:
    claims = {"iss": ISSUER, "aud": purpose, "jti": str(token_id), "exp": int(expires_at.timestamp())}
    return jwt.encode(claims, secret, algorithm=_ALGORITHM, headers=_HEADERS)


def verify_link_token(
    secret: str, purpose: str, token: str, *, now: datetime | None = None
) -> tuple[UUID, datetime]:
    """Return (token_id, expires_at), or raise CommandRefused('invalid'/'expired') naming `token`.

    Signature, issuer and purpose first (a forged link is `invalid_token` whatever its expiry), then
    the expiry, against `now`: the service's clock, not the wall clock PyJWT would read (tests and the
    dev platform move the clock), with no leeway.
    """
    if _is_legacy(token):
        token_id, expiry = _verify_legacy(secret, purpose, token)
    else:
        token_id, expiry = _verify_jwt(secret, purpose, token)
    expires_at = datetime.fromtimestamp(expiry, UTC)
    if (now or datetime.now(UTC)) >= expires_at:
        raise CommandRefused("this link has expired", field="token", code="expired_token")
    return token_id, expires_at


def _verify_jwt(secret: str, purpose: str, token: str) -> tuple[UUID, int]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            audience=purpose,
            issuer=ISSUER,
            leeway=0,
            # `exp` is required here and checked by the caller against the service's clock.
            options={"require": ["exp", "aud", "iss", "jti"], "verify_exp": False},
        )
        token_id = UUID(claims["jti"])
        expiry = claims["exp"]
    except (jwt.PyJWTError, ValueError, TypeError, AttributeError):
        raise _invalid() from None
    if not isinstance(expiry, int) or isinstance(expiry, bool):
        raise _invalid()
    return token_id, expiry


# --- links signed before the JWT format ------------------------------------------------------------
# `<token id, base64url>.<expiry, unix seconds>.<HMAC-SHA256 of "purpose|id|expiry", base64url>`.
# Kept only so that links mailed before the switch work until they expire. Remove this section and
# its branch in `verify_link_token` once MAX_LINK_TTL_HOURS (notifier settings, 14 days by default)
# has passed since the JWT format was deployed: the notifier signs no mailed link for longer, so by
# then every old link has expired. (`web users add --print-link` prints invitation links for
# INVITATION_TTL_DAYS, 7 by default: wait for the longer of the two if it was raised above 14.)


def _is_legacy(token: str) -> bool:
    """An old link: its middle part is the expiry in digits, never a JWT's payload (`eyJ...`)."""
    parts = token.split(".")
    return len(parts) == 3 and parts[1].isascii() and parts[1].isdigit()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _legacy_mac(secret: str, purpose: str, token_id: UUID, expiry: int) -> bytes:
    return hmac.new(secret.encode(), f"{purpose}|{token_id}|{expiry}".encode(), hashlib.sha256).digest()


def _verify_legacy(secret: str, purpose: str, token: str) -> tuple[UUID, int]:
    try:
        raw_id, raw_expiry, raw_mac = token.split(".")
        token_id = UUID(bytes=_unb64(raw_id))
        expiry = int(raw_expiry)
        mac = _unb64(raw_mac)
    except (ValueError, TypeError):
        raise _invalid() from None
    if not hmac.compare_digest(mac, _legacy_mac(secret, purpose, token_id, expiry)):
        raise _invalid()
    return token_id, expiry
