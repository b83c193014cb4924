"""Events published by hand to a service's topic, as its relay would write them — or as an attacker
able to write to the topic would.

Every test that publishes a hand-made envelope goes through `publish_envelope`: the one place that
turns an envelope into the message a relay writes (key, value, headers), so whatever the relay adds
to a message (a signature...) is added here once for all of them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from chassis import kafka
from contracts import topics
from contracts.envelope import Envelope
from contracts.events import DomainEvent
from contracts.events.common import Contact, Locale
from contracts.events.onboarding import IntegratorRegistered
from tests.support.signed import signed_by


def envelope_of(
    event: DomainEvent,
    integrator_id: str,
    *,
    at: datetime | None = None,
    stream_id: str | None = None,
    stream_version: int = 1,
) -> Envelope:
    """A new envelope around `event` for `integrator_id`, as its producer's event store makes them."""
    return Envelope(
        event_id=uuid4(),
        event_type=event.event_type,
        schema_version=event.schema_version,
        occurred_at=at or datetime.now(UTC),
        producer=event.producer,
        stream_id=stream_id or f"{event.producer}-{integrator_id}",
        stream_version=stream_version,
        integrator_id=integrator_id,
        correlation_id=uuid4(),
        payload=event.model_dump(mode="json"),
    )


async def publish_envelope(settings: Any, envelope: Envelope, *, producer: Any = None) -> None:
    """Publish `envelope` to its producer's topic (under the settings' prefix) with the key, value
    and headers the relay writes (chassis.relay). `producer`: a started aiokafka producer to reuse;
    without one, a producer is started and stopped for this message."""
    own = producer is None
    if own:
        producer = kafka.producer(settings)
        await producer.start()
    try:
        value, key = envelope.model_dump_json().encode(), envelope.integrator_id.encode()
        await producer.send_and_wait(
            settings.topic(topics.BY_SERVICE[envelope.producer]),
            value=value,
            key=key,
            # Signed with the producer's development key, as its relay signs (chassis.signing).
            headers=[
                *signed_by(envelope.producer, key, value, envelope.event_type),
                ("event_id", str(envelope.event_id).encode()),
            ],
        )
    finally:
        if own:
            await producer.stop()


def registration_of(*contacts: Contact, legal_name: str = "Acme Télécom SAS") -> IntegratorRegistered:
    """An integrator's registration as onboarding records it (its contacts: `contacts`)."""
    return IntegratorRegistered(
        legal_name=legal_name,
        address="1 rue de la Paix, 75002 Paris",
        siret="73282932000074",
        vat_number="FR44732829320",
        contacts=list(contacts)
        or [Contact(name="Alice Martin", email="alice@acme.example", phone="+33102030405")],
        locale=Locale.FR,
        customer_service_phone="3900",
        customer_service_cost_per_minute=Decimal("0.35"),
        customer_service_email="service@acme.example",
        registered_by="ops-user",
    )


async def register(settings: Any, integrator_id: str, *, producer: Any = None) -> Envelope:
    """Onboarding's registration of `integrator_id`, published: consumers believe an integrator's
    other events only once they have seen it (chassis.known_integrators)."""
    made = envelope_of(registration_of(), integrator_id, stream_id=f"integrator-{integrator_id}")
    await publish_envelope(settings, made, producer=producer)
    return made


async def publish(settings: Any, event: DomainEvent, integrator_id: str, **envelope: Any) -> Envelope:
    """A hand-made envelope around `event`, published: returns it."""
    made = envelope_of(event, integrator_id, **envelope)
    await publish_envelope(settings, made)
    return made
