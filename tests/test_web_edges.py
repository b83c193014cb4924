"""The web front's last edges (issue 22, findings 8 and 9), on the real database:

- NUL in any form field is a 422 naming the field, in the reader's language (it was a 500 from
  PostgreSQL on the sign-in email);
- a reset request costs the same for an address with or without an account (the work is after the
  answer);
- wrong passwords slow the client that types them, and a stranger cannot lock the owner out;
- an unknown address and a wrong password get the same answer, in similar time.
"""

from __future__ import annotations

import re
import statistics
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from chassis.clock import ManualClock
from contracts.events.common import Locale
from contracts.events.web import PortalRole
from tests.support.waiting import eventually
from tests.test_support import START
from web import app as web_app
from web import commands, store
from web.aggregates import ACCOUNT

ACME = "0199a000-0000-7000-8000-0000000000ac"
OWNER = "jeanne@acme-caisse.example"
PASSWORD = "the owner's own passphrase"  # noqa: S105 (a test account's)
CSRF = "edge-csrf"


def _from(svc: Any, address: str, language: str = "fr") -> httpx.AsyncClient:
    """A client of the web front at this client address (the in-process transport names it)."""
    transport = httpx.ASGITransport(app=svc.runtime.http_app, client=(address, 40000))
    return httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        cookies={"csrf": CSRF},
        headers={"x-csrf-token": CSRF, "accept-language": language},
        timeout=30,
    )


async def _owner(runtime: Any, *, with_password: bool = True) -> Any:
    async with runtime.unit_of_work() as uow:
        invited = await commands.invite(
            uow,
            email=OWNER,
            name="Jeanne",
            role=PortalRole.INTEGRATOR,
            integrator_id=ACME,
            locale=Locale.FR,
            invited_by="test",
        )
    user_id = invited.state.user_id
    if with_password:
        async with runtime.pool.acquire() as conn:
            await store.keep_password(conn, user_id, await store.hash_password(PASSWORD), runtime.clock.now())
    return user_id


# --- finding 8: untranslatable text in a form ------------------------------------------------------


async def test_nul_in_any_form_field_is_a_422_naming_it_in_the_readers_language(service: Any) -> None:
    async with service(web_app, run_reactions=False) as svc:
        for language, sentence in (("fr", "Vérifiez ces champs"), ("en", "Check these fields")):
            async with _from(svc, "192.0.2.10", language) as http:
                for path, form, field in (
                    ("/login", {"email": "jeanne\x00@acme.example", "password": "x" * 12}, "email"),
                    ("/login", {"email": OWNER, "password": "pass\x00word-long"}, "password"),
                    ("/password-reset", {"email": "a\x00b@acme.example"}, "email"),
                    (
                        "/invitation/some.token",
                        {"password": "p" * 12, "confirmation": "\x00" * 12},
                        "confirmation",
                    ),
                    ("/language", {"lang": "e\x00n", "next": "/"}, "lang"),
                ):
                    answer = await http.post(path, data=form)
                    assert answer.status_code == 422, (path, answer.status_code)
                    assert sentence in answer.text and f": {field}." in answer.text, (
                        path,
                        answer.text[-800:],
                    )


# --- finding 9: the reset request's cost ----------------------------------------------------------


async def test_a_reset_request_costs_the_same_for_a_known_and_an_unknown_address(service: Any) -> None:
    async with service(web_app, rate_limit_sign_in="1000 per minute", run_reactions=False) as svc:
        runtime = svc.runtime
        user_id = await _owner(runtime, with_password=False)

        async def open_links() -> int:
            async with runtime.unit_of_work() as uow:
                loaded = await uow.load(ACCOUNT, str(user_id))
            return len(loaded.state.open_links)

        async def timed(http: httpx.AsyncClient, address: str) -> float:
            started = time.perf_counter()
            answer = await http.post("/password-reset", data={"email": address})
            took = time.perf_counter() - started
            assert answer.status_code == 200
            return took

        known, unknown = [], []
        async with _from(svc, "192.0.2.20") as http:
            await timed(http, "warm.up@acme-caisse.example")
            for round_ in range(15):
                unknown.append(await timed(http, f"nobody{round_}@acme-caisse.example"))
                known.append(await timed(http, OWNER))
                # The link is asked for all the same (after the answer): wait for it, so that its
                # work is not counted in the next request's time.
                await eventually(lambda n=round_: _more_than(open_links, n + 1), what="the reset link")
        known_ms, unknown_ms = statistics.median(known) * 1000, statistics.median(unknown) * 1000
        print(f"reset request medians: known {known_ms:.2f} ms, unknown {unknown_ms:.2f} ms")
        assert known_ms < unknown_ms * 1.4 + 1.0, (known_ms, unknown_ms)


async def _more_than(count: Any, n: int) -> bool:
    return await count() > n


# --- finding 9: wrong passwords, lockout and identical answers --------------------------------------


