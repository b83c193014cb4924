"""The integrator's onboarding, pure: its registration, its dossier, step 1 and go-live (seed 000).

`decide` functions take the folded state of one integrator's stream (`integrator-<id>`) and a
command, and return the new events; `evolve` folds an event into the state. No I/O, no clock:
`today` is passed in where a rule needs it. Files are checked (Pillow, openpyxl...) before the
domain sees them, in `checks.py`; the domain keeps the checked facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from uuid import UUID

from contracts.errors import CommandRefused, FieldProblem, NotFound, OutOfOrder
from contracts.events import DomainEvent
from contracts.events.common import (
    TABLE_ITEMS,
    Contact,
    DossierItem,
    FileRef,
    Locale,
    OnboardingStep,
    TableSnapshot,
)
from contracts.events.onboarding import (
    ConfigurationSheetSent,
    DossierItemAccepted,
    DossierItemRejected,
    DossierItemSubmitted,
    DossierWentOverdue,
    ElectricalProfileCreated,
    IntegratorContactsUpdated,
    IntegratorRegistered,
    IntegratorWentLive,
    OnboardingMilestoneNoted,
    OnboardingStepWentOverdue,
    ProfileReceived,
)
from onboarding.identifiers import (
    CompanyIdentity,
    email_problem,
    footer_text_problems,
    phone_problem,
    siret_problem,
    vat_problem,
)


def stream_id(integrator_id: str) -> str:
    return f"integrator-{integrator_id}"


class ItemStatus(StrEnum):
    MISSING = "missing"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Milestone(StrEnum):
    """What onboarding learns from sim-logistics and ism-provisioning, in process order."""

    TEST_SIMS_STEP_OPENED = "test_sims_step_opened"
    SIMS_VALIDATED = "sims_validated"
    PRODUCTION_ORDERED = "production_ordered"
    SIMS_DELIVERED = "sims_delivered"
    ISM_DELIVERED = "ism_delivered"


#: DOMAIN.md: the integrator goes live only when these dossier items are accepted...
GO_LIVE_ITEMS: tuple[DossierItem, ...] = (
    DossierItem.LOGO,
    DossierItem.FOOTER_BANNER,
    DossierItem.ARCEP_DECLARATION,
    DossierItem.INVOICE_SENDER_EMAIL,
)
#: ...and these milestones of the other services are reached (plus the electrical profile created).
GO_LIVE_MILESTONES: tuple[Milestone, ...] = (
    Milestone.SIMS_VALIDATED,
    Milestone.SIMS_DELIVERED,
    Milestone.ISM_DELIVERED,
)

#: The items that come as a file; the others are declared values (ARCEP may come with its form).
FILE_ITEMS = frozenset(DossierItem) - {DossierItem.ARCEP_DECLARATION, DossierItem.INVOICE_SENDER_EMAIL}
#: The declared values each item takes (`details`), the required ones first.
DETAILS: Mapping[DossierItem, tuple[frozenset[str], frozenset[str]]] = MappingProxyType(
    {
        DossierItem.FOOTER_BANNER: (frozenset({"footer_text"}), frozenset()),
        DossierItem.ARCEP_DECLARATION: (frozenset({"sent_on"}), frozenset({"receipt_received_on"})),
        DossierItem.INVOICE_SENDER_EMAIL: (frozenset({"email"}), frozenset()),
    }
)


# --- state -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemState:
    status: ItemStatus = ItemStatus.MISSING
    file: FileRef | None = None
    details: Mapping[str, str] = field(default_factory=dict)
    table: TableSnapshot | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Integrator:
    """One integrator's onboarding as its stream tells it."""

    registered: bool = False
    identity: CompanyIdentity | None = None
    configuration_sheet_sent: bool = False
    profile_received: bool = False
    profile_reference: str | None = None
    dossier: Mapping[DossierItem, ItemState] = field(default_factory=dict)
    milestones: frozenset[Milestone] = frozenset()
    due_at: Mapping[str, datetime] = field(default_factory=dict)
    overdue_steps: frozenset[str] = frozenset()
    live: bool = False
    #: Who receives the emails and in which language (registration, then each update).
    contacts: tuple[Contact, ...] = ()
    locale: Locale = Locale.FR
    dossier_overdue: bool = False

    def item(self, item: DossierItem) -> ItemState:
        return self.dossier.get(item, ItemState())


