"""Who caused what: the correlation and causation ids of the work in progress (contextvars)."""

from __future__ import annotations

from contextvars import ContextVar
from uuid import UUID

import uuid_utils.compat as uuid_compat

correlation_id: ContextVar[UUID | None] = ContextVar("correlation_id", default=None)
causation_id: ContextVar[UUID | None] = ContextVar("causation_id", default=None)


def new_id() -> UUID:
    """A UUIDv7: time-ordered, so ids sort by creation and index well."""
    return uuid_compat.uuid7()
