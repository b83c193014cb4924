"""Other services' events become intended emails, in the transaction that consumes them (P5)."""

from __future__ import annotations

from functools import partial
from typing import Any

from chassis.eventstore import Recorded
from chassis.known_integrators import KnownIntegrators
from chassis.runtime import Reaction
from chassis.unit_of_work import UnitOfWork
from contracts import topics
from contracts.envelope import Envelope
from contracts.events.ism_provisioning import ISMDelivered
from contracts.events.onboarding import IntegratorContactsUpdated, IntegratorRegistered
from contracts.events.sim_logistics import SimsDelivered
from contracts.events.support import TicketOpened
from contracts.events.web import STAFF
from notifier.aggregates import CONTACTS, EMAIL, TICKET
from notifier.delivery import Known, send_after_commit
from notifier.domain import emails, recipients
from notifier.domain.mapping import HANDLED
from notifier.metrics import email_metrics


async def on_event(uow: UnitOfWork, rec: Recorded) -> None:
    source, event = rec.envelope, rec.event
    integrator_id = source.integrator_id
    # First what this event teaches about recipients, as the notifier's own events.
    contacts = await uow.load(CONTACTS, integrator_id)
    if isinstance(event, IntegratorRegistered):
        noted = recipients.note_contacts(list(contacts.state), event, source.event_id)
        uow.append(contacts, noted, integrator_id=integrator_id)
    elif isinstance(event, IntegratorContactsUpdated):
        # Later emails go to the new contacts, in the new language.
        updated = recipients.update_contacts(list(contacts.state), event, source.event_id)
        uow.append(contacts, updated, integrator_id=integrator_id)
    integrator = recipients.contacts_from(contacts.state)
    if isinstance(event, TicketOpened):
        ticket = await uow.load(TICKET, str(event.ticket_id))
        # The requester is mailed only if the integrator's contacts vouch for them.
        noted = recipients.note_requester(list(ticket.state), event, source.event_id, integrator)
        uow.append(ticket, noted, integrator_id=integrator_id)
    # No event of an integrator reaches here before its registration (the trust rule below holds
    # it until then), so its contacts are known.
    await _intend(uow, source, integrator)


async def _intend(
    uow: UnitOfWork, source: Envelope, integrator: recipients.IntegratorContacts | None
) -> None:
    """Record the source event's emails as intended, and send each after the commit.
    `integrator`: the contacts of the source's integrator, as known in this unit of work."""
    settings: Any = uow.settings
    integrator_id = source.integrator_id
    ticket = None
    ticket_id = source.payload.get("ticket_id")
    if ticket_id is not None:
        ticket = recipients.requester_from((await uow.load(TICKET, str(ticket_id))).state)
    intended = emails.intend_emails(
        source, integrator=integrator, ticket=ticket, ops_email=settings.ops_email
    )
    loaded = await uow.load_all(EMAIL, [emails.email_id_of(i.message_id) for i in intended])
    for email, intent in zip(loaded, intended, strict=True):
        if uow.append(email, emails.intend(email.state, intent), integrator_id=integrator_id):
            email_metrics(uow.runtime).email_intended(intent.template)
            email_id = emails.email_id_of(intent.message_id)
            # What was just decided travels with the send: it need not read the stream again.
            known = Known(email.state, email.version, intended_at=email.history[-1].envelope.occurred_at)
            uow.after_commit(partial(send_after_commit, uow.runtime, email_id, known))


async def what_a_batch_reads(uow: UnitOfWork, records: list[Recorded]) -> None:
    """Every integrator's contacts, and every ticket's requester, the batch's handlers will read:
    one round trip for the batch."""
    wanted: list[tuple[Any, str]] = []
    for rec in records:
        wanted.append((CONTACTS, rec.envelope.integrator_id))
        ticket_id = rec.envelope.payload.get("ticket_id")
        if ticket_id is not None:
            wanted.append((TICKET, str(ticket_id)))
    await uow.load_each(wanted)


emails_to_send = Reaction(
    name="emails",
    topics=[topics.ONBOARDING, topics.SIM_LOGISTICS, topics.ISM_PROVISIONING, topics.SUPPORT, topics.WEB],
    handles={*HANDLED, IntegratorContactsUpdated},
    handler=on_event,
    prefetch=what_a_batch_reads,
    trust=KnownIntegrators(
        registration=IntegratorRegistered,
        # The set-password link is signed only for the ISM delivery that follows what the notifier
        # saw of that integrator's process: the ISM is delivered once, after the SIMs
        # (ism_provisioning.domain.deliver_ism). A delivery read before the SIMs' waits for it.
        after={ISMDelivered: SimsDelivered},
        once={ISMDelivered},
        # Staff invitations and password resets name no integrator.
        not_integrators={STAFF},
    ),
)

REACTIONS = [emails_to_send]