def evolve(state: Integrator, event: DomainEvent) -> Integrator:
    match event:
        case IntegratorRegistered():
            identity = CompanyIdentity(
                legal_name=event.legal_name,
                address=event.address,
                siret=event.siret,
                vat_number=event.vat_number,
                customer_service_email=str(event.customer_service_email),
            )
            return replace(
                state, registered=True, identity=identity, contacts=tuple(event.contacts), locale=event.locale
            )
        case IntegratorContactsUpdated():
            return replace(state, contacts=tuple(event.contacts), locale=event.locale)
        case DossierWentOverdue():
            return replace(state, dossier_overdue=True)
        case ConfigurationSheetSent():
            return replace(state, configuration_sheet_sent=True)
        case DossierItemSubmitted():
            submitted = ItemState(ItemStatus.SUBMITTED, event.file, dict(event.details), event.table)
            return replace(state, dossier={**state.dossier, event.item: submitted})
        case DossierItemAccepted():
            accepted = replace(state.item(event.item), status=ItemStatus.ACCEPTED, reason=None)
            return replace(state, dossier={**state.dossier, event.item: accepted})
        case DossierItemRejected():
            rejected = replace(state.item(event.item), status=ItemStatus.REJECTED, reason=event.reason)
            return replace(state, dossier={**state.dossier, event.item: rejected})
        case ProfileReceived():
            return replace(state, profile_received=True)
        case ElectricalProfileCreated():
            return replace(state, profile_reference=event.profile_reference)
        case OnboardingMilestoneNoted():
            milestone = Milestone(event.milestone)
            due = dict(state.due_at)
            if event.due_at is not None:
                due[STEP_OF_DEADLINE[milestone]] = event.due_at
            return replace(state, milestones=state.milestones | {milestone}, due_at=due)
        case OnboardingStepWentOverdue():
            return replace(state, overdue_steps=state.overdue_steps | {event.step})
        case IntegratorWentLive():
            return replace(state, live=True)
    return state


def fold(events: Iterable[DomainEvent]) -> Integrator:
    state = Integrator()
    for event in events:
        state = evolve(state, event)
    return state


#: Which step's deadline a milestone sets (TestSimsStepOpened: 2 weeks, ProductionOrdered: 4 weeks).
STEP_OF_DEADLINE = {
    Milestone.TEST_SIMS_STEP_OPENED: OnboardingStep.TEST_SIMS.value,
    Milestone.PRODUCTION_ORDERED: OnboardingStep.PRODUCTION.value,
}


def current_step(
    *, live: bool, milestones: Iterable[str], profile_created: bool, configuration_started: bool
) -> OnboardingStep:
    """Where the integrator is: the furthest step reached (events of two topics may arrive in any
    order, so the step follows what has happened, not the order it was heard of)."""
    reached = set(milestones)
    if live:
        return OnboardingStep.LIVE
    if Milestone.SIMS_DELIVERED in reached or Milestone.ISM_DELIVERED in reached:
        return OnboardingStep.ISM
    if Milestone.PRODUCTION_ORDERED in reached:
        return OnboardingStep.PRODUCTION
    if profile_created:
        return OnboardingStep.TEST_SIMS
    if configuration_started:
        return OnboardingStep.ELECTRICAL_PROFILE
    return OnboardingStep.REGISTERED


def step_of(state: Integrator) -> OnboardingStep:
    return current_step(
        live=state.live,
        milestones=state.milestones,
        profile_created=state.profile_reference is not None,
        configuration_started=state.configuration_sheet_sent or state.profile_received,
    )


def go_live_gaps(
    *, profile_created: bool, milestones: Iterable[str], accepted_items: Iterable[DossierItem]
) -> list[str]:
    """The go-live conditions not met yet, in process order (`electrical_profile_created`,
    milestones, then `dossier.<item>` for each item still to be accepted)."""
    reached, accepted = set(milestones), set(accepted_items)
    missing: list[str] = [] if profile_created else ["electrical_profile_created"]
    missing += [m.value for m in GO_LIVE_MILESTONES if m not in reached]
    missing += [f"dossier.{i.value}" for i in GO_LIVE_ITEMS if i not in accepted]
    return missing