async def test_a_stranger_cannot_lock_the_owner_out_and_is_slowed_himself(service: Any) -> None:
    clock = ManualClock(START)
    async with service(web_app, clock=clock, run_reactions=False) as svc:
        await _owner(svc.runtime)
        async with _from(svc, "203.0.113.7") as stranger, _from(svc, "198.51.100.2") as owner:
            form = {"email": OWNER, "password": "a guess of the stranger"}
            answers = [(await stranger.post("/login", data=form)).status_code for _ in range(12)]
            assert 423 not in answers
            assert answers[:5] == [401] * 5 and answers[5:] == [429] * 7, answers
            # Slowed for real: even the right password is not tried for the stranger's client now...
            slowed = await stranger.post("/login", data={"email": OWNER, "password": PASSWORD})
            assert slowed.status_code == 429 and int(slowed.headers["retry-after"]) >= 1
            # ...while the owner, from their own client, signs in at once.
            signed_in = await owner.post("/login", data={"email": OWNER, "password": PASSWORD})
            assert signed_in.status_code == 303, signed_in.status_code
            assert signed_in.headers["location"] == "/portal"
            # The wait doubles at each failure past the free ones, and then passes.
            clock.advance(timedelta(seconds=2))
            again = await stranger.post("/login", data=form)
            assert again.status_code == 401
            assert int((await stranger.post("/login", data=form)).headers["retry-after"]) == 2
            clock.advance(timedelta(seconds=3))
            assert (
                await stranger.post("/login", data={"email": OWNER, "password": PASSWORD})
            ).status_code == 303


async def test_an_unknown_address_and_a_wrong_password_get_the_same_answer(service: Any) -> None:
    clock = ManualClock(START)
    async with service(web_app, clock=clock, run_reactions=False) as svc:
        await _owner(svc.runtime)
        unknown = "marc@acme-caisse.example"

        series: dict[str, tuple[list[int], list[str], list[float]]] = {
            OWNER: ([], [], []),
            unknown: ([], [], []),
        }
        async with _from(svc, "192.0.2.31") as for_known, _from(svc, "192.0.2.32") as for_unknown:
            # Interleaved, so that the machine's load weighs on both series alike.
            for _ in range(7):
                for http, email in ((for_known, OWNER), (for_unknown, unknown)):
                    statuses, bodies, times = series[email]
                    started = time.perf_counter()
                    answer = await http.post("/login", data={"email": email, "password": "not the password"})
                    times.append(time.perf_counter() - started)
                    statuses.append(answer.status_code)
                    bodies.append(_without_tokens(answer.text.replace(email, "ADDRESS")))
        known_statuses, known_bodies, known_times = series[OWNER]
        unknown_statuses, unknown_bodies, unknown_times = series[unknown]
        assert known_statuses == unknown_statuses == [401] * 5 + [429] * 2
        assert known_bodies == unknown_bodies
        # In similar time: the same argon2 verification for both (a dummy hash for the unknown one).
        known_ms = statistics.median(known_times[:5]) * 1000
        unknown_ms = statistics.median(unknown_times[:5]) * 1000
        print(f"wrong password {known_ms:.1f} ms, unknown address {unknown_ms:.1f} ms (medians)")
        assert 0.5 < known_ms / unknown_ms < 2.0, (known_ms, unknown_ms)


def _without_tokens(html: str) -> str:
    return re.sub(r'value="[A-Za-z0-9_-]{20,}"', 'value="TOKEN"', html)


# --- finding 10: Content-Security-Policy ------------------------------------------------------------

TEMPLATES = Path(web_app.__file__).parent / "templates"


async def test_every_page_carries_a_strict_content_security_policy(service: Any) -> None:
    async with service(web_app, run_reactions=False) as svc:
        for path in (
            "/login",
            "/password-reset",
            "/invitation/not.a.token",
            "/no-such-page",
            "/static/app.css",
        ):
            answer = await svc.http.get(path)
            policy = answer.headers.get("content-security-policy", "")
            directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
            assert directives.get("script-src") == ["'self'"], (path, policy)
            assert directives.get("style-src") == ["'self'"], (path, policy)
            assert directives.get("default-src") == ["'self'"], (path, policy)
            assert directives.get("object-src") == ["'none'"], (path, policy)
            assert directives.get("frame-ancestors") == ["'none'"], (path, policy)
            assert directives.get("base-uri") == ["'self'"], (path, policy)
            assert directives.get("form-action") == ["'self'"], (path, policy)
            assert not any("unsafe" in value for values in directives.values() for value in values)


def test_no_template_needs_an_inline_script_a_handler_or_a_style():
    """What the policy would refuse in a browser (tests/browser fail on any reported violation)."""
    inline = re.compile(
        r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+\s*=|\shx-on|javascript:|js:",
        re.IGNORECASE,
    )
    found = [
        f"{path.relative_to(TEMPLATES)}: {match.group(0)!r}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for match in inline.finditer(re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.DOTALL))
    ]
    assert found == []
