"""Signed events: each service signs what it publishes; every consumer verifies it against the keys of
the service that owns the topic it came from (issue 22).

The signature is HMAC-SHA256 (`hmac.digest`, OpenSSL) over an unambiguous message: a domain tag, the
lengths of the three fields, then the Kafka key, the event type and the exact value bytes — so no byte
can move from one field to another without changing the signature. It travels in two headers,
`sig_kid` (which key) and `sig` (hex). HMAC, not Ed25519: an Ed25519 verification costs about 100 µs,
as much as the rest of a consumed message (the consumer handles ~7k events/s), where an HMAC of a 1 kB
event costs ~2 µs. The price is that a verification key is also a signing key: a consumer holding
onboarding's key could forge onboarding's events. Hence keys per producing service, and each service
is given only the keys of the services whose topics it reads (docs/CHASSIS.md, "Signed events").

A message is believed only when its topic's owner signed it: the topic is `contracts.topics`'s, its
owner the service it is named after, and the event type must be one that owner produces
(`contracts.events.REGISTRY`). Anything else is a dead letter whose reason says what was wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from chassis.settings import ServiceSettings, WeakSecret, dev_event_signing_key, dev_event_signing_key_id
from contracts import topics
from contracts.events import REGISTRY

#: The headers a signed message carries.
KEY_ID_HEADER = "sig_kid"
SIGNATURE_HEADER = "sig"
#: Names the format: a signature made for something else (another protocol, a later format) never
#: verifies as one of these.
_DOMAIN = b"integrator-platform/event-signature/v1\x00"
#: A field that is absent (a message without a key) is not the same as an empty one.
_ABSENT = 0xFFFFFFFF
_LENGTHS = struct.Struct(">III")


def signed_message(key: bytes | None, event_type: bytes, value: bytes | None) -> bytes:
    """What is signed: the domain tag, the three lengths, then key, event type and value, as bytes."""
    return b"".join(
        (
            _DOMAIN,
            _LENGTHS.pack(
                _ABSENT if key is None else len(key),
                len(event_type),
                _ABSENT if value is None else len(value),
            ),
            key or b"",
            event_type,
            value or b"",
        )
    )


def signature(secret: bytes, key: bytes | None, event_type: bytes, value: bytes | None) -> bytes:
    """The hex HMAC-SHA256 of the signed message, as the `sig` header carries it."""
    return hmac.digest(secret, signed_message(key, event_type, value), "sha256").hex().encode()


class _Mac:
    """HMAC-SHA256 (RFC 2104) with the key's inner and outer pads hashed once: each message then costs
    two copies of a hash state and its own blocks — half of `hmac.digest`'s time on a 1 kB event
    (2.0 against 4.0 µs here), which sets up the key at every call. Same output."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, secret: bytes) -> None:
        block = secret if len(secret) <= _BLOCK else hashlib.sha256(secret).digest()
        block = block.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def hex_signature(self, key: bytes | None, event_type: bytes, value: bytes | None) -> bytes:
        inner = self._inner.copy()
        # signed_message's bytes, fed in parts (no copy of the value into a joined message).
        inner.update(
            _DOMAIN
            + _LENGTHS.pack(
                _ABSENT if key is None else len(key),
                len(event_type),
                _ABSENT if value is None else len(value),
            )
        )
        if key:
            inner.update(key)
        inner.update(event_type)
        if value:
            inner.update(value)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest().encode()


#: SHA-256's block size: a longer HMAC key is hashed first (RFC 2104).
_BLOCK = 64


@dataclass(frozen=True)
class Signer:
    """A service's current signing key and its id."""

    kid: str
    secret: bytes = field(repr=False)
    _mac: _Mac = field(init=False, repr=False, compare=False)
    _kid: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_mac", _Mac(self.secret))
        object.__setattr__(self, "_kid", self.kid.encode())

    def headers(self, key: bytes | None, value: bytes | None, event_type: bytes) -> list[tuple[str, bytes]]:
        """The `sig_kid` and `sig` headers of one message."""
        return [
            (KEY_ID_HEADER, self._kid),
            (SIGNATURE_HEADER, self._mac.hex_signature(key, event_type, value)),
        ]


def sign_headers(
    signer: Signer, key: bytes | None, value: bytes | None, event_type: str | bytes
) -> list[tuple[str, bytes]]:
    """The headers of a signed message: `event_type`, `sig_kid`, `sig` (what the relay writes; tests
    that play a producer use it with that producer's dev key: `dev_signer(...)`)."""
    kind = event_type.encode() if isinstance(event_type, str) else event_type
    return [("event_type", kind), *signer.headers(key, value, kind)]


def dev_signer(service: str) -> Signer:
    """A service's built-in development key (public: refused outside DEV_MODE)."""
    return Signer(dev_event_signing_key_id(service), dev_event_signing_key(service).encode())


