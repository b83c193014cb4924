"""The ISM's own deadline, as a specification: overdue once, N days after the SIMs were delivered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from contracts.events.ism_provisioning import IsmDeliveryWentOverdue, SimsDeliveryNoted
from ism_provisioning import domain
from ism_provisioning.domain import fold

DELIVERED = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
DELAY = timedelta(days=14)


def test_the_ism_goes_overdue_once_after_the_sims_and_not_before_or_without_them() -> None:
    assert domain.check_delivery_deadline(fold([]), now=DELIVERED + DELAY * 2, delay=DELAY) == []
    noted = domain.note_sims_delivery(fold([]), uuid4(), DELIVERED)
    assert noted == [SimsDeliveryNoted(source_event_id=noted[0].source_event_id, delivered_at=DELIVERED)]
    state = fold(noted)
    assert (
        domain.check_delivery_deadline(state, now=DELIVERED + DELAY - timedelta(seconds=1), delay=DELAY) == []
    )
    overdue = domain.check_delivery_deadline(state, now=DELIVERED + DELAY, delay=DELAY)
    assert overdue == [IsmDeliveryWentOverdue(due_at=DELIVERED + DELAY, detected_at=DELIVERED + DELAY)]
    assert (
        domain.check_delivery_deadline(fold([*noted, *overdue]), now=DELIVERED + DELAY * 3, delay=DELAY) == []
    )
