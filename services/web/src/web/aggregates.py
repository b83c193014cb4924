"""The web front's aggregate, declared once: a person's account (`user-<id>`), None until invited
(the chassis's unit of work loads it; `web.accounts` stays pure)."""

from __future__ import annotations

from uuid import UUID

from chassis.unit_of_work import Aggregate
from web import accounts

ACCOUNT = Aggregate[accounts.Account | None](
    "account",
    stream=lambda id_: accounts.stream_id(UUID(id_)),
    initial=lambda: None,
    evolve=accounts.evolve,
)
