"""Approval as a specification: given the integrator's approval stream, when a command, then events."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.errors import CommandRefused, NotFound, OutOfOrder
from contracts.events import DomainEvent
from contracts.events.support import (
    CharterSigned,
    EmployeeDeclared,
    IntegratorApprovalRevoked,
    IntegratorApprovalSuspended,
    IntegratorApproved,
    IntegratorToldOfRelease,
    IntegratorWarnedOfWithdrawal,
    MaintenanceContractRecorded,
    TrainingRecorded,
)
from support.domain import approval
from support.domain.approval import UpdateTerms

TODAY = date(2026, 3, 2)


def declared(name: str, represents: bool = True) -> EmployeeDeclared:
    return EmployeeDeclared(employee_name=name, represents_integrator=represents, declared_by="tech")


def trained(name: str) -> TrainingRecorded:
    return TrainingRecorded(employee_name=name, session_date=date(2026, 2, 20), trainer="Grégory")


def signed(name: str, version: str = "DOC-QLT-18122014") -> CharterSigned:
    return CharterSigned(employee_name=name, signed_on=date(2026, 2, 21), charter_version=version)


APPROVED = IntegratorApproved(approved_by="tech")


def given(*events: DomainEvent) -> approval.Approval:
    return approval.fold(events)


def sign(state: approval.Approval, name: str, version: str = "DOC-QLT-18122014") -> list[DomainEvent]:
    return approval.sign_charter(
        state, employee_name=name, signed_on=TODAY, charter_version=version, by="tech", today=TODAY
    )


def test_the_last_representing_employee_signing_approves_the_integrator() -> None:
    state = given(declared("Anne"), declared("Bob"), trained("Anne"), signed("Anne"), trained("Bob"))
    events = sign(state, "Bob")
    assert [type(e) for e in events] == [CharterSigned, IntegratorApproved]


def test_one_representing_employee_missing_keeps_the_integrator_unapproved() -> None:
    state = given(declared("Anne"), declared("Bob"), trained("Anne"))
    assert sign(state, "Anne") == [signed("Anne", "DOC-QLT-18122014").model_copy(update={"signed_on": TODAY})]
    assert approval.conditions_unmet(approval.fold([declared("Anne"), declared("Bob"), trained("Anne")])) == [
        "Anne: NF525 charter not signed",
        "Bob: initial training not recorded",
        "Bob: NF525 charter not signed",
    ]


def test_employees_who_do_not_represent_the_integrator_do_not_block_it() -> None:
    state = given(declared("Anne"), declared("Carl", represents=False), trained("Anne"))
    assert [type(e) for e in sign(state, "Anne")] == [CharterSigned, IntegratorApproved]


def test_no_representing_employee_means_no_approval() -> None:
    assert approval.conditions_unmet(given(declared("Carl", represents=False))) == [
        "no employee representing the integrator is declared"
    ]


def test_an_employee_who_stops_representing_no_longer_blocks_approval() -> None:
    state = given(declared("Anne"), declared("Bob"), trained("Anne"), signed("Anne"))
    events = approval.declare_employee(state, employee_name="Bob", represents_integrator=False, by="tech")
    assert [type(e) for e in events] == [EmployeeDeclared, IntegratorApproved]


def test_the_charter_is_signed_after_the_initial_training() -> None:
    with pytest.raises(OutOfOrder):
        sign(given(declared("Anne")), "Anne")


def test_an_undeclared_employee_is_not_found() -> None:
    with pytest.raises(NotFound) as refused:
        approval.record_training(
            given(), employee_name="Zoé", session_date=TODAY, trainer="G", by="tech", today=TODAY
        )
    assert refused.value.field == "employee_name"


def test_a_training_in_the_future_is_refused() -> None:
    with pytest.raises(CommandRefused):
        approval.record_training(
            given(declared("Anne")),
            employee_name="Anne",
            session_date=date(2026, 4, 1),
            trainer="G",
            by="tech",
            today=TODAY,
        )


def test_declaring_the_same_role_twice_is_out_of_order() -> None:
    with pytest.raises(OutOfOrder):
        approval.declare_employee(
            given(declared("Anne")), employee_name="Anne", represents_integrator=True, by="t"
        )


def test_revocation_needs_a_reason_and_an_approval() -> None:
    approved = given(declared("Anne"), trained("Anne"), signed("Anne"), APPROVED)
    assert approval.revoke(approved, reason="charter breached", by="tech") == [
        IntegratorApprovalRevoked(reason="charter breached", revoked_by="tech")
    ]
    with pytest.raises(CommandRefused):
        approval.revoke(approved, reason="  ", by="tech")
    with pytest.raises(OutOfOrder):
        approval.revoke(given(declared("Anne")), reason="x", by="tech")


def test_a_revoked_integrator_is_not_approved_again_by_itself_but_can_be_reinstated() -> None:
    revoked = given(
        declared("Anne"),
        trained("Anne"),
        signed("Anne"),
        APPROVED,
        IntegratorApprovalRevoked(reason="r", revoked_by="t"),
    )
    assert not revoked.approved
    assert sign(revoked, "Anne", "v2") == [
        CharterSigned(employee_name="Anne", signed_on=TODAY, charter_version="v2")
    ]
    assert approval.reinstate(revoked, by="tech") == [IntegratorApproved(approved_by="tech")]


def test_reinstating_needs_the_conditions() -> None:
    with pytest.raises(CommandRefused) as refused:
        approval.reinstate(given(declared("Anne")), by="tech")
    assert refused.value.code == "conditions_unmet"


def test_mandatory_updates_are_free_only_with_a_maintenance_contract() -> None:
    assert approval.update_terms(given()) is UpdateTerms.BILLED_PER_LICENCE
    with_contract = given(MaintenanceContractRecorded(with_contract=True, recorded_by="t"))
    assert approval.update_terms(with_contract) is UpdateTerms.FREE
    without = approval.fold(
        [
            *[MaintenanceContractRecorded(with_contract=True, recorded_by="t")],
            MaintenanceContractRecorded(with_contract=False, recorded_by="t"),
        ]
    )
    assert approval.update_terms(without) is UpdateTerms.BILLED_PER_LICENCE
    with pytest.raises(OutOfOrder):
        approval.record_maintenance_contract(with_contract, with_contract=True, by="t")


def test_only_approved_integrators_are_warned_of_a_withdrawal() -> None:
    approved = given(declared("Anne"), trained("Anne"), signed("Anne"), APPROVED)
    assert approval.warn_of_withdrawal(approved, version="3.1", reason="r", warning_message="w") == [
        IntegratorWarnedOfWithdrawal(version="3.1", reason="r", warning_message="w")
    ]
    assert (
        approval.warn_of_withdrawal(given(declared("Anne")), version="3.1", reason="r", warning_message="w")
        == []
    )


def test_a_representing_employee_declared_unsigned_suspends_the_approval_until_trained_and_signed() -> None:
    approved = given(declared("Anne"), trained("Anne"), signed("Anne"), APPROVED)
    events = approval.declare_employee(approved, employee_name="Eve", represents_integrator=True, by="tech")
    assert events == [
        declared("Eve"),
        IntegratorApprovalSuspended(
            employee_name="Eve", reason="Eve: initial training not recorded; Eve: NF525 charter not signed"
        ),
    ]
    suspended = approval.fold([declared("Anne"), trained("Anne"), signed("Anne"), APPROVED, *events])
    assert not suspended.approved and suspended.suspended and not suspended.revoked
    # Approved integrators only hear of releases: a suspended one is not told.
    assert approval.tell_of_release(suspended, version="3.3", release_notes="n", certified=True) == []
    # Training alone is not enough; the signature completes the conditions and approves again.
    after_training = approval.record_training(
        suspended, employee_name="Eve", session_date=TODAY, trainer="G", by="tech", today=TODAY
    )
    assert [type(e) for e in after_training] == [TrainingRecorded]
    trained_eve = approval.fold(
        [*[declared("Anne"), trained("Anne"), signed("Anne"), APPROVED], *events, trained("Eve")]
    )
    assert [type(e) for e in sign(trained_eve, "Eve")] == [CharterSigned, IntegratorApproved]


def test_an_employee_who_does_not_represent_the_integrator_suspends_nothing() -> None:
    approved = given(declared("Anne"), trained("Anne"), signed("Anne"), APPROVED)
    assert approval.declare_employee(
        approved, employee_name="Paul", represents_integrator=False, by="tech"
    ) == [declared("Paul", represents=False)]
    # Anne no longer representing it: nobody does, so the integrator is not approvable now either.
    nobody = approval.declare_employee(approved, employee_name="Anne", represents_integrator=False, by="t")
    assert [type(e) for e in nobody] == [EmployeeDeclared, IntegratorApprovalSuspended]


def test_only_approved_integrators_are_told_of_a_new_release() -> None:
    approved = given(declared("Anne"), trained("Anne"), signed("Anne"), APPROVED)
    assert approval.tell_of_release(approved, version="3.3", release_notes="n", certified=True) == [
        IntegratorToldOfRelease(version="3.3", release_notes="n", certified=True)
    ]
    assert (
        approval.tell_of_release(given(declared("Anne")), version="3.3", release_notes="n", certified=True)
        == []
    )
