"""Accounts, as specifications: given an account's events, when a command, then events (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from typer.testing import CliRunner

from contracts.errors import CommandRefused, OutOfOrder
from contracts.events.common import Contact, Locale
from contracts.events.web import (
    PasswordResetRequested,
    PortalAccountLocked,
    PortalPasswordSet,
    PortalRole,
    PortalUserInvited,
)
from web import accounts
from web.app import cli

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
USER = uuid4()
ACME = "0199a000-0000-7000-8000-0000000000ac"


def invited(token=None, *, role=PortalRole.INTEGRATOR, integrator_id=ACME):
    return PortalUserInvited(
        user_id=USER,
        email="jeanne@acme.example",
        name="Jeanne",
        role=role,
        integrator_id=integrator_id,
        locale=Locale.FR,
        invitation_token_id=token or uuid4(),
        invitation_expires_at=NOW + timedelta(days=7),
        invited_by="onboarding",
    )


def invite(account, **overrides):
    values = dict(
        user_id=USER,
        email="jeanne@acme.example",
        name="Jeanne",
        role=PortalRole.INTEGRATOR,
        integrator_id=ACME,
        locale=Locale.FR,
        token_id=uuid4(),
        now=NOW,
        valid_for=timedelta(days=7),
        invited_by="onboarding",
    )
    values.update(overrides)
    return accounts.invite(account, **values)


def test_a_contact_is_invited_with_a_link_that_expires():
    [event] = invite(None)
    assert isinstance(event, PortalUserInvited)
    assert event.invitation_expires_at == NOW + timedelta(days=7)
    assert accounts.fold([event]).partition == ACME


def test_staff_belong_to_the_vendor_and_integrator_users_to_an_integrator():
    [staff] = invite(None, role=PortalRole.OPS, integrator_id=None)
    assert accounts.fold([staff]).partition == "vendor"
    with pytest.raises(CommandRefused):
        invite(None, role=PortalRole.INTEGRATOR, integrator_id=None)
    with pytest.raises(CommandRefused):
        invite(None, role=PortalRole.TECHNICIAN, integrator_id=ACME)


#: Addresses as French people have them at La Poste (hyphens, dots, an apostrophe, a tag, an accent).
LA_POSTE_STYLE = [
    "jean-marie.dupont@laposte.net",
    "anne-sophie.d'arc@laposte.fr",
    "service.client+pro@laposte.fr",
    "élodie.lefèvre@laposte.net",
]


def test_an_invitation_goes_to_an_address_email_validator_accepts():
    for address in LA_POSTE_STYLE:
        [event] = invite(None, email=address)
        assert isinstance(event, PortalUserInvited) and event.email == address
    for address in ("a..b@acme.example", "jeanne@", "jeanne.acme.example", "jeanne@acme"):
        with pytest.raises(CommandRefused) as refused:
            invite(None, email=address)
        assert (refused.value.field, refused.value.code) == ("email", "invalid_email")


def test_the_command_line_refuses_a_bad_address_before_anything_else():
    result = CliRunner().invoke(
        cli, ["users", "add", "--email", "a..b@acme.example", "--name", "Anne", "--role", "ops"]
    )
    assert result.exit_code == 2
    assert "--email" in result.output and "two periods" in result.output


def test_an_open_link_sets_the_password_once():
    token = uuid4()
    account = accounts.fold([invited(token)])
    [event] = accounts.use_link(account, token_id=token, now=NOW)
    assert event == PortalPasswordSet(user_id=USER, token_id=token)
    after = accounts.fold([invited(token), event])
    with pytest.raises(OutOfOrder):
        accounts.use_link(after, token_id=token, now=NOW)


def test_an_expired_link_is_refused():
    token = uuid4()
    account = accounts.fold([invited(token)])
    with pytest.raises(CommandRefused) as refused:
        accounts.use_link(account, token_id=token, now=NOW + timedelta(days=8))
    assert refused.value.code == "expired_token"


def test_using_one_link_spends_the_others_and_a_reset_opens_a_new_one():
    first, second, reset = uuid4(), uuid4(), uuid4()
    history = [invited(first), invited(second)]
    history += accounts.use_link(accounts.fold(history), token_id=second, now=NOW)
    with pytest.raises(OutOfOrder):
        accounts.use_link(accounts.fold(history), token_id=first, now=NOW)
    history += accounts.request_reset(
        accounts.fold(history), token_id=reset, now=NOW, valid_for=timedelta(hours=2)
    )
    assert isinstance(history[-1], PasswordResetRequested)
    assert accounts.use_link(accounts.fold(history), token_id=reset, now=NOW + timedelta(hours=1))


def test_an_account_with_a_password_is_not_invited_again():
    token = uuid4()
    history = [invited(token), PortalPasswordSet(user_id=USER, token_id=token)]
    assert invite(accounts.fold(history)) == []


def test_setting_a_password_unlocks_the_account():
    token = uuid4()
    locked = PortalAccountLocked(user_id=USER, failed_attempts=5, locked_until=NOW + timedelta(minutes=15))
    account = accounts.fold([invited(token), locked, PortalPasswordSet(user_id=USER, token_id=token)])
    assert not accounts.is_locked(account, NOW)


def test_each_contact_address_is_invited_once():
    contacts = [
        Contact(name="A", email="a@acme.example", phone="0601020304"),
        Contact(name="A again", email="A@acme.example", phone="0601020304"),
        Contact(name="B", email="b@acme.example", phone="0601020304"),
    ]
    fresh = accounts.invitations_for_contacts({"b@acme.example"}, contacts)
    assert [c.name for c in fresh] == ["A"]
