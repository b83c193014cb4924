"""Base class of every domain event, and the registry from type name to model (with upcasting)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError


class DomainEvent(BaseModel):
    """A fact, named in the past tense. Subclasses are registered by `event_type` (the class name).

    `schema_version` is bumped on an incompatible change; an upcaster registered with
    `upcaster()` turns older payloads into the current shape, so the log is never rewritten.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    #: The service whose topic carries this event.
    producer: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "event_type" not in cls.__dict__:
            cls.event_type = cls.__name__
        # A service's base class declares `producer`; its concrete events inherit it.
        if cls.producer and "producer" not in cls.__dict__:
            REGISTRY.register(cls)


M = TypeVar("M", bound=BaseModel)
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEventType(LookupError):
    """The type name is not in the registry: a poison message for a consumer."""


class EventRegistry:
    """Type name -> model, and (type, from_version) -> upcaster."""

    def __init__(self) -> None:
        self._models: dict[str, type[DomainEvent]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, model: type[DomainEvent]) -> None:
        existing = self._models.get(model.event_type)
        if existing is not None and existing is not model:
            if f"{existing.__module__}.{existing.__qualname__}" != f"{model.__module__}.{model.__qualname__}":
                raise ValueError(f"two events named {model.event_type}")
        self._models[model.event_type] = model

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register a function that turns a `from_version` payload into a `from_version + 1` one."""

        def decorate(fn: Upcaster) -> Upcaster:
            self._upcasters[(event_type, from_version)] = fn
            return fn

        return decorate

    def model(self, event_type: str) -> type[DomainEvent]:
        try:
            return self._models[event_type]
        except KeyError:
            raise UnknownEventType(event_type) from None

    def knows(self, event_type: str) -> bool:
        return event_type in self._models

    def all(self) -> dict[str, type[DomainEvent]]:
        return dict(sorted(self._models.items()))

    def load(
        self, event_type: str, schema_version: int, payload: dict[str, Any], *, tolerant: bool = False
    ) -> DomainEvent:
        """Validate a stored or received payload into its model, upcasting older versions first.

        `tolerant`: fields the model does not know are ignored (a consumer reading a newer
        producer's event); the models themselves stay strict for what this code writes."""
        model = self.model(event_type)
        if schema_version > model.schema_version:
            raise ValueError(
                f"{event_type} v{schema_version} is newer than this code knows (v{model.schema_version})"
            )
        version = schema_version
        while version < model.schema_version:
            step = self._upcasters.get((event_type, version))
            if step is None:
                raise ValueError(f"no upcaster for {event_type} v{version}")
            payload = step(payload)
            version += 1
        return validate_tolerant(model, payload) if tolerant else model.model_validate(payload)


def validate_tolerant(model: type[M], data: Any) -> M:
    """`model.model_validate(data)`, the fields it does not know (at any depth) left out.

    The models forbid unknown fields so a producer cannot write a typo; a consumer reads with this,
    so a field added by a newer producer does not make its events poison (tolerant reader). Only
    `extra_forbidden` errors are forgiven: a missing or wrong field is refused as before."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        unknown = [e["loc"] for e in error.errors() if e["type"] == "extra_forbidden"]
        if not unknown or not isinstance(data, dict):
            raise
    pruned = copy.deepcopy(data)
    for loc in unknown:
        parent: Any = pruned
        for part in loc[:-1]:
            parent = parent[part]
        if isinstance(parent, dict):
            parent.pop(loc[-1], None)
    return model.model_validate(pruned)


REGISTRY = EventRegistry()
