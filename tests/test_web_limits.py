"""The web front's per-address limits (issue 16) on its sign-in, reset and link pages: past the rate,
the form's page again saying when to come back (429, Retry-After), and nothing is done."""

from __future__ import annotations

from typing import Any

from web import app as web_app


async def _csrf(svc: Any) -> str:
    await svc.http.get("/login")
    return svc.http.cookies.get("csrf")


async def test_sign_in_and_reset_requests_are_slowed_per_address(service: Any) -> None:
    async with service(web_app, rate_limit_sign_in="2/minute", run_reactions=False) as svc:
        csrf = await _csrf(svc)
        form = {"csrf_token": csrf, "email": "x@editeur-essai.fr", "password": "not it at all", "next": "/"}
        assert [(await svc.http.post("/login", data=form)).status_code for _ in range(2)] == [401, 401]
        slowed = await svc.http.post("/login", data=form)
        assert slowed.status_code == 429 and int(slowed.headers["retry-after"]) >= 1
        assert "Trop de tentatives" in slowed.text and 'id="email"' in slowed.text  # the form again
        # The reset form shares the sign-in budget of the address.
        reset = await svc.http.post(
            "/password-reset", data={"csrf_token": csrf, "email": "x@editeur-essai.fr"}
        )
        assert reset.status_code == 429 and reset.headers["retry-after"]


async def test_a_link_pages_posts_are_slowed_per_address(service: Any) -> None:
    async with service(web_app, rate_limit_link="1/minute", run_reactions=False) as svc:
        csrf = await _csrf(svc)
        form = {"csrf_token": csrf, "password": "p" * 16, "confirmation": "p" * 16}
        first = await svc.http.post("/invitation/not.a-real.token", data=form)
        assert first.status_code == 410  # refused on its merits, and counted
        slowed = await svc.http.post("/password-reset/another.fake.token", data=form)
        assert slowed.status_code == 429 and "Trop de tentatives" in slowed.text
