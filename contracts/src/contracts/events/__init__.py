"""Every service's events. Importing this module registers them all in `REGISTRY`."""

from contracts.events import ism_provisioning, notifier, onboarding, sim_logistics, support, web
from contracts.events.base import REGISTRY, DomainEvent, EventRegistry, UnknownEventType

__all__ = [
    "REGISTRY",
    "DomainEvent",
    "EventRegistry",
    "UnknownEventType",
    "ism_provisioning",
    "notifier",
    "onboarding",
    "sim_logistics",
    "support",
    "web",
]
