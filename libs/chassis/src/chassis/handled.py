"""The event types a reaction or projection handles, named by their classes.

`handles={IntegratorRegistered, SimsDelivered}`: a misspelt class name is a NameError when the service
is imported, where a misspelt string used to be a set member that matched nothing — the events it
meant were skipped, silently. Names are still accepted (a service may handle another's event without
importing its module) but only if the registry knows them, so they fail at import too.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from contracts.events import REGISTRY, DomainEvent

#: What `handles=` takes: event classes (or their registered names).
Handles = Collection[type[DomainEvent] | str]


def event_types(handles: Iterable[type[DomainEvent] | str], *, owner: str) -> frozenset[str]:
    """The handled events' type names; ValueError naming `owner` for anything not a registered event."""
    if isinstance(handles, str):
        raise TypeError(f"{owner}: handles takes a collection of events, not the string {handles!r}")
    names = set()
    for handled in handles:
        if isinstance(handled, str):
            name = handled
        elif isinstance(handled, type) and issubclass(handled, DomainEvent):
            name = handled.event_type
        else:
            raise TypeError(f"{owner}: handles {handled!r}, which is not an event class")
        if not REGISTRY.knows(name):  # a misspelt name, or a service's base class of events
            raise ValueError(f"{owner}: handles {name!r}, which is not a registered event (a misspelling?)")
        names.add(name)
    return frozenset(names)


def names_of(handles: Handles) -> list[str]:
    """The handled type names, sorted (SQL parameters, documents)."""
    return sorted(event_types(handles, owner="handles"))


__all__ = ["Handles", "event_types", "names_of"]
