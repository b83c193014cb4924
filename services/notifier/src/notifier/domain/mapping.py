"""Which event sends which email to whom: declared data, read by the reaction and by the tests.

Each event type maps to a tuple of rules (template, audience). The template name is unique across
the mapping, so an intended email finds its rule again (its link, its invitation) by name alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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

MAPPING: dict[str, tuple[EmailRule, ...]] = {
    # onboarding (seed 000)
    "IntegratorRegistered": (EmailRule("welcome", C),),
    # ops review what the integrator sends; the integrator hears the outcome either way
    "DossierItemSubmitted": (EmailRule("dossier_item_submitted_ops", OPS),),
    "DossierItemAccepted": (EmailRule("dossier_item_accepted", C),),
    "DossierItemRejected": (EmailRule("dossier_item_rejected", C),),
    "DossierWentOverdue": (EmailRule("dossier_overdue", C), EmailRule("dossier_overdue_ops", OPS)),
    "ConfigurationSheetSent": (EmailRule("configuration_sheet_sent", C),),
    "ProfileReceived": (EmailRule("profile_received", C),),
    "ElectricalProfileCreated": (EmailRule("electrical_profile_created", C),),
    "IntegratorWentLive": (EmailRule("integrator_live", C),),
    # sim-logistics
    "TestSimsShipped": (EmailRule("test_sims_shipped", C),),
    # The vendor's staff hold the call too: ops get the same invitation (the named sales contact
    # organises it and is an attendee on every copy).
    "ValidationCallBooked": (
        EmailRule("validation_call_booked", C, invitation=True),
        EmailRule("validation_call_booked_ops", OPS, invitation=True),
    ),
    "SimsValidated": (EmailRule("sims_validated", C),),
    "SimsRejected": (EmailRule("sims_rejected", C),),
    "ProductionOrdered": (EmailRule("production_ordered", C), EmailRule("production_ordered_ops", OPS)),
    "ProductionStarted": (EmailRule("production_started", C),),
    "SimsDelivered": (EmailRule("sims_delivered", C),),
    "DeliveryNoteSent": (EmailRule("delivery_note_sent", C),),
    "StepWentOverdue": (EmailRule("step_overdue", C), EmailRule("step_overdue_ops", OPS)),
    # ism-provisioning
    "ISMDelivered": (EmailRule("ism_delivered", C, link=Link.SET_PASSWORD),),
    # The ISM's own checks refused the tables onboarding accepted: the integrator sees the rows.
    "IsmConfigurationRejected": (EmailRule("ism_tables_refused", C),),
    "IsmDeliveryWentOverdue": (EmailRule("ism_overdue", C), EmailRule("ism_overdue_ops", OPS)),
    # support (seed 004): the requester hears of every stage of their ticket, ops of every request
    "TicketOpened": (EmailRule("ticket_opened", R), EmailRule("ticket_opened_ops", OPS)),
    "TicketMessagePosted": (
        EmailRule("ticket_message_ops", OPS, when=(("by_integrator", True),)),
        EmailRule("technician_reply", R, when=(("by_integrator", False), ("internal", False))),
    ),
    "TicketReopened": (EmailRule("ticket_reopened_ops", OPS),),
    "TicketTaken": (EmailRule("ticket_taken", R),),
    "TrackerDeclarationMade": (EmailRule("tracker_declaration_made", R),),
    "TicketStillWaitingOnTracker": (EmailRule("ticket_waiting_on_tracker", R),),
    "TrackerDeclarationSettled": (EmailRule("tracker_settled", R),),
    "TicketResolved": (EmailRule("ticket_resolved", R),),
    "TicketClosed": (EmailRule("ticket_closed", R, link=Link.SURVEY),),
    # Support records one warning per approved integrator when a release is withdrawn, on that
    # integrator's stream: mailing its contacts reaches exactly the approved integrators.
    "IntegratorWarnedOfWithdrawal": (EmailRule("release_withdrawn", C),),
    "IntegratorToldOfRelease": (EmailRule("release_published", C),),
    "IntegratorApproved": (EmailRule("approval_granted", C),),
    "IntegratorApprovalSuspended": (EmailRule("approval_suspended", C),),
    "IntegratorApprovalRevoked": (EmailRule("approval_revoked", C),),
    # web: the person invited to the portal or console, and a password reset they asked for
    "PortalUserInvited": (EmailRule("portal_invitation", PERSON, link=Link.PORTAL_INVITATION),),
    "PasswordResetRequested": (EmailRule("password_reset", PERSON, link=Link.PASSWORD_RESET),),
}

RULES_BY_TEMPLATE: dict[str, EmailRule] = {
    rule.template: rule for rules in MAPPING.values() for rule in rules
}

if len(RULES_BY_TEMPLATE) != sum(len(rules) for rules in MAPPING.values()):
    raise ValueError("a template name appears twice in the mapping")

HANDLED: frozenset[str] = frozenset(MAPPING)
