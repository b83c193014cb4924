"""The web front's accounts on the real database: one account per address, found through the
`web_addresses` view within a unit of work, and that view filled once for data older than it."""

from __future__ import annotations

import asyncio
from typing import Any

from chassis.eventstore import ConcurrencyConflict
from contracts.events.common import Locale
from contracts.events.web import PortalRole
from web import app as web_app
from web import commands

ACME = "0199a000-0000-7000-8000-0000000000ac"


async def _invite(uow: Any, email: str) -> Any:
    return await commands.invite(
        uow,
        email=email,
        name="Paul",
        role=PortalRole.INTEGRATOR,
        integrator_id=ACME,
        locale=Locale.FR,
        invited_by="test",
    )


async def test_one_account_per_address_even_invited_twice_at_once(service: Any) -> None:
    async with service(web_app, run_reactions=False, run_relay=False) as svc:
        runtime = svc.runtime
        # Twice in one unit of work (a reaction's batch naming a contact twice): the second invitation
        # finds the account the first made, not yet written.
        async with runtime.unit_of_work() as uow:
            first = await _invite(uow, "paul@acme-caisse.example")
            again = await _invite(uow, " Paul@Acme-Caisse.example ")
        assert again is first and len(first.history) == 2

        # Two units of work inviting a new address at once: the second to write conflicts.
        async def invite_alone(started: asyncio.Event, go: asyncio.Event) -> Any:
            async with runtime.unit_of_work() as uow:
                loaded = await _invite(uow, "anne@acme-caisse.example")
                started.set()
                await go.wait()
            return loaded

        go = asyncio.Event()
        started = [asyncio.Event(), asyncio.Event()]
        racing = [asyncio.create_task(invite_alone(s, go)) for s in started]
        await asyncio.gather(*(s.wait() for s in started))
        go.set()
        outcomes = await asyncio.gather(*racing, return_exceptions=True)
        assert sorted(isinstance(o, ConcurrencyConflict) for o in outcomes) == [False, True], outcomes
        users = await runtime.projections.list(
            "web_users", where="data->>'email' = $1", args=["anne@acme-caisse.example"]
        )
        assert len(users) == 1


async def test_the_address_view_is_filled_once_from_the_accounts_older_than_it(service: Any) -> None:
    async with service(web_app, run_reactions=False, run_relay=False) as svc:
        runtime = svc.runtime
        async with runtime.unit_of_work() as uow:
            paul = await _invite(uow, "paul@acme-caisse.example")
        rebuilt = await runtime.projections.snapshot("web_addresses")
        assert [(key, data) for key, _, data, _ in rebuilt] == [
            ("paul@acme-caisse.example", {"user_id": paul.stream_id.removeprefix("user-")})
        ]
        # A database from before the view: accounts, no address rows. The next start fills them.
        async with runtime.pool.acquire() as conn:
            await conn.execute("DELETE FROM web_addresses")
        await runtime.migrate()
        assert [(k, d) for k, _, d, _ in await runtime.projections.snapshot("web_addresses")] == [
            (k, d) for k, _, d, _ in rebuilt
        ]
        # ...so the address is known: inviting it again gives no second account.
        async with runtime.unit_of_work() as uow:
            again = await _invite(uow, "paul@acme-caisse.example")
        assert again.stream_id == paul.stream_id
