"""The delivery note and the tariff grid are real documents, on the real stack: sim-logistics learns
the accepted tables from onboarding's events (through Kafka), and once the SIMs are delivered the
integrator downloads an XLSX that opens and carries the delivery's ICCID range and its tariffs.
The production order names the artwork by its file name."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any
from uuid import uuid4

from openpyxl import load_workbook

from chassis.clock import ManualClock
from contracts.events.common import DossierItem, TableSnapshot
from contracts.events.onboarding import DossierItemAccepted, ElectricalProfileCreated
from sim_logistics import app as sim_app
from tests.support.waiting import eventually
from tests.test_sim_logistics import (
    ARTWORK,
    FAST_CHECKS,
    PROFILE_CREATED,
    Onboarding,
    event_types,
    iccid,
    run_steps_2_and_3,
)

OFFERS = TableSnapshot(
    columns=["code", "name", "monthly_price_eur", "data_gb", "voice_minutes", "sms", "zones"],
    rows=[
        ["ESS-5", "Essentiel 5 Go", "9.99", "5", "120", "unlimited", ""],
        ["CONF-50", '=HYPERLINK("x")', "19.99", "50", "unlimited", "unlimited", "EU"],
    ],
)
TERMINALS = TableSnapshot(columns=["brand", "model", "price_eur"], rows=[["Fairphone", "5", "549.00"]])


async def test_the_integrator_downloads_its_delivery_note_with_the_iccid_range_and_its_tariffs(
    service: Any,
) -> None:
    clock = ManualClock(PROFILE_CREATED + timedelta(minutes=5))
    integrator_id = f"acme-{uuid4().hex[:8]}"
    base = f"/integrators/{integrator_id}"
    async with service(sim_app, clock=clock, **FAST_CHECKS) as svc:
        me, stranger = svc.auth("integrator", integrator_id), svc.auth("integrator", "someone-else")
        async with Onboarding(svc.runtime.settings, integrator_id) as onboarding:
            await onboarding.publish(
                ElectricalProfileCreated(profile_reference="EP-ACME-1", created_by="ops")
            )
            await onboarding.publish(
                DossierItemAccepted(item=DossierItem.SIM_ARTWORK, file=ARTWORK, accepted_by="ops")
            )
            await onboarding.publish(
                DossierItemAccepted(item=DossierItem.OFFERS_TABLE, table=OFFERS, accepted_by="ops")
            )
            await onboarding.publish(
                DossierItemAccepted(item=DossierItem.TERMINALS_TABLE, table=TERMINALS, accepted_by="ops")
            )

            async def learnt() -> bool:
                # All four events applied (profile, artwork, both tables), not only the first table:
                # a reaction still appending to the stream would make the next command a 409 conflict.
                grid = await svc.http.get(f"{base}/tariff-grid.xlsx", headers=me)
                if grid.status_code != 200:
                    return False
                book = load_workbook(io.BytesIO(grid.content), read_only=True)
                cells = {
                    str(c)
                    for sheet in book.worksheets
                    for row in sheet.iter_rows(values_only=True)
                    for c in row
                }
                return "Fairphone" in cells and "ESS-5" in cells

            await eventually(learnt, what="the tables learnt from onboarding")
        # No delivery yet: no delivery note to promise.
        assert (await svc.http.get(f"{base}/delivery-note.xlsx", headers=me)).status_code == 404

        clock.advance(timedelta(days=16))  # Wednesday 18 March, as the shared steps expect

        # The deadline check raises step 2's overdue on this stream now: wait for it, or a command
        # below racing its append is a 409 conflict (a fixed pause was too short on a loaded machine).
        async def overdue_raised() -> bool:
            return "StepWentOverdue" in await event_types(svc, integrator_id)

        await eventually(overdue_raised, what="step 2's overdue raised by the deadline check")
        await run_steps_2_and_3(svc, clock, integrator_id)

        [ordered] = [
            r.event
            for r in await svc.runtime.read_stream(f"sims-{integrator_id}")
            if r.envelope.event_type == "ProductionOrdered"
        ]
        assert ordered.artwork_filename == ARTWORK.filename  # "carte-sim.pdf", not its hash

        response = await svc.http.get(f"{base}/delivery-note.xlsx", headers=me)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
        book = load_workbook(io.BytesIO(response.content), read_only=True)
        note = {row[0]: row[1] for row in book["Bon de livraison"].iter_rows(values_only=True)}
        assert note["Bon de livraison / Delivery note"] == "BL-2026-0042"
        assert note["Premier ICCID / First ICCID"] == iccid(10_000)
        assert note["Dernier ICCID / Last ICCID"] == iccid(10_499)
        assert note["Quantité / Quantity"] == 500
        assert note["Personnalisation graphique / Artwork"] == "carte-sim.pdf"
        offers = list(book["Offres - Offers"].iter_rows(values_only=True))
        assert offers[0] == tuple(OFFERS.columns)
        assert offers[1][:3] == ("ESS-5", "Essentiel 5 Go", "9.99")
        assert offers[2][1] == '\'=HYPERLINK("x")'  # a cell from the integrator's table is never a formula
        assert list(book["Terminaux - Mobiles"].iter_rows(values_only=True))[1] == (
            "Fairphone",
            "5",
            "549.00",
        )

        grid = load_workbook(io.BytesIO((await svc.http.get(f"{base}/tariff-grid.xlsx", headers=me)).content))
        assert grid.sheetnames == [
            "Offres - Offers",
            "Tarifs métropole",
            "Tarifs internationaux",
            "Terminaux - Mobiles",
        ]
        # Another integrator's documents are not found, as its data would not be.
        assert (await svc.http.get(f"{base}/delivery-note.xlsx", headers=stranger)).status_code == 404
