"""Which event sends which email to whom: declared data, read by the reaction and by the tests.

Each event type maps to a tuple of rules (template, audience). The template name is unique across
the mapping, so an intended email finds its rule again (its link, its invitation) by name alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from contracts.events import DomainEvent, ism_provisioning, onboarding, sim_logistics, support, web


class Audience(StrEnum):
    #: Every contact of the integrator (from IntegratorRegistered), each in their own email.
    CONTACTS = "contacts"
    #: The person who asked the ticket (from TicketOpened).
    REQUESTER = "requester"
    #: The vendor's ops mailbox (settings `OPS_EMAIL`), in French.
    OPS = "ops"
    #: The person the event itself names (its `email`, `name`, `locale`): portal invitations and
    #: password resets, sent before that person is anyone's contact.
    PERSON = "person"


class Link(StrEnum):
    """A signed, expiring link the email carries (chassis.links), derived when rendering."""

    SET_PASSWORD = "set_password"  # noqa: S105 (a link kind, not a secret)
    # ISMDelivered.set_password_token_id / set_password_expires_at
    SURVEY = "survey"  # TicketClosed.survey_token_id / survey_expires_at
    PORTAL_INVITATION = "portal_invitation"  # PortalUserInvited.invitation_token_id / _expires_at
    PASSWORD_RESET = "password_reset"  # noqa: S105 — PasswordResetRequested.reset_token_id / _expires_at


@dataclass(frozen=True)
class EmailRule:
    template: str
    audience: Audience
    link: Link | None = None
    #: Attach an iCalendar invitation (the validation call).
    invitation: bool = False
    #: The rule applies only when the event's payload has these values (field, value): one event
    #: type can reach different people depending on what it says (a message from the integrator
    #: goes to ops, a technician's reply to the requester, an internal note to nobody).
    when: tuple[tuple[str, object], ...] = ()

    def applies_to(self, payload: dict[str, object]) -> bool:
        return all(payload.get(name, False) == value for name, value in self.when)


C, R, OPS, PERSON = Audience.CONTACTS, Audience.REQUESTER, Audience.OPS, Audience.PERSON

#: Declared by event class: a misspelt event is a NameError when the notifier is imported.
EMAILS_OF: dict[type[DomainEvent], tuple[EmailRule, ...]] = {
    # onboarding (seed 000)
    onboarding.IntegratorRegistered: (EmailRule("welcome", C),),
    # ops review what the integrator sends; the integrator hears the outcome either way
    onboarding.DossierItemSubmitted: (EmailRule("dossier_item_submitted_ops", OPS),),
    onboarding.DossierItemAccepted: (EmailRule("dossier_item_accepted", C),),
    onboarding.DossierItemRejected: (EmailRule("dossier_item_rejected", C),),
    onboarding.DossierWentOverdue: (EmailRule("dossier_overdue", C), EmailRule("dossier_overdue_ops", OPS)),
    onboarding.ConfigurationSheetSent: (EmailRule("configuration_sheet_sent", C),),
    onboarding.ProfileReceived: (EmailRule("profile_received", C),),
    onboarding.ElectricalProfileCreated: (EmailRule("electrical_profile_created", C),),
    onboarding.IntegratorWentLive: (EmailRule("integrator_live", C),),
    # sim-logistics
    sim_logistics.TestSimsShipped: (EmailRule("test_sims_shipped", C),),
    # The vendor's staff hold the call too: ops get the same invitation (the named sales contact
    # organises it and is an attendee on every copy).
    sim_logistics.ValidationCallBooked: (
        EmailRule("validation_call_booked", C, invitation=True),
        EmailRule("validation_call_booked_ops", OPS, invitation=True),
    ),
    sim_logistics.SimsValidated: (EmailRule("sims_validated", C),),
    sim_logistics.SimsRejected: (EmailRule("sims_rejected", C),),
    sim_logistics.ProductionOrdered: (
        EmailRule("production_ordered", C),
        EmailRule("production_ordered_ops", OPS),
    ),
    sim_logistics.ProductionStarted: (EmailRule("production_started", C),),
    sim_logistics.SimsDelivered: (EmailRule("sims_delivered", C),),
    sim_logistics.DeliveryNoteSent: (EmailRule("delivery_note_sent", C),),
    sim_logistics.StepWentOverdue: (EmailRule("step_overdue", C), EmailRule("step_overdue_ops", OPS)),
    # ism-provisioning
    ism_provisioning.ISMDelivered: (EmailRule("ism_delivered", C, link=Link.SET_PASSWORD),),
    # The ISM's own checks refused the tables onboarding accepted: the integrator sees the rows.
    ism_provisioning.IsmConfigurationRejected: (EmailRule("ism_tables_refused", C),),
    ism_provisioning.IsmDeliveryWentOverdue: (EmailRule("ism_overdue", C), EmailRule("ism_overdue_ops", OPS)),
    # support (seed 004): the requester hears of every stage of their ticket, ops of every request
    support.TicketOpened: (EmailRule("ticket_opened", R), EmailRule("ticket_opened_ops", OPS)),
    support.TicketMessagePosted: (
        EmailRule("ticket_message_ops", OPS, when=(("by_integrator", True),)),
        EmailRule("technician_reply", R, when=(("by_integrator", False), ("internal", False))),
    ),
    support.TicketReopened: (EmailRule("ticket_reopened_ops", OPS),),
    support.TicketTaken: (EmailRule("ticket_taken", R),),
    support.TrackerDeclarationMade: (EmailRule("tracker_declaration_made", R),),
    support.TicketStillWaitingOnTracker: (EmailRule("ticket_waiting_on_tracker", R),),
    support.TrackerDeclarationSettled: (EmailRule("tracker_settled", R),),
    support.TicketResolved: (EmailRule("ticket_resolved", R),),
    support.TicketClosed: (EmailRule("ticket_closed", R, link=Link.SURVEY),),
    # Support records one warning per approved integrator when a release is withdrawn, on that
    # integrator's stream: mailing its contacts reaches exactly the approved integrators.
    support.IntegratorWarnedOfWithdrawal: (EmailRule("release_withdrawn", C),),
    support.IntegratorToldOfRelease: (EmailRule("release_published", C),),
    support.IntegratorApproved: (EmailRule("approval_granted", C),),
    support.IntegratorApprovalSuspended: (EmailRule("approval_suspended", C),),
    support.IntegratorApprovalRevoked: (EmailRule("approval_revoked", C),),
    # web: the person invited to the portal or console, and a password reset they asked for
    web.PortalUserInvited: (EmailRule("portal_invitation", PERSON, link=Link.PORTAL_INVITATION),),
    web.PasswordResetRequested: (EmailRule("password_reset", PERSON, link=Link.PASSWORD_RESET),),
}

#: The same, by event type name: what a consumed envelope is looked up with.
MAPPING: dict[str, tuple[EmailRule, ...]] = {event.event_type: rules for event, rules in EMAILS_OF.items()}

RULES_BY_TEMPLATE: dict[str, EmailRule] = {
    rule.template: rule for rules in MAPPING.values() for rule in rules
}

if len(RULES_BY_TEMPLATE) != sum(len(rules) for rules in MAPPING.values()):
    raise ValueError("a template name appears twice in the mapping")

HANDLED: frozenset[type[DomainEvent]] = frozenset(EMAILS_OF)
