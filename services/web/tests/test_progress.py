"""The portal's "Where am I": status answers in, steps with state, deadline, lateness and who owes what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from web import i18n
from web.progress import DOSSIER_ITEMS, Owner, Pending, State, describe, steps

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def status(**changes: Any) -> dict[str, Any]:
    """An onboarding status row as GET /integrators/{id} answers it, just registered."""
    row: dict[str, Any] = {
        "integrator_id": "i-1",
        "legal_name": "Acme Télécom",
        "step": "registered",
        "configuration_sheet_sent": False,
        "profile_received": False,
        "profile_reference": None,
        "milestones": [],
        "due_at": {},
        "overdue_steps": [],
        "overdue": False,
        "live": False,
        "dossier": {item: {"status": "missing"} for item in DOSSIER_ITEMS},
        "missing_for_go_live": [
            "electrical_profile_created",
            "sims_validated",
            "sims_delivered",
            "ism_delivered",
            "dossier.logo",
            "dossier.footer_banner",
            "dossier.arcep_declaration",
            "dossier.invoice_sender_email",
        ],
    }
    row.update(changes)
    return row


def sims(**test_sims: Any) -> dict[str, Any]:
    """A SIM timeline row as GET /integrators/{id}/sims answers it, step 2 open."""
    return {
        "current_step": "test_sims",
        "steps": {
            "test_sims": {
                "due_at": (NOW + timedelta(days=3)).isoformat(),
                "overdue": False,
                "completed_at": None,
            },
            "production": {"due_at": None, "overdue": False, "completed_at": None},
        },
        "test_sims": {
            "shipments": 1,
            "iccids": ["89330123456700000018", "89330123456700000026"],
            "received": False,
            "call": None,
            "outcome": None,
            **test_sims,
        },
        "production": {"quantity": None, "started": False, "delivery": None, "reception_confirmed": False},
    }


def by_key(result: list[Any]) -> dict[str, Any]:
    return {s.key: s for s in result}


@pytest.fixture(autouse=True)
def english() -> Any:
    token = i18n.current_locale.set("en")
    yield
    i18n.current_locale.reset(token)


def test_a_new_integrator_waits_for_the_configuration_sheet_and_owes_its_dossier() -> None:
    result = steps(status(), None, None, NOW)
    assert [s.key for s in result] == [
        "dossier",
        "electrical_profile",
        "test_sims",
        "production",
        "ism",
        "go_live",
    ]
    got = by_key(result)
    assert got["electrical_profile"].state is State.CURRENT
    assert got["electrical_profile"].pending == (Pending(Owner.VENDOR, "send_configuration_sheet"),)
    assert [s.state for s in result[2:]] == [State.WAITING] * 4
    dossier = got["dossier"]
    assert dossier.state is State.CURRENT
    # Nine items to send: the configuration sheet belongs to step 1, not sendable before it.
    assert {p.params["item"] for p in dossier.pending} == set(DOSSIER_ITEMS) - {"electrical_profile_sheet"}
    assert all(p.owner is Owner.INTEGRATOR for p in dossier.pending)


def test_a_refused_item_asks_for_it_again_with_the_reason_and_a_submitted_one_waits_on_the_vendor() -> None:
    dossier = {item: {"status": "accepted"} for item in DOSSIER_ITEMS}
    dossier["logo"] = {"status": "rejected", "reason": "blurry"}
    dossier["offers_table"] = {"status": "submitted"}
    got = by_key(steps(status(dossier=dossier), None, None, NOW))
    assert got["dossier"].pending == (
        Pending(Owner.VENDOR, "review_item", {"item": "offers_table"}),
        Pending(Owner.INTEGRATOR, "send_item_again", {"item": "logo", "reason": "blurry"}),
    )
    assert describe(got["dossier"].pending[1]) == "To send again: Logo (refused: blurry)."


def test_step_one_turns_to_the_integrator_once_the_sheet_is_sent_then_back_to_the_vendor() -> None:
    sent = status(step="electrical_profile", configuration_sheet_sent=True)
    assert by_key(steps(sent, None, None, NOW))["electrical_profile"].pending == (
        Pending(Owner.INTEGRATOR, "send_item", {"item": "electrical_profile_sheet"}),
    )
    dossier = dict(sent["dossier"], electrical_profile_sheet={"status": "submitted"})
    received = status(
        step="electrical_profile", configuration_sheet_sent=True, profile_received=True, dossier=dossier
    )
    assert by_key(steps(received, None, None, NOW))["electrical_profile"].pending == (
        Pending(Owner.VENDOR, "create_electrical_profile"),
    )


def test_step_two_follows_the_test_sims_to_the_call_with_its_deadline() -> None:
    base = status(step="test_sims", configuration_sheet_sent=True, profile_reference="EP-1")
    cases = [
        ({"shipments": 0}, Pending(Owner.VENDOR, "ship_test_sims")),
        ({}, Pending(Owner.INTEGRATOR, "confirm_test_sims")),
        ({"received": True}, Pending(Owner.INTEGRATOR, "book_call")),
        ({"outcome": "rejected", "received": True, "call": {"starts_at": NOW.isoformat()}}, None),
    ]
    for changes, expected in cases:
        step = by_key(steps(base, sims(**changes), None, NOW))["test_sims"]
        assert step.state is State.CURRENT
        assert step.due_at == NOW + timedelta(days=3)
        assert not step.overdue
        if expected is not None:
            assert step.pending == (expected,)
    rejected = by_key(
        steps(base, sims(outcome="rejected", received=True, call={"starts_at": "x"}), None, NOW)
    )
    assert rejected["test_sims"].pending == (Pending(Owner.VENDOR, "ship_new_test_sims"),)
    assert by_key(steps(base, sims(), None, NOW))["electrical_profile"].state is State.DONE


def test_after_validation_the_order_needs_the_accepted_artwork() -> None:
    base = status(step="test_sims", profile_reference="EP-1")
    validated = sims(received=True, call={"starts_at": NOW.isoformat()}, outcome="validated")
    step = by_key(steps(base, validated, None, NOW))["test_sims"]
    assert step.pending == (
        Pending(Owner.INTEGRATOR, "send_item", {"item": "sim_artwork"}),
        Pending(Owner.INTEGRATOR, "order_production"),
    )
    dossier = dict(base["dossier"], sim_artwork={"status": "accepted"})
    step = by_key(
        steps(status(step="test_sims", profile_reference="EP-1", dossier=dossier), validated, None, NOW)
    )
    assert step["test_sims"].pending == (Pending(Owner.INTEGRATOR, "order_production"),)


def test_a_step_past_its_deadline_is_late_even_before_the_service_flags_it_and_not_once_done() -> None:
    base = status(step="test_sims", profile_reference="EP-1")
    timeline = sims()
    timeline["steps"]["test_sims"]["due_at"] = (NOW - timedelta(minutes=1)).isoformat()
    assert by_key(steps(base, timeline, None, NOW))["test_sims"].overdue
    flagged = status(step="test_sims", profile_reference="EP-1", overdue_steps=["test_sims"])
    assert by_key(steps(flagged, sims(), None, NOW))["test_sims"].overdue
    ordered = status(
        step="production",
        profile_reference="EP-1",
        overdue_steps=["test_sims"],
        milestones=["production_ordered"],
    )
    got = by_key(steps(ordered, timeline, None, NOW))
    assert got["test_sims"].state is State.DONE and not got["test_sims"].overdue
    assert got["production"].state is State.CURRENT
    assert got["production"].pending == (Pending(Owner.VENDOR, "start_production"),)


def test_step_three_ends_with_the_integrator_confirming_the_delivery() -> None:
    base = status(
        step="ism",
        profile_reference="EP-1",
        milestones=["production_ordered", "sims_validated", "sims_delivered"],
    )
    timeline = sims()
    timeline["current_step"] = "delivered"
    timeline["steps"]["production"] = {
        "due_at": (NOW - timedelta(days=1)).isoformat(),
        "overdue": False,
        "completed_at": NOW.isoformat(),
    }
    timeline["production"] = {
        "quantity": 500,
        "started": True,
        "delivery": {"quantity": 500},
        "delivery_note_sent": False,
    }
    got = by_key(steps(base, timeline, None, NOW))["production"]
    assert got.state is State.CURRENT and not got.overdue
    assert got.pending == (
        Pending(Owner.VENDOR, "send_delivery_note"),
        Pending(Owner.INTEGRATOR, "confirm_sims"),
    )
    timeline["production"] |= {"delivery_note_sent": True, "reception_confirmed": True}
    assert by_key(steps(base, timeline, None, NOW))["production"].state is State.DONE


def test_the_ism_says_which_tables_and_fixes_it_waits_for_then_the_password() -> None:
    base = status(step="test_sims", profile_reference="EP-1")
    ism = {
        "missing_tables": ["terminals_table"],
        "errors": [{"table": "offers_table", "row": 2, "column": "price", "reason": "x"}],
        "logo_reference": None,
        "sims_delivered": False,
        "delivery": None,
        "password_set": False,
        "ready_for_delivery": False,
    }
    got = by_key(steps(base, None, ism, NOW))["ism"]
    assert got.state is State.CURRENT
    assert [p.code for p in got.pending] == ["send_table", "fix_tables", "logo_for_ism", "ism_waits_for_sims"]
    assert describe(got.pending[1]) == "Fix the problems the ISM found in your tables (1)."
    ready = ism | {"missing_tables": [], "errors": [], "logo_reference": "ab", "sims_delivered": True}
    assert by_key(steps(base, None, ready | {"ready_for_delivery": True}, NOW))["ism"].pending == (
        Pending(Owner.VENDOR, "deliver_ism"),
    )
    delivered = by_key(steps(base, None, ready | {"delivery": {"account_id": "a"}}, NOW))["ism"]
    assert delivered.state is State.DONE
    assert delivered.pending == (Pending(Owner.INTEGRATOR, "set_ism_password"),)


def test_go_live_lists_the_gaps_onboarding_reports_and_is_done_when_live() -> None:
    base = status(
        step="ism",
        profile_reference="EP-1",
        milestones=["production_ordered", "sims_validated", "sims_delivered"],
        missing_for_go_live=["ism_delivered", "dossier.logo"],
    )
    got = by_key(steps(base, None, None, NOW))["go_live"]
    assert got.state is State.CURRENT
    assert [describe(p) for p in got.pending] == [
        "Waiting until the ISM is delivered.",
        "To be accepted: Logo.",
    ]
    assert got.pending[0].owner is Owner.VENDOR and got.pending[1].owner is Owner.INTEGRATOR
    live = by_key(steps(status(step="live", live=True, missing_for_go_live=[]), None, None, NOW))["go_live"]
    assert live.state is State.DONE and live.pending == ()


def test_every_pending_sentence_reads_in_french_too() -> None:
    token = i18n.current_locale.set("fr")
    try:
        text = describe(Pending(Owner.INTEGRATOR, "confirm_test_sims"))
    finally:
        i18n.current_locale.reset(token)
    assert text == "Confirmez la réception des SIM de test."