def missing_for_go_live(state: Integrator) -> list[str]:
    return go_live_gaps(
        profile_created=state.profile_reference is not None,
        milestones=state.milestones,
        accepted_items=[i for i, s in state.dossier.items() if s.status is ItemStatus.ACCEPTED],
    )


def _registered(state: Integrator) -> Integrator:
    if not state.registered:
        raise NotFound("no such integrator")
    return state


def _and_go_live_if_ready(state: Integrator, events: list[DomainEvent]) -> list[DomainEvent]:
    """GO intégrateur, exactly once: the first decision after which every condition holds adds it."""
    if state.live:
        return events
    after = fold_onto(state, events)
    if not missing_for_go_live(after):
        return [*events, IntegratorWentLive()]
    return events


def fold_onto(state: Integrator, events: Iterable[DomainEvent]) -> Integrator:
    for event in events:
        state = evolve(state, event)
    return state


# --- registration ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    legal_name: str
    address: str
    siret: str
    vat_number: str
    contacts: list[Contact]
    customer_service_phone: str
    customer_service_cost_per_minute: Decimal
    customer_service_email: str
    locale: Locale = Locale.FR


def register(
    state: Integrator, command: Registration, *, registered_by: str, siret_holder: str | None
) -> list[DomainEvent]:
    """Register an integrator. `siret_holder` is the integrator already registered with this SIRET,
    if any: the stream cannot see the others, so the caller looks it up (under a lock) and says."""
    if state.registered:
        raise OutOfOrder("this integrator is already registered")
    siret = command.siret.replace(" ", "")
    vat_number = command.vat_number.replace(" ", "").upper()
    # Every wrong value at once, so the form is fixed in one go; a duplicate SIRET is one more
    # problem among them, never a mask over a bad VAT number.
    problems: list[FieldProblem] = []

    def check(field: str, problem: str | None, code: str | None = None) -> None:
        if problem:
            problems.append(FieldProblem(field, problem, code))

    check("siret", siret_problem(siret))
    check("vat_number", vat_problem(vat_number, siret[:9]))
    check("customer_service_phone", phone_problem(command.customer_service_phone))
    if command.customer_service_cost_per_minute < 0:
        check("customer_service_cost_per_minute", "a per-minute cost cannot be negative")
    check("customer_service_email", email_problem(command.customer_service_email))
    if not command.contacts:
        check("contacts", "at least one contact receives the platform's emails")
    if not command.legal_name.strip():
        check("legal_name", "the legal name is required")
    if not command.address.strip():
        check("address", "the address is required")
    if siret_holder is not None:
        check("siret", "an integrator with this SIRET is already registered", "duplicate_siret")
    if problems:
        raise CommandRefused.of(problems)
    return [
        IntegratorRegistered(
            legal_name=command.legal_name.strip(),
            address=" ".join(command.address.split()),
            siret=siret,
            vat_number=vat_number,
            contacts=command.contacts,
            locale=command.locale,
            customer_service_phone=command.customer_service_phone.strip(),
            customer_service_cost_per_minute=command.customer_service_cost_per_minute,
            customer_service_email=command.customer_service_email.strip(),
            registered_by=registered_by,
        )
    ]


# --- step 1: the electrical profile -------------------------------------------------------------------


def send_configuration_sheet(state: Integrator, *, sent_by: str) -> list[DomainEvent]:
    """Step 1 begins: the blank configuration sheet goes to the integrator (again, if it lost it)."""
    _registered(state)
    if state.profile_reference is not None:
        raise OutOfOrder("the electrical profile is already created")
    return [ConfigurationSheetSent(sent_by=sent_by)]


def create_electrical_profile(
    state: Integrator, *, profile_reference: str, created_by: str
) -> list[DomainEvent]:
    """Ops create the profile from the sheet received. Creating it from a sheet still under review
    accepts that sheet: ops have read it to build the profile."""
    _registered(state)
    if state.profile_reference is not None:
        raise OutOfOrder(f"the electrical profile is already created ({state.profile_reference})")
    reference = profile_reference.strip()
    if not reference:
        raise CommandRefused("the profile reference is required", field="profile_reference")
    sheet = state.item(DossierItem.ELECTRICAL_PROFILE_SHEET)
    events: list[DomainEvent] = []
    if sheet.status is ItemStatus.SUBMITTED:
        events.append(_acceptance(DossierItem.ELECTRICAL_PROFILE_SHEET, sheet, created_by))
    elif sheet.status is not ItemStatus.ACCEPTED:
        raise OutOfOrder("the filled configuration sheet has not been received", field="profile_reference")
    events.append(ElectricalProfileCreated(profile_reference=reference, created_by=created_by))
    return _and_go_live_if_ready(state, events)


