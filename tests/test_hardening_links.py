"""Cheap refusals first (issue 16, finding 5): a used set-password link is refused before scrypt
runs, so replaying it costs the service next to nothing. Measured as the CPU of this process (the
service runs in it, scrypt in its worker thread) per refused request, against one scrypt."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from uuid import UUID

from chassis.clock import ManualClock
from chassis.links import sign_link_token
from contracts.events.common import DossierItem
from contracts.events.ism_provisioning import SET_PASSWORD_LINK_PURPOSE
from contracts.events.onboarding import DossierItemAccepted
from contracts.events.sim_logistics import SimsDelivered
from ism_provisioning import app as ism_app
from ism_provisioning.api import hash_password
from tests.test_ism_provisioning import GOOD, LOGO, START, Upstream, _ready, eventually, status_of, table

REFUSED = 100


async def test_a_used_link_is_refused_before_the_password_is_hashed(service):
    clock = ManualClock(START)
    # The replays of one link: well past its rate limit (tested in test_rate_limits), which would
    # answer 429 before the check measured here.
    async with (
        service(ism_app, clock=clock, rate_limit_link="10000/minute") as svc,
        Upstream(svc.runtime.settings, "acme") as upstream,
    ):
        for item, name in GOOD.items():
            await upstream.accept_table(item, table(name))
        await upstream.publish(DossierItemAccepted(item=DossierItem.LOGO, file=LOGO, accepted_by="ops-anne"))
        await upstream.publish(
            SimsDelivered(
                quantity=10,
                iccid_first="8933150000000000001",
                iccid_last="8933150000000000010",
                delivery_note_number="BL-2026-0042",
                delivered_by="logistics-marc",
            )
        )
        await eventually(lambda: _ready(svc, "acme"))
        delivered = await svc.http.post("/integrators/acme/ism/delivery", headers=svc.auth("ops"))
        assert delivered.status_code == 201, delivered.text
        # The API does not hand out the link's token id (half a credential): the service's own table has it.
        shown = (await svc.http.get("/integrators/acme/ism", headers=svc.auth("ops"))).json()
        assert "set_password_token_id" not in shown["delivery"]
        delivery = (await status_of(svc, "acme"))["delivery"]
        token = sign_link_token(
            svc.runtime.settings.link_signing_secret.get_secret_value(),
            SET_PASSWORD_LINK_PURPOSE,
            UUID(delivery["set_password_token_id"]),
            datetime.fromisoformat(delivery["set_password_expires_at"]),
        )
        clock.advance(timedelta(hours=1))
        first = await svc.http.post(
            "/ism/set-password", json={"token": token, "password": "correct horse battery"}
        )
        assert first.status_code == 200, first.text

        started = time.process_time()
        hash_password("correct horse battery")
        scrypt_cpu = time.process_time() - started

        started = time.process_time()
        for _ in range(REFUSED):
            again = await svc.http.post(
                "/ism/set-password", json={"token": token, "password": "another long one!"}
            )
            assert again.status_code == 409 and "already used" in again.json()["detail"]
        per_refusal = (time.process_time() - started) / REFUSED
        print(f"CPU per refused request: {per_refusal * 1000:.2f} ms; one scrypt: {scrypt_cpu * 1000:.1f} ms")
        assert per_refusal < scrypt_cpu / 4, (
            f"a refused request costs {per_refusal * 1000:.1f} ms of CPU, one scrypt {scrypt_cpu * 1000:.1f} ms"
        )
