"""The envelope every event travels in, on the event store and on Kafka."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Envelope(BaseModel):
    """One recorded domain event with the facts every consumer needs to route, order and trace it.

    `integrator_id` is the Kafka partition key, so one integrator's events stay in order.
    `correlation_id` is shared by everything one request caused; `causation_id` is the event
    (or command) that directly caused this one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    event_type: str = Field(min_length=1, max_length=100)
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    producer: str = Field(min_length=1, max_length=50)
    stream_id: str = Field(min_length=1, max_length=200)
    stream_version: int = Field(ge=1)
    integrator_id: str = Field(min_length=1, max_length=100)
    correlation_id: UUID
    causation_id: UUID | None = None
    payload: dict[str, Any]
