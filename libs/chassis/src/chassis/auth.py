"""Authentication: HS256 bearer tokens carrying a role and, for integrator users, their integrator.

Every service verifies tokens itself with the shared `AUTH_SECRET` (no call to another service);
PyJWT compares signatures in constant time. Roles: `ops`, `technician`, `integrator`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

ROLES: tuple[str, ...] = ("ops", "technician", "integrator")
#: Who signs the platform's tokens and whom they are for: a token signed with the same secret for
#: another purpose (another system sharing it by mistake) is not taken for one of ours.
ISSUER = "integrator-platform"
AUDIENCE = "integrator-platform-api"
#: The longest a token may live (exp - iat): a leaked token is worth a working day at most.
MAX_TOKEN_LIFETIME = timedelta(hours=12)

_bearer = HTTPBearer(auto_error=False, description="A platform token: `platform token --role ops`")


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    integrator_id: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in ("ops", "technician")


def mint_token(
    secret: str,
    *,
    role: str,
    subject: str,
    integrator_id: str | None = None,
    ttl: timedelta = timedelta(hours=12),
) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role}")
    if role == "integrator" and not integrator_id:
        raise ValueError("an integrator token names its integrator")
    if ttl > MAX_TOKEN_LIFETIME:
        raise ValueError(f"a token lives at most {MAX_TOKEN_LIFETIME}")
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "role": role,
        "iat": now,
        "exp": now + ttl,
    }
    if integrator_id:
        claims["integrator_id"] = integrator_id
    return jwt.encode(claims, secret, algorithm="HS256")


def decode_token(secret: str, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            issuer=ISSUER,
            audience=AUDIENCE,
            options={"require": ["iss", "aud", "sub", "role", "iat", "exp"]},
        )
    except jwt.PyJWTError as error:
        raise HTTPException(401, f"invalid token: {error}", headers={"WWW-Authenticate": "Bearer"}) from None
    if claims["exp"] - claims["iat"] > MAX_TOKEN_LIFETIME.total_seconds():
        raise HTTPException(
            401,
            "invalid token: it lives longer than the platform allows",
            headers={"WWW-Authenticate": "Bearer"},
        )
    role = claims.get("role")
    if role not in ROLES:
        raise HTTPException(401, "invalid token: unknown role", headers={"WWW-Authenticate": "Bearer"})
    integrator_id = claims.get("integrator_id")
    if role == "integrator" and not integrator_id:
        raise HTTPException(401, "invalid token: integrator token without integrator")
    return Principal(subject=str(claims["sub"]), role=role, integrator_id=integrator_id)


async def current_principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "authentication required", headers={"WWW-Authenticate": "Bearer"})
    secret = request.app.state.runtime.settings.auth_secret.get_secret_value()
    principal = decode_token(secret, credentials.credentials)
    request.state.principal = principal
    return principal


def require(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only the given roles (403 otherwise)."""
    for role in roles:
        if role not in ROLES:
            raise ValueError(f"unknown role {role}")

    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        if principal.role not in roles:
            raise HTTPException(403, f"this needs one of the roles: {', '.join(roles)}")
        return principal

    return dependency


def authorize_integrator(principal: Principal, integrator_id: str) -> None:
    """Staff see every integrator; an integrator user only its own. Another's data answers 404, so
    the caller learns nothing, not even that it exists."""
    if principal.role == "integrator" and principal.integrator_id != integrator_id:
        raise HTTPException(404, "not found")
