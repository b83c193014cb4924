"""A minimal service for testing the chassis itself: it records sheets sent (onboarding events)
and counts, through a reaction, what it consumed. No business rules: those live in the services."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from chassis.clock import Clock
from chassis.consumer import Reaction, ReactionContext
from chassis.eventstore import Recorded
from chassis.http import RuntimeDep
from chassis.projections import Projection
from chassis.runtime import ServiceRuntime
from chassis.settings import ServiceSettings
from contracts import topics
from contracts.events.onboarding import ConfigurationSheetSent


class Settings(ServiceSettings):
    pass


def count_sheets(row: dict[str, Any] | None, envelope: Any, event: Any) -> dict[str, Any]:
    row = row or {"sheets": 0, "senders": []}
    return {"sheets": row["sheets"] + 1, "senders": [*row["senders"], event.sent_by]}


sheets = Projection(
    name="sheets",
    handles={"ConfigurationSheetSent"},
    key=lambda env, ev: env.integrator_id,
    apply=count_sheets,
)

CONSUMED: list[str] = []


async def remember(ctx: ReactionContext, rec: Recorded) -> None:
    # An effect in the consumer's transaction: a row per consumed event (the inbox makes it once).
    await ctx.conn.execute("INSERT INTO consumed (event_id) VALUES ($1)", rec.envelope.event_id)
    if rec.event.sent_by == "poison-me":  # type: ignore[attr-defined]
        from contracts.errors import CommandRefused

        raise CommandRefused("this consumer refuses poison-me", field="sent_by")


router = APIRouter()


class SendSheet(BaseModel):
    integrator_id: str = Field(min_length=1, max_length=50)
    sender: str = Field(min_length=1, max_length=50)


@router.post("/sheets", status_code=201)
async def post_sheet(body: SendSheet, runtime: RuntimeDep) -> dict[str, int]:
    recorded = await runtime.execute(
        stream_id=f"sheet-{body.integrator_id}",
        integrator_id=body.integrator_id,
        decide=send_sheet(body.sender),
    )
    return {"version": recorded[-1].envelope.stream_version}


def build_runtime(settings: Settings, clock: Clock | None = None, **kwargs: Any) -> ServiceRuntime:
    return ServiceRuntime(
        name="onboarding",
        settings=settings,
        clock=clock,
        routers=[router],
        projections=[sheets],
        reactions=[
            Reaction(
                name="echo", topics=[topics.ONBOARDING], handles={"ConfigurationSheetSent"}, handler=remember
            )
        ],
        migrations=["CREATE TABLE IF NOT EXISTS consumed (event_id uuid NOT NULL)"],
        **kwargs,
    )


def send_sheet(sender: str) -> Any:
    def decide(history: list[Recorded]) -> list[ConfigurationSheetSent]:
        return [ConfigurationSheetSent(sent_by=sender)]

    return decide


def _cli() -> Any:
    from chassis.cli import service_cli

    return service_cli(build_runtime, Settings)


if __name__ == "__main__":
    _cli()()
