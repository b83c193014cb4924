"""Rate limits on the real stack (issue 16): each link token's uses, each staff member's registrations,
each integrator's email-sending commands — past the rate, 429 with Retry-After, and nothing done."""

from __future__ import annotations

from typing import Any

from ism_provisioning import app as ism_app
from onboarding import app as onboarding_app
from support import app as support_app
from tests.test_onboarding import registration

ACME = "0199a000-0000-7000-8000-0000000000ac"


async def test_a_survey_link_is_slowed_per_token_whoever_relays_it(service: Any) -> None:
    async with service(support_app, rate_limit_link="3/minute") as svc:
        statuses = [(await svc.http.get("/surveys/not.a-real.token")).status_code for _ in range(3)]
        assert 429 not in statuses
        refused = await svc.http.post("/surveys/not.a-real.token", json={"rating": 5})
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        # Another link is not slowed by that one.
        assert (await svc.http.get("/surveys/another.fake.token")).status_code != 429


async def test_a_set_password_link_is_slowed_per_token(service: Any) -> None:
    async with service(ism_app, rate_limit_link="2/minute") as svc:
        token = "x" * 40
        for _ in range(2):
            assert (await svc.http.get("/ism/set-password", params={"token": token})).status_code != 429
        r = await svc.http.post("/ism/set-password", json={"token": token, "password": "p" * 16})
        assert r.status_code == 429 and r.headers["retry-after"]


async def test_registrations_are_bounded_per_staff_member(service: Any) -> None:
    async with service(onboarding_app, rate_limit_registrations="1/minute") as svc:
        first = await svc.http.post("/integrators", json=registration(), headers=svc.auth("ops"))
        assert first.status_code == 201, first.text
        second = await svc.http.post(
            "/integrators", json=registration(siret="35600000000048"), headers=svc.auth("ops")
        )
        assert second.status_code == 429
        listed = await svc.http.get("/integrators", headers=svc.auth("ops"))
        assert len(listed.json()) == 1  # nothing done


async def test_an_integrators_email_sending_commands_are_bounded_staff_are_not(service: Any) -> None:
    async with service(support_app, rate_limit_integrator_emails="1/minute") as svc:
        body = {"requester": {"name": "X", "email": "x@acme.fr"}, "subject": "s", "description": "d"}
        integrator = svc.auth("integrator", ACME)
        first = await svc.http.post("/tickets", json=body, headers=integrator)
        assert first.status_code != 429  # refused or not on its merits (an unknown requester): counted
        assert (await svc.http.post("/tickets", json=body, headers=integrator)).status_code == 429
        staff_body = {**body, "integrator_id": ACME, "channel": "phone"}
        for _ in range(3):
            r = await svc.http.post("/tickets", json=staff_body, headers=svc.auth("technician"))
            assert r.status_code != 429
