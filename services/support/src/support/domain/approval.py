"""An integrator's approval (agrément), on its stream `approval-<integrator_id>`.

Seed 004: an integrator may distribute the certified product only once its initial training is
recorded and every employee who represents it has signed the NF525 commitment charter.

"Every employee" needs a list to check against, so the integrator's people are *declared*, each
with whether they represent the integrator. Approval holds when at least one representing employee
is declared and each representing employee has a training recorded and the charter signed; it is
recorded (`IntegratorApproved`) by the command that completes the conditions, so nobody has to
remember to approve. A revoked approval is not given back automatically (the conditions usually
still hold after a revocation for non-compliance): a technician reinstates it explicitly, and the
conditions are checked again then.

Approved means every condition holds *now* (seed 004): a representing employee declared after
approval who has not been trained and signed suspends it (`IntegratorApprovalSuspended`); the
approval comes back by itself with the training and signature that complete the conditions again.
A suspension is not a revocation: revocation is the vendor's decision, and only it needs reinstating.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

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


def stream_id(integrator_id: str) -> str:
    return f"approval-{integrator_id}"


class UpdateTerms(StrEnum):
    """What a mandatory (certification-driven) update costs the integrator's customers."""

    FREE = "free"  # with a conformity-maintenance contract
    BILLED_PER_LICENCE = "billed_per_licence"  # without one


@dataclass(frozen=True)
class Employee:
    represents_integrator: bool
    trained: bool = False
    charter_version: str | None = None


@dataclass(frozen=True)
class Approval:
    employees: Mapping[str, Employee] = field(default_factory=dict)
    approved: bool = False
    revoked: bool = False
    suspended: bool = False
    with_maintenance_contract: bool | None = None


def evolve(state: Approval, event: DomainEvent) -> Approval:
    match event:
        case EmployeeDeclared():
            current = state.employees.get(event.employee_name)
            employee = (
                replace(current, represents_integrator=event.represents_integrator)
                if current
                else Employee(represents_integrator=event.represents_integrator)
            )
            return replace(state, employees={**state.employees, event.employee_name: employee})
        case TrainingRecorded():
            employee = replace(state.employees[event.employee_name], trained=True)
            return replace(state, employees={**state.employees, event.employee_name: employee})
        case CharterSigned():
            employee = replace(state.employees[event.employee_name], charter_version=event.charter_version)
            return replace(state, employees={**state.employees, event.employee_name: employee})
        case IntegratorApproved():
            return replace(state, approved=True, revoked=False, suspended=False)
        case IntegratorApprovalSuspended():
            return replace(state, approved=False, suspended=True)
        case IntegratorApprovalRevoked():
            return replace(state, approved=False, revoked=True, suspended=False)
        case MaintenanceContractRecorded():
            return replace(state, with_maintenance_contract=event.with_contract)
    return state


def fold(events: Iterable[DomainEvent]) -> Approval:
    state = Approval()
    for event in events:
        state = evolve(state, event)
    return state


def conditions_unmet(state: Approval) -> list[str]:
    """What still stands between the integrator and its approval, as sentences (empty: approvable)."""
    representing = sorted(n for n, e in state.employees.items() if e.represents_integrator)
    if not representing:
        return ["no employee representing the integrator is declared"]
    gaps = []
    for name in representing:
        employee = state.employees[name]
        if not employee.trained:
            gaps.append(f"{name}: initial training not recorded")
        if employee.charter_version is None:
            gaps.append(f"{name}: NF525 charter not signed")
    return gaps


def update_terms(state: Approval) -> UpdateTerms:
    """Seed 004: with the maintenance contract mandatory updates are free; without (or none recorded
    yet), update rights are billed per licence."""
    return UpdateTerms.FREE if state.with_maintenance_contract else UpdateTerms.BILLED_PER_LICENCE


def _then_approve_if_due(state: Approval, events: list[DomainEvent], by: str) -> list[DomainEvent]:
    after = state
    for event in events:
        after = evolve(after, event)
    if not after.approved and not after.revoked and not conditions_unmet(after):
        return [*events, IntegratorApproved(approved_by=by)]
    return events


def _blank(text: str) -> bool:
    return not text.strip()


def _declared(state: Approval, name: str) -> Employee:
    employee = state.employees.get(name)
    if employee is None:
        raise NotFound(f"{name} is not a declared employee of this integrator", field="employee_name")
    return employee


