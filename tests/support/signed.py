"""Headers that make a hand-made message look as its producer's relay signs it (chassis.signing), with
that producer's built-in development key (the tests run in DEV_MODE)."""

from __future__ import annotations

from chassis.signing import dev_signer, sign_headers
from contracts import topics

#: An event type no service produces: a poison message signed with it reaches every reaction's
#: reader (a known type a reaction does not handle is skipped before anything is checked).
POISON_TYPE = "NotAnEventType"


def signed_by(
    producer: str, key: bytes | None, value: bytes | None, event_type: str
) -> list[tuple[str, bytes]]:
    """`event_type`, `sig_kid` and `sig` headers, signed with `producer`'s development key."""
    return sign_headers(dev_signer(producer), key, value, event_type)


def owner_of(topic: str) -> str:
    """The service that owns a contracts topic (a broker-side name with a test prefix works too)."""
    return next(service for service, name in topics.BY_SERVICE.items() if topic.endswith(name))
