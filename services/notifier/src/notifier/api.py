"""Queries on the emails (per integrator, per event, failed ones for ops), the rendered email, resend."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam

from chassis.auth import Principal, authorize_integrator, require
from chassis.http import RuntimeDep
from chassis.unit_of_work import Loaded, UnitOfWork
from contracts.errors import NotFound
from notifier.aggregates import EMAIL
from notifier.delivery import deliver
from notifier.domain import emails
from notifier.mailer import compose

router = APIRouter(tags=["notifier"])

Ops = Annotated[Principal, Depends(require("ops"))]
OpsOrIntegrator = Annotated[Principal, Depends(require("ops", "integrator"))]
IntegratorId = Annotated[str, PathParam(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]
Status = Annotated[str | None, Query(pattern="^(intended|sent|failed)$")]


def _listing(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"emails": rows, "count": len(rows)}


@router.get("/emails")
async def list_emails(runtime: RuntimeDep, who: Ops, status: Status = None) -> dict[str, Any]:
    """Every email, or those with one status: `?status=failed` is the list ops watch and resend from."""
    if status is None:
        return _listing(await runtime.projections.list("notifier_emails", order_by="position"))
    rows = await runtime.projections.list(
        "notifier_emails", where="data->>'status' = $1", args=[status], order_by="position"
    )
    return _listing(rows)


@router.get("/integrators/{integrator_id}/emails")
async def emails_of_integrator(
    integrator_id: IntegratorId, runtime: RuntimeDep, who: OpsOrIntegrator, status: Status = None
) -> dict[str, Any]:
    """The emails sent (or being sent) about one integrator: status, attempts, last error."""
    authorize_integrator(who, integrator_id)
    if status is None:
        rows = await runtime.projections.list(
            "notifier_emails", integrator_id=integrator_id, order_by="position"
        )
    else:
        rows = await runtime.projections.list(
            "notifier_emails",
            integrator_id=integrator_id,
            where="data->>'status' = $1",
            args=[status],
            order_by="position",
        )
    return _listing(rows)


@router.get("/events/{event_id}/emails")
async def emails_of_event(event_id: UUID, runtime: RuntimeDep, who: Ops) -> dict[str, Any]:
    """The emails one event (of any service) caused."""
    rows = await runtime.projections.list(
        "notifier_emails", where="data->>'source_event_id' = $1", args=[str(event_id)], order_by="position"
    )
    return _listing(rows)


@router.get("/integrators/{integrator_id}/contacts")
async def contacts_of_integrator(
    integrator_id: IntegratorId, runtime: RuntimeDep, who: Ops
) -> dict[str, Any]:
    """Who the notifier mails for an integrator, and in which language (learnt from IntegratorRegistered)."""
    row = await runtime.projections.get("notifier_contacts", integrator_id)
    if row is None:
        raise NotFound("no contacts known for this integrator", field="integrator_id")
    return row


async def _email(uow: UnitOfWork, email_id: UUID) -> Loaded[emails.Email]:
    loaded = await uow.load(EMAIL, str(email_id))
    if loaded.state.intended is None:
        raise NotFound("no such email", field="email_id")
    return loaded


@router.get("/emails/{email_id}")
async def show_email(email_id: UUID, runtime: RuntimeDep, who: Ops) -> dict[str, Any]:
    """One email's status and its history (every attempt with its error)."""
    async with runtime.unit_of_work() as uow:
        loaded = await _email(uow, email_id)
        row = await uow.view("notifier_emails", str(email_id))
    history = [
        {
            "event_type": r.envelope.event_type,
            "occurred_at": r.envelope.occurred_at.isoformat(),
            **{k: v for k, v in r.envelope.payload.items() if k != "context"},
        }
        for r in loaded.history
    ]
    return {**(row or {}), "history": history}


@router.get("/emails/{email_id}/rendered")
async def rendered_email(email_id: UUID, runtime: RuntimeDep, who: Ops) -> dict[str, Any]:
    """The email as it was sent, composed again from its EmailIntended (personal links hidden)."""
    async with runtime.unit_of_work() as uow:
        loaded = await _email(uow, email_id)
    assert loaded.state.intended is not None
    message = compose(
        loaded.state.intended,
        intended_at=loaded.history[0].envelope.occurred_at,
        settings=runtime.settings,
        for_ops=True,
    )
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    return {
        "headers": {k: str(v).strip() for k, v in message.items()},
        "subject": str(message["Subject"]),
        "text": text.get_content() if text is not None else None,
        "html": html.get_content() if html is not None else None,
        "attachments": [
            {
                "filename": part.get_filename(),
                "content_type": part.get_content_type(),
                "content": part.get_content(),
            }
            for part in message.iter_attachments()
        ],
    }


@router.post("/emails/{email_id}/resend", status_code=202)
async def resend_email(email_id: UUID, runtime: RuntimeDep, who: Ops) -> dict[str, Any]:
    """Try a failed email again (a new round of attempts, the same Message-ID). 409 unless failed."""
    async with runtime.unit_of_work() as uow:
        loaded = await _email(uow, email_id)
        uow.append(
            loaded,
            emails.request_resend(loaded.state, who.subject),
            integrator_id=loaded.history[0].envelope.integrator_id,
        )
    # Attempt now rather than at the next schedule run; keep a reference so the task is not collected.
    task = asyncio.create_task(deliver(runtime, str(email_id)))
    pending: set[asyncio.Task[None]] = runtime.extras.setdefault("resends", set())
    pending.add(task)
    task.add_done_callback(pending.discard)
    return {"email_id": str(email_id), "status": "intended"}