# --- commands ----------------------------------------------------------------------------------


def declare_employee(
    state: Approval, *, employee_name: str, represents_integrator: bool, by: str
) -> list[DomainEvent]:
    if _blank(employee_name):
        raise CommandRefused("the employee's name is empty", field="employee_name")
    current = state.employees.get(employee_name)
    if current is not None and current.represents_integrator == represents_integrator:
        raise OutOfOrder(f"{employee_name} is already declared so", field="represents_integrator")
    event = EmployeeDeclared(
        employee_name=employee_name, represents_integrator=represents_integrator, declared_by=by
    )
    after = evolve(state, event)
    if state.approved and conditions_unmet(after):
        gaps = [gap for gap in conditions_unmet(after) if gap.startswith(f"{employee_name}:")]
        return [
            event,
            IntegratorApprovalSuspended(
                employee_name=employee_name, reason="; ".join(gaps) or "; ".join(conditions_unmet(after))
            ),
        ]
    return _then_approve_if_due(state, [event], by)


def record_training(
    state: Approval, *, employee_name: str, session_date: date, trainer: str, by: str, today: date
) -> list[DomainEvent]:
    _declared(state, employee_name)
    if session_date > today:
        raise CommandRefused("a training is recorded once it took place", field="session_date")
    if _blank(trainer):
        raise CommandRefused("the trainer is empty", field="trainer")
    event = TrainingRecorded(employee_name=employee_name, session_date=session_date, trainer=trainer)
    return _then_approve_if_due(state, [event], by)


def sign_charter(
    state: Approval, *, employee_name: str, signed_on: date, charter_version: str, by: str, today: date
) -> list[DomainEvent]:
    employee = _declared(state, employee_name)
    if not employee.trained:
        # Seed 004: the charter is signed "à l'issue des formations initiales enregistrées".
        raise OutOfOrder(
            f"{employee_name} signs the charter after the initial training", field="employee_name"
        )
    if signed_on > today:
        raise CommandRefused("the charter is recorded once signed", field="signed_on")
    if _blank(charter_version):
        raise CommandRefused("the charter version is empty", field="charter_version")
    if employee.charter_version == charter_version:
        raise OutOfOrder(f"{employee_name} already signed charter {charter_version}", field="charter_version")
    event = CharterSigned(employee_name=employee_name, signed_on=signed_on, charter_version=charter_version)
    return _then_approve_if_due(state, [event], by)


def revoke(state: Approval, *, reason: str, by: str) -> list[DomainEvent]:
    if not state.approved and not state.suspended:
        raise OutOfOrder("this integrator is not approved", field="integrator_id")
    if _blank(reason):
        raise CommandRefused("a revocation gives its reason", field="reason")
    return [IntegratorApprovalRevoked(reason=reason, revoked_by=by)]


def reinstate(state: Approval, *, by: str) -> list[DomainEvent]:
    """Approve again after a revocation, when the conditions hold."""
    if state.approved:
        raise OutOfOrder("this integrator is already approved", field="integrator_id")
    gaps = conditions_unmet(state)
    if gaps:
        raise CommandRefused(
            "not approvable yet: " + "; ".join(gaps), field="integrator_id", code="conditions_unmet"
        )
    return [IntegratorApproved(approved_by=by)]


def record_maintenance_contract(state: Approval, *, with_contract: bool, by: str) -> list[DomainEvent]:
    if state.with_maintenance_contract is with_contract:
        raise OutOfOrder("already recorded so", field="with_contract")
    return [MaintenanceContractRecorded(with_contract=with_contract, recorded_by=by)]


def warn_of_withdrawal(
    state: Approval, *, version: str, reason: str, warning_message: str
) -> list[DomainEvent]:
    """Seed 004: a withdrawn version is announced to every approved integrator; others are not told."""
    if not state.approved:
        return []
    return [IntegratorWarnedOfWithdrawal(version=version, reason=reason, warning_message=warning_message)]


def tell_of_release(
    state: Approval, *, version: str, release_notes: str, certified: bool
) -> list[DomainEvent]:
    """Seed 004: approved integrators hear of every new version (the others are not distributing it)."""
    if not state.approved:
        return []
    return [IntegratorToldOfRelease(version=version, release_notes=release_notes, certified=certified)]
