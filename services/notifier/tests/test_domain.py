"""The notifier's domain as specifications: given what it knows, when an event arrives, then these emails."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from contracts.errors import CommandRefused, NotFound, OutOfOrder
from contracts.events.common import Contact, Locale
from contracts.events.notifier import (
    EmailAttemptFailed,
    EmailFailed,
    EmailIntended,
    EmailResendRequested,
    EmailSent,
    IntegratorContactsNoted,
    TicketRequesterNoted,
)
from contracts.events.support import Requester
from notifier.domain import emails
from notifier.domain.emails import Status, email_id_of, intend_emails, message_id_of
from notifier.domain.mapping import MAPPING, RULES_BY_TEMPLATE, Audience
from notifier.domain.recipients import (
    IntegratorContacts,
    TicketRequester,
    contacts_from,
    note_contacts,
    note_requester,
    requester_from,
)

from .samples import ACME, NOW, envelope, mapped_events, opened, registered

OPS = "ops@integrator-platform.example"
ACME_CONTACTS = IntegratorContacts("Acme Télécom", tuple(registered().contacts), Locale.EN)
CHLOE = TicketRequester("Chloé Requester", "chloe@acme.example", "Caisse bloquée")


def test_every_event_the_issue_names_is_mapped():
    for event_type in [
        "IntegratorRegistered",
        "DossierItemRejected",
        "ProfileReceived",
        "ElectricalProfileCreated",
        "TestSimsShipped",
        "ValidationCallBooked",
        "SimsValidated",
        "SimsRejected",
        "ProductionOrdered",
        "SimsDelivered",
        "ISMDelivered",
        "IntegratorWentLive",
        "StepWentOverdue",
        "TicketOpened",
        "TicketTaken",
        "TrackerDeclarationMade",
        "TicketStillWaitingOnTracker",
        "TicketResolved",
        "TicketClosed",
        "IntegratorWarnedOfWithdrawal",
    ]:
        assert MAPPING[event_type], event_type
    assert {r.audience for r in MAPPING["StepWentOverdue"]} == {Audience.CONTACTS, Audience.OPS}
    assert RULES_BY_TEMPLATE["validation_call_booked"].invitation


@pytest.mark.parametrize("event_type", sorted(MAPPING))
def test_each_event_intends_one_email_per_rule_and_recipient(event_type):
    event = mapped_events()[event_type]
    intended = intend_emails(envelope(event), integrator=ACME_CONTACTS, ticket=CHLOE, ops_email=OPS)
    expected = []
    for rule in MAPPING[event_type]:
        if not rule.applies_to(event.model_dump(mode="json")):
            continue
        if rule.audience is Audience.CONTACTS:
            expected += [(rule.template, "alice@acme.example"), (rule.template, "bob@acme.example")]
        elif rule.audience is Audience.REQUESTER:
            expected.append((rule.template, "chloe@acme.example"))
        elif rule.audience is Audience.PERSON:
            expected.append((rule.template, event.email))
        else:
            expected.append((rule.template, OPS))
    assert [(i.template, i.recipients[0]) for i in intended] == expected
    assert len({i.message_id for i in intended}) == len(intended)
    for email in intended:
        assert email.source_event_type == event_type
        assert None not in email.context.values()


def test_the_same_event_intends_the_same_message_ids_and_another_event_new_ones():
    event = mapped_events()["SimsValidated"]
    source = envelope(event)
    first = intend_emails(source, integrator=ACME_CONTACTS, ticket=None, ops_email=OPS)
    again = intend_emails(source, integrator=ACME_CONTACTS, ticket=None, ops_email=OPS)
    other = intend_emails(envelope(event), integrator=ACME_CONTACTS, ticket=None, ops_email=OPS)
    assert [e.message_id for e in first] == [e.message_id for e in again]
    assert not {e.message_id for e in first} & {e.message_id for e in other}
    assert first[0].message_id.endswith("@notifier.integrator-platform>")
    assert message_id_of(email_id_of(first[0].message_id)) == first[0].message_id


def test_contacts_read_their_integrators_language_and_ops_reads_french():
    overdue = intend_emails(
        envelope(mapped_events()["StepWentOverdue"]), integrator=ACME_CONTACTS, ticket=None, ops_email=OPS
    )
    assert [(e.recipients[0], e.locale) for e in overdue] == [
        ("alice@acme.example", Locale.EN),
        ("bob@acme.example", Locale.EN),
        (OPS, Locale.FR),
    ]


def test_the_requester_reads_french_when_the_integrator_is_unknown():
    [email] = intend_emails(
        envelope(mapped_events()["TicketTaken"]), integrator=None, ticket=CHLOE, ops_email=OPS
    )
    assert email.locale is Locale.FR and email.recipients == ["chloe@acme.example"]
    assert "integrator_name" not in email.context  # left out, not "None"


def test_unknown_recipients_are_refused_not_dropped():
    with pytest.raises(NotFound):
        intend_emails(envelope(mapped_events()["SimsValidated"]), integrator=None, ticket=None, ops_email=OPS)
    with pytest.raises(NotFound):
        intend_emails(
            envelope(mapped_events()["TicketTaken"]), integrator=ACME_CONTACTS, ticket=None, ops_email=OPS
        )


def test_a_contact_listed_twice_gets_one_email():
    alice = Contact(name="Alice", email="alice@acme.example", phone="+33100000000")
    twice = IntegratorContacts(
        "Acme", (alice, alice.model_copy(update={"email": "ALICE@acme.example"})), Locale.FR
    )
    assert (
        len(
            intend_emails(
                envelope(mapped_events()["SimsValidated"]), integrator=twice, ticket=None, ops_email=OPS
            )
        )
        == 1
    )


def test_contacts_and_requester_are_noted_once_and_folded_back():
    source = uuid4()
    noted = note_contacts([], registered(Locale.EN), source)
    assert isinstance(noted[0], IntegratorContactsNoted)
    assert note_contacts(noted, registered(Locale.EN), source) == []
    contacts = contacts_from(noted)
    assert contacts is not None and contacts.locale is Locale.EN and len(contacts.contacts) == 2
    requester = note_requester([], opened(), source, contacts)
    assert isinstance(requester[0], TicketRequesterNoted)
    assert note_requester(requester, opened(), source, contacts) == []
    assert requester_from(requester) == TicketRequester(
        "Chloé Requester", "chloe@acme.example", "Caisse bloquée <après mise à jour>", "T-2026-000123"
    )


# --- an email's life -------------------------------------------------------------------------------


def _intended() -> EmailIntended:
    [email] = intend_emails(
        envelope(mapped_events()["TicketTaken"]), integrator=ACME_CONTACTS, ticket=CHLOE, ops_email=OPS
    )
    return email


def test_an_email_is_intended_once():
    intended = _intended()
    assert emails.intend(emails.Email(), intended) == [intended]
    assert emails.intend(emails.fold([intended]), intended) == []


def test_given_intended_when_sent_then_sent_once():
    state = emails.fold([_intended()])
    assert emails.due(state, NOW)
    [sent] = emails.record_sent(state)
    assert isinstance(sent, EmailSent) and sent.attempts == 1
    done = emails.evolve(state, sent)
    assert done.status is Status.SENT and not emails.due(done, NOW)
    assert emails.record_sent(done) == []


def test_failed_attempts_back_off_exponentially_then_give_up_visibly():
    history = [_intended()]
    now = NOW
    delays = []
    for _ in range(4):
        [failed] = emails.record_failed_attempt(
            emails.fold(history), "SMTPConnectError: refused", now=now, max_attempts=5, backoff_seconds=1.0
        )
        assert isinstance(failed, EmailAttemptFailed) and failed.retry_at is not None
        delays.append(failed.retry_at - now)
        assert not emails.due(emails.fold([*history, failed]), now)
        history.append(failed)
        now = failed.retry_at
        assert emails.due(emails.fold(history), now)
    assert delays == [timedelta(seconds=s) for s in (1, 2, 4, 8)]
    last = emails.record_failed_attempt(
        emails.fold(history), "still refused", now=now, max_attempts=5, backoff_seconds=1.0
    )
    assert [type(e) for e in last] == [EmailAttemptFailed, EmailFailed]
    assert last[1].attempts == 5 and last[1].error == "still refused"
    state = emails.fold([*history, *last])
    assert state.status is Status.FAILED and not emails.due(state, now + timedelta(days=1))


def test_a_failed_email_can_be_resent_for_a_new_round_of_attempts():
    intended = _intended()
    failed = emails.record_failed_attempt(
        emails.fold([intended]), "down", now=NOW, max_attempts=1, backoff_seconds=1
    )
    state = emails.fold([intended, *failed])
    [resend] = emails.request_resend(state, "ops-user")
    assert isinstance(resend, EmailResendRequested)
    again = emails.evolve(state, resend)
    assert again.status is Status.INTENDED and emails.due(again, NOW) and again.round_attempts == 0
    [sent] = emails.record_sent(again)
    assert sent.attempts == 2  # every attempt counts, both rounds


def test_only_a_failed_email_can_be_resent():
    with pytest.raises(OutOfOrder):
        emails.request_resend(emails.fold([_intended()]), "ops-user")
    with pytest.raises(NotFound):
        emails.request_resend(emails.Email(), "ops-user")


def test_a_long_error_is_kept_short():
    [failed] = emails.record_failed_attempt(
        emails.fold([_intended()]), "x" * 5000, now=NOW, max_attempts=3, backoff_seconds=1
    )
    assert len(failed.error) == emails.MAX_ERROR_LENGTH


def test_samples_are_for_acme():
    assert envelope(mapped_events()["SimsValidated"]).integrator_id == ACME


def test_a_ticket_requester_the_contacts_do_not_vouch_for_is_refused_never_mailed():
    contacts = contacts_from(note_contacts([], registered(), uuid4()))
    outsider = opened().model_copy(update={"requester": Requester(name="Eve", email="eve@elsewhere.example")})
    with pytest.raises(CommandRefused) as refused:
        note_requester([], outsider, uuid4(), contacts)
    assert refused.value.code == "requester_not_a_contact"
    with pytest.raises(CommandRefused):
        note_requester([], opened(), uuid4(), None)  # no contacts known: nobody vouches


def test_a_person_named_by_an_integrators_event_is_mailed_only_if_its_contacts_vouch_for_them():
    from contracts.events.web import STAFF
    from notifier.domain.recipients import recipients_for

    contacts = contacts_from(note_contacts([], registered(), uuid4()))
    [rule] = MAPPING["PortalUserInvited"]

    def to(email: str, integrator_id: str = ACME):
        return recipients_for(
            rule,
            integrator_id=integrator_id,
            integrator=contacts,
            ticket=None,
            ops_email="ops@x.example",
            payload={"email": email, "name": "N"},
        )

    assert [r.address for r in to("new.person@acme.example")] == ["new.person@acme.example"]
    with pytest.raises(CommandRefused):
        to("mallory@evil.example")
    # Staff invitations name no integrator: not the contacts' business.
    assert [r.address for r in to("anne@vendor.example", STAFF)] == ["anne@vendor.example"]