# --- the dossier -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """A dossier item as submitted, its file already checked and stored (see checks.py)."""

    item: DossierItem
    submitted_by: str
    file: FileRef | None = None
    details: Mapping[str, str] = field(default_factory=dict)
    table: TableSnapshot | None = None


def submit_item(state: Integrator, submission: Submission, *, today: date) -> list[DomainEvent]:
    _registered(state)
    item = submission.item
    current = state.item(item)
    # Tables may be replaced after acceptance (the ISM keeps versions); the other accepted items are
    # on SIMs, invoices or an ARCEP file already: a change is a new conversation, not a resubmission.
    if current.status is ItemStatus.ACCEPTED and item not in TABLE_ITEMS:
        raise OutOfOrder(f"{item.value} is already accepted", field="item")
    if item is DossierItem.ELECTRICAL_PROFILE_SHEET:
        if not state.configuration_sheet_sent:
            raise OutOfOrder("the configuration sheet has not been sent to the integrator yet", field="item")
        if state.profile_reference is not None:
            raise OutOfOrder("the electrical profile is already created", field="item")
    if item in FILE_ITEMS and submission.file is None:
        raise CommandRefused(f"{item.value} is submitted as a file", field="file")
    if item is DossierItem.INVOICE_SENDER_EMAIL and submission.file is not None:
        raise CommandRefused("the invoice sender email is an address, not a file", field="file")
    if item in TABLE_ITEMS and submission.table is None:
        raise CommandRefused(f"{item.value} must be a table that parses", field="file")
    details = _checked_details(state, item, submission.details, today)
    events: list[DomainEvent] = [
        DossierItemSubmitted(
            item=item,
            file=submission.file,
            details=details,
            submitted_by=submission.submitted_by,
            table=submission.table if item in TABLE_ITEMS else None,
        )
    ]
    if item is DossierItem.ELECTRICAL_PROFILE_SHEET:
        assert submission.file is not None
        events.append(ProfileReceived(file=submission.file))
    return events


def _checked_details(
    state: Integrator, item: DossierItem, given: Mapping[str, str], today: date
) -> dict[str, str]:
    required, optional = DETAILS.get(item, (frozenset(), frozenset()))
    details = {k: v.strip() for k, v in given.items() if v.strip()}
    if unknown := sorted(set(details) - required - optional):
        raise CommandRefused(f"{item.value} takes no {', '.join(unknown)}", field=unknown[0])
    if missing := sorted(required - set(details)):
        raise CommandRefused(f"{item.value} needs {', '.join(missing)}", field=missing[0])
    if item is DossierItem.FOOTER_BANNER:
        assert state.identity is not None
        if problems := footer_text_problems(details["footer_text"], state.identity):
            raise CommandRefused("; ".join(problems), field="footer_text")
    elif item is DossierItem.INVOICE_SENDER_EMAIL:
        if problem := email_problem(details["email"]):
            raise CommandRefused(problem, field="email")
    elif item is DossierItem.ARCEP_DECLARATION:
        sent_on = _date(details, "sent_on")
        if sent_on > today:
            raise CommandRefused("the ARCEP declaration cannot be sent in the future", field="sent_on")
        if "receipt_received_on" in details:
            received = _date(details, "receipt_received_on")
            if received < sent_on or received > today:
                raise CommandRefused(
                    "the receipt comes after sending and not in the future", field="receipt_received_on"
                )
    return details


def _date(details: Mapping[str, str], key: str) -> date:
    try:
        return date.fromisoformat(details[key])
    except ValueError:
        raise CommandRefused(f"{key} is a date (YYYY-MM-DD)", field=key) from None


def _acceptance(item: DossierItem, current: ItemState, accepted_by: str) -> DossierItemAccepted:
    return DossierItemAccepted(
        item=item,
        file=current.file,
        details=dict(current.details),
        table=current.table,
        accepted_by=accepted_by,
    )