def signer_from_settings(settings: ServiceSettings, service: str) -> Signer:
    """The service's current signing key: EVENT_SIGNING_KEY_ID / EVENT_SIGNING_KEY, or the built-in
    development key in DEV_MODE when they are unset."""
    if settings.event_signing_key is None or settings.event_signing_key_id is None:
        if not settings.dev_mode:
            raise WeakSecret("EVENT_SIGNING_KEY_ID and EVENT_SIGNING_KEY are required outside DEV_MODE")
        if settings.event_signing_key is None and settings.event_signing_key_id is None:
            return dev_signer(service)
        raise WeakSecret("EVENT_SIGNING_KEY_ID and EVENT_SIGNING_KEY go together: set both or neither")
    return Signer(settings.event_signing_key_id, settings.event_signing_key.get_secret_value().encode())


class Verifier:
    """Checks that a message was signed by the owner of the topic it came from."""

    def __init__(self, keys: Mapping[str, Mapping[str, bytes]], topic_prefix: str = "") -> None:
        #: Per producing service, its keys by key id (two at once while a key is rotated).
        self.keys = {owner: dict(by_kid) for owner, by_kid in keys.items()}
        self._macs = {
            (owner, kid): _Mac(secret) for owner, by_kid in keys.items() for kid, secret in by_kid.items()
        }
        self._owner_of_topic = {f"{topic_prefix}{topic}": owner for owner, topic in topics.BY_SERVICE.items()}
        self._owner_of_event: dict[str, str | None] = {}

    @classmethod
    def from_settings(cls, settings: ServiceSettings, service: str) -> Verifier:
        """EVENT_VERIFICATION_KEYS, plus the service's own signing key for its own topic; in DEV_MODE
        with EVENT_VERIFICATION_KEYS unset, every service's built-in development key."""
        configured = settings.event_verification_keys
        if configured is None:
            if not settings.dev_mode:
                raise WeakSecret("EVENT_VERIFICATION_KEYS is required outside DEV_MODE")
            keys = {
                owner: {dev_event_signing_key_id(owner): dev_event_signing_key(owner).encode()}
                for owner in topics.BY_SERVICE
            }
        else:
            keys = {
                owner: {kid: secret.get_secret_value().encode() for kid, secret in by_kid.items()}
                for owner, by_kid in configured.items()
            }
        own = signer_from_settings(settings, service)
        keys.setdefault(service, {})[own.kid] = own.secret
        return cls(keys, settings.kafka_topic_prefix)

    def missing_owners(self, read_topics: set[str]) -> list[str]:
        """The owners of these (contracts) topics that no key is configured for: every message of
        theirs would be dead-lettered, so a service refuses to start instead."""
        owners = {owner for owner, topic in topics.BY_SERVICE.items() if topic in read_topics}
        return sorted(owner for owner in owners if not self.keys.get(owner))

    def refusal(
        self, topic: str, headers: Mapping[str, str], key: bytes | None, value: bytes | None
    ) -> str | None:
        """Why this message is not to be believed, or None when its topic's owner signed it."""
        owner = self._owner_of_topic.get(topic)
        if owner is None:
            return f"topic {topic!r:.120} has no owning service: nobody's signature can be checked"
        kid = headers.get(KEY_ID_HEADER)
        sig = headers.get(SIGNATURE_HEADER)
        if kid is None or sig is None:
            return f"unsigned: no {KEY_ID_HEADER}/{SIGNATURE_HEADER} header ({owner} signs every event it publishes)"
        event_type = headers.get("event_type")
        if event_type is None:
            return "signed message without an event_type header (the signature covers it)"
        mac = self._macs.get((owner, kid))
        if mac is None:
            others = sorted(other for other, by_kid in self.keys.items() if other != owner and kid in by_kid)
            if others:
                return (
                    f"signed with {others[0]}'s key {kid!r}, not by {owner}, the owner of {topic}: "
                    "another service's key cannot speak for this topic"
                )
            return f"signed with unknown key id {kid!r:.80}: not a key of {owner}, the owner of {topic}"
        expected = mac.hex_signature(key, event_type.encode(), value)
        if not hmac.compare_digest(expected, sig.encode()):
            return (
                f"bad signature: does not match {owner}'s key {kid!r} "
                "(value, key or event type altered, or signed with another key)"
            )
        producer = self._producer_of(event_type)
        if producer is not None and producer != owner:
            return (
                f"event type {event_type!r:.100} is {producer}'s, but {owner} signed it on {topic}: "
                "a service speaks only for its own events"
            )
        return None

    def _producer_of(self, event_type: str) -> str | None:
        try:
            return self._owner_of_event[event_type]
        except KeyError:
            producer = REGISTRY.model(event_type).producer if REGISTRY.knows(event_type) else None
            if len(self._owner_of_event) < 10_000:  # hostile event types must not grow it forever
                self._owner_of_event[event_type] = producer
            return producer
