"""Releases of the certified product, one stream per version (`release-<version>`), and the
catalogue that says which version is the current certified one.

Seed 004: every version comes with release notes; a version found with major anomalies or a
certification non-compliance is withdrawn at once, with a warning shown with it from then on.
"Current" is the most recently *published* certified version still available: publication order,
not version-number order, because a corrective 3.2.1 may be published after a 3.3.0 is withdrawn.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from contracts.errors import CommandRefused, NotFound, OutOfOrder
from contracts.events import DomainEvent
from contracts.events.support import ReleasePublished, ReleaseWithdrawn

#: Versions name streams and URLs: a short, plain token.
VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,49}$")


def stream_id(version: str) -> str:
    return f"release-{version}"


def check_version(version: str) -> str:
    if not VERSION.match(version):
        raise CommandRefused("a version is 1-50 letters, digits, '.', '_', '+' or '-'", field="version")
    return version


@dataclass(frozen=True)
class Release:
    version: str = ""
    published: bool = False
    certified: bool = False
    withdrawn: bool = False
    warning_message: str | None = None


def evolve(state: Release, event: DomainEvent) -> Release:
    match event:
        case ReleasePublished():
            return Release(version=event.version, published=True, certified=event.certified)
        case ReleaseWithdrawn():
            return Release(
                version=state.version,
                published=True,
                certified=state.certified,
                withdrawn=True,
                warning_message=event.warning_message,
            )
    return state


def fold(events: Iterable[DomainEvent]) -> Release:
    state = Release()
    for event in events:
        state = evolve(state, event)
    return state


def publish(
    state: Release, *, version: str, release_notes: str, certified: bool, by: str
) -> list[DomainEvent]:
    check_version(version)
    if state.published:
        raise OutOfOrder(f"version {version} is already published", field="version")
    if not release_notes.strip():
        raise CommandRefused("every version comes with its release notes", field="release_notes")
    return [
        ReleasePublished(version=version, release_notes=release_notes, certified=certified, published_by=by)
    ]


def withdraw(
    state: Release, *, version: str, reason: str, warning_message: str, by: str
) -> list[DomainEvent]:
    if not state.published:
        raise NotFound(f"no version {version}", field="version")
    if state.withdrawn:
        raise OutOfOrder(f"version {version} is already withdrawn", field="version")
    if not reason.strip():
        raise CommandRefused("a withdrawal gives its reason", field="reason")
    if not warning_message.strip():
        raise CommandRefused("a withdrawal shows a warning message", field="warning_message")
    return [
        ReleaseWithdrawn(version=version, reason=reason, warning_message=warning_message, withdrawn_by=by)
    ]


def current_certified(catalogue: Sequence[Release]) -> str | None:
    """The version new installations must use: the last published certified one not withdrawn."""
    for release in reversed(catalogue):
        if release.certified and not release.withdrawn:
            return release.version
    return None
