"""Other services' events become intended emails, in the transaction that consumes them (P5)."""

from __future__ import annotations

from functools import partial
from typing import Any

from chassis.eventstore import Recorded
from chassis.runtime import Reaction, ReactionContext
from contracts import topics
from contracts.envelope import Envelope
from contracts.events import DomainEvent
from contracts.events.onboarding import IntegratorContactsUpdated, IntegratorRegistered
from contracts.events.support import TicketOpened
from notifier.delivery import deliver
from notifier.domain import emails, recipients
from notifier.domain.mapping import HANDLED
from notifier.metrics import email_metrics


async def on_event(ctx: ReactionContext, rec: Recorded) -> None:
    source, event = rec.envelope, rec.event
    integrator_id = source.integrator_id
    # First what this event teaches about recipients, as the notifier's own events.
    if isinstance(event, IntegratorRegistered):
        # The contacts stream as read and appended to here: the contacts without reading it again.
        contacts_history: list[DomainEvent] = []

        def note(h: list[Recorded]) -> list[DomainEvent]:
            contacts_history[:] = [r.event for r in h]
            noted = recipients.note_contacts(contacts_history.copy(), event, source.event_id)
            contacts_history.extend(noted)
            return noted

        await ctx.execute(
            stream_id=recipients.contacts_stream(integrator_id), integrator_id=integrator_id, decide=note
        )
        integrator = recipients.contacts_from(contacts_history)
    elif isinstance(event, IntegratorContactsUpdated):
        # Later emails go to the new contacts, in the new language.
        await ctx.execute(
            stream_id=recipients.contacts_stream(integrator_id),
            integrator_id=integrator_id,
            decide=lambda h: recipients.update_contacts([r.event for r in h], event, source.event_id),
        )
        integrator = await _contacts(ctx, integrator_id)
    else:
        integrator = await _contacts(ctx, integrator_id)
    if isinstance(event, TicketOpened):
        await ctx.execute(
            stream_id=recipients.ticket_stream(event.ticket_id),
            integrator_id=integrator_id,
            decide=lambda h: recipients.note_requester([r.event for r in h], event, source.event_id),
        )
    if integrator is None and recipients.needs_contacts(source.event_type):
        # Topics are not ordered with one another: wait for IntegratorRegistered, don't refuse.
        await ctx.execute(
            stream_id=recipients.held_stream(integrator_id),
            integrator_id=integrator_id,
            decide=lambda h: recipients.hold(source),
        )
        return
    await _intend(ctx, source, integrator)
    if isinstance(event, IntegratorRegistered):
        held_stream = recipients.held_stream(integrator_id)
        history = await ctx.runtime.store.read_stream(ctx.conn, held_stream)
        held = recipients.still_held(r.event for r in history)
        for envelope in held:
            await _intend(ctx, envelope, integrator)
        # Released as read: an event held meanwhile by another transaction is a conflict (retried),
        # never released without its emails.
        await ctx.runtime.append_in(
            ctx.conn,
            stream_id=held_stream,
            integrator_id=integrator_id,
            expected_version=len(history),
            events=recipients.release(held),
        )


async def _contacts(ctx: ReactionContext, integrator_id: str) -> recipients.IntegratorContacts | None:
    history = await ctx.runtime.store.read_stream(ctx.conn, recipients.contacts_stream(integrator_id))
    return recipients.contacts_from(r.event for r in history)


async def _intend(
    ctx: ReactionContext, source: Envelope, integrator: recipients.IntegratorContacts | None
) -> None:
    """Record the source event's emails as intended, and send each after the commit.
    `integrator`: the contacts of the source's integrator, as known in this transaction."""
    settings: Any = ctx.runtime.settings
    integrator_id = source.integrator_id
    ticket = None
    ticket_id = source.payload.get("ticket_id")
    if ticket_id is not None:
        history = await ctx.runtime.store.read_stream(ctx.conn, recipients.ticket_stream(ticket_id))
        ticket = recipients.requester_from(r.event for r in history)
    for intended in emails.intend_emails(
        source, integrator=integrator, ticket=ticket, ops_email=settings.ops_email
    ):
        email_id = emails.email_id_of(intended.message_id)
        recorded = await ctx.execute(
            stream_id=emails.email_stream(email_id),
            integrator_id=integrator_id,
            decide=lambda h, intended=intended: emails.intend(emails.fold(r.event for r in h), intended),
        )
        if recorded:
            email_metrics(ctx.runtime).email_intended(intended.template)
            ctx.after_commit(partial(deliver, ctx.runtime, email_id))


emails_to_send = Reaction(
    name="emails",
    topics=[topics.ONBOARDING, topics.SIM_LOGISTICS, topics.ISM_PROVISIONING, topics.SUPPORT, topics.WEB],
    handles={*HANDLED, IntegratorContactsUpdated},
    handler=on_event,
)

REACTIONS = [emails_to_send]
