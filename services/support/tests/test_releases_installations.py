"""Releases and installation reports as specifications."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from contracts.errors import CommandRefused, NotFound, OutOfOrder
from contracts.events.support import InstallationReported, ReleasePublished, ReleaseWithdrawn
from support.domain import installations, releases
from support.domain.installations import NF525_CHECKLIST, InstallationRefused

PUBLISHED = ReleasePublished(version="3.2.0", release_notes="fixes", certified=True, published_by="t")
WITHDRAWN = ReleaseWithdrawn(
    version="3.2.0", reason="Z report wrong", warning_message="do not install", withdrawn_by="t"
)
REPORT = UUID("0199a000-0000-7000-8000-000000000001")


def test_a_version_is_published_once_with_its_release_notes() -> None:
    assert releases.publish(
        releases.Release(), version="3.2.0", release_notes="fixes", certified=True, by="t"
    ) == [PUBLISHED]
    with pytest.raises(OutOfOrder):
        releases.publish(
            releases.fold([PUBLISHED]), version="3.2.0", release_notes="x", certified=True, by="t"
        )
    with pytest.raises(CommandRefused) as refused:
        releases.publish(releases.Release(), version="3.3.0", release_notes=" ", certified=True, by="t")
    assert refused.value.field == "release_notes"


@pytest.mark.parametrize("version", ["", "3 2", "../etc", "x" * 51])
def test_a_version_is_a_short_plain_token(version: str) -> None:
    with pytest.raises(CommandRefused):
        releases.publish(releases.Release(), version=version, release_notes="n", certified=True, by="t")


def test_a_withdrawal_has_a_reason_and_a_warning_and_happens_once() -> None:
    state = releases.fold([PUBLISHED])
    assert releases.withdraw(
        state, version="3.2.0", reason="Z report wrong", warning_message="do not install", by="t"
    ) == [WITHDRAWN]
    with pytest.raises(CommandRefused):
        releases.withdraw(state, version="3.2.0", reason="r", warning_message="", by="t")
    with pytest.raises(OutOfOrder):
        releases.withdraw(
            releases.fold([PUBLISHED, WITHDRAWN]), version="3.2.0", reason="r", warning_message="w", by="t"
        )
    with pytest.raises(NotFound):
        releases.withdraw(releases.Release(), version="9", reason="r", warning_message="w", by="t")


def test_the_current_certified_version_is_the_last_published_certified_one_still_available() -> None:
    r = releases.Release
    catalogue = [
        r("3.1.0", True, True),
        r("3.2.0", True, True),
        r("3.3.0-beta", True, False),
        r("3.3.0", True, True, True),
    ]
    assert releases.current_certified(catalogue) == "3.2.0"
    assert releases.current_certified([]) is None


def report(**changes: Any) -> list[Any]:
    values: dict[str, Any] = {
        "already_reported": False,
        "report_id": REPORT,
        "integrator_approved": True,
        "version": "3.2.0",
        "version_withdrawn": False,
        "current_certified_version": "3.2.0",
        "end_user_site": "Boulangerie Martin, 57000 Metz",
        "hardware_compatible": True,
        "nf525_checklist": dict.fromkeys(NF525_CHECKLIST, True),
        "by": "integrator-user",
    }
    values.update(changes)
    return installations.report_installation(**values)


def test_a_complete_report_by_an_approved_integrator_on_the_current_version_is_recorded() -> None:
    [event] = report()
    assert isinstance(event, InstallationReported) and event.version == "3.2.0"


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"integrator_approved": False}, "integrator_id", "integrator_not_approved"),
        ({"version_withdrawn": True}, "version", "version_withdrawn"),
        ({"version": "3.1.0"}, "version", "version_not_current"),
        ({"current_certified_version": None}, "version", "version_not_current"),
        ({"hardware_compatible": False}, "hardware_compatible", "hardware_not_compatible"),
        (
            {"nf525_checklist": {**dict.fromkeys(NF525_CHECKLIST, True), "archiving": False}},
            "nf525_checklist",
            "element_missing",
        ),
        ({"nf525_checklist": {}}, "nf525_checklist", "element_missing"),
        (
            {"nf525_checklist": {**dict.fromkeys(NF525_CHECKLIST, True), "vibes": True}},
            "nf525_checklist",
            "unknown_element",
        ),
        ({"end_user_site": " "}, "end_user_site", "empty"),
    ],
)
def test_a_report_is_refused_with_the_reason(changes: dict[str, Any], field: str, code: str) -> None:
    with pytest.raises(InstallationRefused) as refused:
        report(**changes)
    assert (refused.value.field, refused.value.code) == (field, code)


def test_every_reason_is_given_at_once() -> None:
    with pytest.raises(InstallationRefused) as refused:
        report(integrator_approved=False, hardware_compatible=False)
    assert [p[1] for p in refused.value.problems] == ["integrator_not_approved", "hardware_not_compatible"]


def test_a_report_is_recorded_once() -> None:
    with pytest.raises(OutOfOrder):
        report(already_reported=True)