def accept_item(state: Integrator, item: DossierItem, *, accepted_by: str) -> list[DomainEvent]:
    _registered(state)
    current = state.item(item)
    if current.status is not ItemStatus.SUBMITTED:
        raise OutOfOrder(
            f"{item.value} is {current.status.value}: only a submitted item is accepted", field="item"
        )
    return _and_go_live_if_ready(state, [_acceptance(item, current, accepted_by)])


def reject_item(state: Integrator, item: DossierItem, *, reason: str, rejected_by: str) -> list[DomainEvent]:
    _registered(state)
    current = state.item(item)
    if current.status is not ItemStatus.SUBMITTED:
        raise OutOfOrder(
            f"{item.value} is {current.status.value}: only a submitted item is rejected", field="item"
        )
    if not reason.strip():
        raise CommandRefused("a rejection says why, so the integrator can fix it", field="reason")
    return [DossierItemRejected(item=item, reason=reason.strip(), rejected_by=rejected_by)]


# --- what the other services tell us -----------------------------------------------------------------


def note_milestone(
    state: Integrator, milestone: Milestone, *, source_event_id: UUID, due_at: datetime | None = None
) -> list[DomainEvent]:
    """Record another service's milestone as our own fact; a repeat (same milestone, same deadline)
    adds nothing, so a redelivery under another event id cannot make the history stutter."""
    _registered(state)
    step = STEP_OF_DEADLINE.get(milestone)
    if milestone in state.milestones and (step is None or state.due_at.get(step) == due_at):
        return []
    noted = OnboardingMilestoneNoted(
        milestone=milestone.value, source_event_id=source_event_id, due_at=due_at
    )
    return _and_go_live_if_ready(state, [noted])


def note_step_overdue(
    state: Integrator, step: str, *, source_event_id: UUID, due_at: datetime | None = None
) -> list[DomainEvent]:
    _registered(state)
    if step in state.overdue_steps:
        return []
    return [OnboardingStepWentOverdue(step=step, source_event_id=source_event_id, due_at=due_at)]


def is_overdue(step: OnboardingStep | str, overdue_steps: Iterable[str]) -> bool:
    """Overdue while the step that missed its deadline is still the current one."""
    return str(step) in set(overdue_steps)


# --- contacts, and the dossier's own deadline --------------------------------------------------------


def update_contacts(
    state: Integrator, *, contacts: list[Contact], locale: Locale, updated_by: str
) -> list[DomainEvent]:
    """Replace the integrator's contacts and language (ops or the integrator): the emails after it
    go to the new addresses. Every problem at once, each naming its field."""
    _registered(state)
    problems = []
    if not contacts:
        problems.append(FieldProblem("contacts", "at least one contact receives the emails"))
    for index, contact in enumerate(contacts):
        if problem := email_problem(str(contact.email)):
            problems.append(FieldProblem(f"contacts.{index}.email", problem))
        if problem := phone_problem(contact.phone):
            problems.append(FieldProblem(f"contacts.{index}.phone", problem))
    if problems:
        raise CommandRefused.of(problems)
    if tuple(contacts) == state.contacts and locale == state.locale:
        raise OutOfOrder("these are already the integrator's contacts and language", field="contacts")
    return [IntegratorContactsUpdated(contacts=contacts, locale=locale, updated_by=updated_by)]


def awaiting_integrator(state: Integrator) -> list[DossierItem]:
    """Dossier items the integrator still has to send: missing, or rejected and not sent again
    (a submitted item waits on ops, not on the integrator)."""
    waiting = (ItemStatus.MISSING, ItemStatus.REJECTED)
    return [item for item in DossierItem if state.item(item).status in waiting]


def check_dossier_deadline(
    state: Integrator, *, registered_at: datetime, now: datetime, delay: timedelta
) -> list[DomainEvent]:
    """What the periodic check records: the dossier overdue once, when items still wait on the
    integrator `delay` after its registration."""
    if not state.registered or state.dossier_overdue or state.live:
        return []
    due_at = registered_at + delay
    missing = awaiting_integrator(state)
    if now < due_at or not missing:
        return []
    return [DossierWentOverdue(due_at=due_at, detected_at=now, missing_items=missing)]
