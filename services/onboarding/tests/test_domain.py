"""The onboarding domain as a specification: given these events, when this command, then those events."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from contracts.errors import CommandRefused, NotFound, OutOfOrder
from contracts.events import DomainEvent
from contracts.events.common import Contact, DossierItem, FileRef, OnboardingStep, TableSnapshot
from contracts.events.onboarding import (
    ConfigurationSheetSent,
    DossierItemAccepted,
    DossierItemRejected,
    DossierItemSubmitted,
    ElectricalProfileCreated,
    IntegratorRegistered,
    IntegratorWentLive,
    OnboardingMilestoneNoted,
    OnboardingStepWentOverdue,
    ProfileReceived,
)
from onboarding import domain
from onboarding.domain import Milestone, Registration, Submission
from onboarding.identifiers import CompanyIdentity, footer_text_problems

TODAY = date(2026, 3, 2)
SIRET = "73282932000074"
VAT = "FR44732829320"
FOOTER = (
    "Télécom Exemple SAS - 12 rue de la Paix, 75002 Paris - SIRET 732 829 320 00074 - TVA FR44 732 829 320 - "
    "Service client 01 70 61 81 81 (0,15 €/min) - support@telecom-exemple.fr"
)


def file(name: str = "f.png", media: str = "image/png", fill: str = "a") -> FileRef:
    return FileRef(sha256=fill * 64, size=100, filename=name, media_type=media)


def registration(**changes: object) -> Registration:
    values: dict[str, object] = {
        "legal_name": "Télécom Exemple SAS",
        "address": "12 rue de la Paix, 75002 Paris",
        "siret": SIRET,
        "vat_number": VAT,
        "contacts": [Contact(name="Jeanne Martin", email="jeanne@telecom-exemple.fr", phone="0601020304")],
        "customer_service_phone": "01 70 61 81 81",
        "customer_service_cost_per_minute": Decimal("0.15"),
        "customer_service_email": "support@telecom-exemple.fr",
    }
    values.update(changes)
    return Registration(**values)  # type: ignore[arg-type]


def registered() -> list[DomainEvent]:
    return domain.register(domain.Integrator(), registration(), registered_by="ops-1", siret_holder=None)


def given(*events: DomainEvent | list[DomainEvent]) -> domain.Integrator:
    flat: list[DomainEvent] = []
    for e in events:
        flat += e if isinstance(e, list) else [e]
    return domain.fold(flat)


TABLE = TableSnapshot(columns=["brand", "model", "price_eur"], rows=[["Fairphone", "Fairphone 5", "699.00"]])


def submitted(item: DossierItem, **kwargs: object) -> DossierItemSubmitted:
    return DossierItemSubmitted(item=item, submitted_by="integrator-user", **kwargs)  # type: ignore[arg-type]


def accepted(item: DossierItem) -> DossierItemAccepted:
    return DossierItemAccepted(item=item, accepted_by="ops-1")


def milestone(m: Milestone) -> OnboardingMilestoneNoted:
    return OnboardingMilestoneNoted(milestone=m.value, source_event_id=uuid4())


# --- registration ---


def test_registering_records_the_company_with_normalised_identifiers() -> None:
    events = domain.register(
        domain.Integrator(),
        registration(siret="732 829 320 00074", vat_number="fr44 732829320"),
        registered_by="ops-1",
        siret_holder=None,
    )
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, IntegratorRegistered)
    assert (event.siret, event.vat_number, event.locale.value) == (SIRET, VAT, "fr")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"siret": "7328293200007"}, "siret"),  # 13 digits
        ({"siret": "73282932000075"}, "siret"),  # Luhn fails
        ({"vat_number": "FR45732829320"}, "vat_number"),  # key does not match the SIREN
        ({"vat_number": "FR44552100554"}, "vat_number"),  # another company's SIREN
        ({"customer_service_phone": "12345"}, "customer_service_phone"),
        ({"customer_service_email": "not-an-email"}, "customer_service_email"),
        ({"customer_service_cost_per_minute": Decimal("-0.01")}, "customer_service_cost_per_minute"),
        ({"contacts": []}, "contacts"),
        ({"legal_name": "  "}, "legal_name"),
    ],
)
def test_registration_with_a_bad_value_is_refused(changes: dict[str, object], field: str) -> None:
    with pytest.raises(CommandRefused) as refused:
        domain.register(domain.Integrator(), registration(**changes), registered_by="ops", siret_holder=None)
    assert refused.value.field == field


def test_a_siret_already_registered_is_refused() -> None:
    with pytest.raises(CommandRefused) as refused:
        domain.register(
            domain.Integrator(), registration(), registered_by="ops", siret_holder="other-integrator"
        )
    assert (refused.value.field, refused.value.code) == ("siret", "duplicate_siret")


def test_an_integrator_is_registered_once() -> None:
    with pytest.raises(OutOfOrder):
        domain.register(given(registered()), registration(), registered_by="ops", siret_holder=None)


def test_commands_on_an_unknown_integrator_are_not_found() -> None:
    with pytest.raises(NotFound):
        domain.send_configuration_sheet(domain.Integrator(), sent_by="ops")
    with pytest.raises(NotFound):
        domain.note_milestone(domain.Integrator(), Milestone.SIMS_VALIDATED, source_event_id=uuid4())


# --- step 1 ---


def test_the_filled_sheet_received_is_profile_received() -> None:
    state = given(registered(), ConfigurationSheetSent(sent_by="ops"))
    sheet = file("profil.xlsx", "application/vnd.ms-excel")
    events = domain.submit_item(
        state, Submission(DossierItem.ELECTRICAL_PROFILE_SHEET, "integrator-user", file=sheet), today=TODAY
    )
    assert [type(e) for e in events] == [DossierItemSubmitted, ProfileReceived]
    assert events[1] == ProfileReceived(file=sheet)


def test_the_sheet_cannot_come_back_before_it_was_sent() -> None:
    with pytest.raises(OutOfOrder):
        domain.submit_item(
            given(registered()),
            Submission(DossierItem.ELECTRICAL_PROFILE_SHEET, "u", file=file("p.xlsx")),
            today=TODAY,
        )


def test_creating_the_profile_from_the_sheet_under_review_accepts_the_sheet() -> None:
    state = given(
        registered(),
        ConfigurationSheetSent(sent_by="ops"),
        submitted(DossierItem.ELECTRICAL_PROFILE_SHEET, file=file("p.xlsx")),
        ProfileReceived(file=file("p.xlsx")),
    )
    events = domain.create_electrical_profile(state, profile_reference="EP-042", created_by="ops-1")
    assert [type(e) for e in events] == [DossierItemAccepted, ElectricalProfileCreated]
    assert events[1] == ElectricalProfileCreated(profile_reference="EP-042", created_by="ops-1")
    assert domain.step_of(domain.fold_onto(state, events)) is OnboardingStep.TEST_SIMS


def test_no_profile_without_a_received_sheet_and_only_one_profile() -> None:
    state = given(registered(), ConfigurationSheetSent(sent_by="ops"))
    with pytest.raises(OutOfOrder):
        domain.create_electrical_profile(state, profile_reference="EP-1", created_by="ops")
    done = given(
        registered(),
        ConfigurationSheetSent(sent_by="ops"),
        submitted(DossierItem.ELECTRICAL_PROFILE_SHEET, file=file()),
        ElectricalProfileCreated(profile_reference="EP-1", created_by="ops"),
    )
    with pytest.raises(OutOfOrder):
        domain.create_electrical_profile(done, profile_reference="EP-2", created_by="ops")
    with pytest.raises(OutOfOrder):
        domain.send_configuration_sheet(done, sent_by="ops")


def test_a_profile_reference_is_required() -> None:
    state = given(
        registered(),
        ConfigurationSheetSent(sent_by="ops"),
        submitted(DossierItem.ELECTRICAL_PROFILE_SHEET, file=file()),
    )
    with pytest.raises(CommandRefused):
        domain.create_electrical_profile(state, profile_reference=" ", created_by="ops")


# --- the dossier ---


def test_a_logo_is_submitted_then_accepted() -> None:
    logo = file("logo.png")
    state = given(registered())
    events = domain.submit_item(state, Submission(DossierItem.LOGO, "u", file=logo), today=TODAY)
    assert events == [DossierItemSubmitted(item=DossierItem.LOGO, file=logo, submitted_by="u")]
    state = domain.fold_onto(state, events)
    assert domain.accept_item(state, DossierItem.LOGO, accepted_by="ops") == [
        DossierItemAccepted(item=DossierItem.LOGO, file=logo, accepted_by="ops")
    ]


def test_a_rejected_item_says_why_and_can_be_submitted_again() -> None:
    state = given(registered(), submitted(DossierItem.LOGO, file=file()))
    with pytest.raises(CommandRefused):
        domain.reject_item(state, DossierItem.LOGO, reason=" ", rejected_by="ops")
    events = domain.reject_item(state, DossierItem.LOGO, reason="logo pixelated", rejected_by="ops")
    assert events == [DossierItemRejected(item=DossierItem.LOGO, reason="logo pixelated", rejected_by="ops")]
    state = domain.fold_onto(state, events)
    assert state.item(DossierItem.LOGO).status is domain.ItemStatus.REJECTED
    again = domain.submit_item(state, Submission(DossierItem.LOGO, "u", file=file(fill="b")), today=TODAY)
    assert domain.fold_onto(state, again).item(DossierItem.LOGO).status is domain.ItemStatus.SUBMITTED


def test_only_a_submitted_item_is_accepted_or_rejected() -> None:
    state = given(registered())
    with pytest.raises(OutOfOrder):
        domain.accept_item(state, DossierItem.LOGO, accepted_by="ops")
    with pytest.raises(OutOfOrder):
        domain.reject_item(state, DossierItem.LOGO, reason="no", rejected_by="ops")
    done = given(registered(), submitted(DossierItem.LOGO, file=file()), accepted(DossierItem.LOGO))
    with pytest.raises(OutOfOrder):
        domain.accept_item(done, DossierItem.LOGO, accepted_by="ops")


def test_an_accepted_logo_is_not_replaced_but_an_accepted_table_is() -> None:
    state = given(
        registered(),
        submitted(DossierItem.LOGO, file=file()),
        accepted(DossierItem.LOGO),
        submitted(DossierItem.TERMINALS_TABLE, file=file("t.csv"), table=TABLE),
        accepted(DossierItem.TERMINALS_TABLE),
    )
    with pytest.raises(OutOfOrder):
        domain.submit_item(state, Submission(DossierItem.LOGO, "u", file=file(fill="b")), today=TODAY)
    events = domain.submit_item(
        state,
        Submission(DossierItem.TERMINALS_TABLE, "u", file=file("t2.csv", fill="c"), table=TABLE),
        today=TODAY,
    )
    assert isinstance(events[0], DossierItemSubmitted)


def test_an_accepted_table_carries_the_rows_checked_on_submission() -> None:
    state = given(registered(), submitted(DossierItem.TERMINALS_TABLE, file=file("t.csv"), table=TABLE))
    [event] = domain.accept_item(state, DossierItem.TERMINALS_TABLE, accepted_by="ops")
    assert isinstance(event, DossierItemAccepted)
    assert event.table == TABLE


def test_a_table_that_did_not_parse_or_a_missing_file_is_refused() -> None:
    state = given(registered())
    with pytest.raises(CommandRefused):
        domain.submit_item(state, Submission(DossierItem.OFFERS_TABLE, "u", file=file("o.csv")), today=TODAY)
    with pytest.raises(CommandRefused) as refused:
        domain.submit_item(state, Submission(DossierItem.LOGO, "u"), today=TODAY)
    assert refused.value.field == "file"


def test_the_footer_banner_comes_with_its_six_elements() -> None:
    state = given(registered())
    events = domain.submit_item(
        state,
        Submission(DossierItem.FOOTER_BANNER, "u", file=file("banner.png"), details={"footer_text": FOOTER}),
        today=TODAY,
    )
    assert isinstance(events[0], DossierItemSubmitted)
    assert events[0].details == {"footer_text": FOOTER}


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        (FOOTER.replace("SIRET 732 829 320 00074 - ", ""), "SIRET"),
        (FOOTER.replace(" (0,15 €/min)", ""), "per-minute cost"),
        (FOOTER.replace("Télécom Exemple SAS - ", ""), "company name"),
        (FOOTER.replace("support@telecom-exemple.fr", ""), "email"),
        (FOOTER.replace("TVA FR44 732 829 320 - ", ""), "VAT"),
        (FOOTER.replace("12 rue de la Paix, 75002 Paris - ", ""), "address"),
        (FOOTER.replace("01 70 61 81 81 ", ""), "phone"),
        (FOOTER.replace("00074", "00075"), "SIRET"),
    ],
)
def test_a_footer_text_lacking_an_element_is_refused(text: str, missing: str) -> None:
    with pytest.raises(CommandRefused) as refused:
        domain.submit_item(
            given(registered()),
            Submission(
                DossierItem.FOOTER_BANNER, "u", file=file("banner.png"), details={"footer_text": text}
            ),
            today=TODAY,
        )
    assert refused.value.field == "footer_text"
    assert missing in refused.value.detail


def test_a_footer_banner_without_text_is_refused() -> None:
    with pytest.raises(CommandRefused) as refused:
        domain.submit_item(
            given(registered()), Submission(DossierItem.FOOTER_BANNER, "u", file=file()), today=TODAY
        )
    assert refused.value.field == "footer_text"


def test_the_arcep_declaration_is_dated_and_not_in_the_future() -> None:
    state = given(registered())
    ok = domain.submit_item(
        state,
        Submission(
            DossierItem.ARCEP_DECLARATION,
            "u",
            details={"sent_on": "2026-02-20", "receipt_received_on": "2026-02-27"},
        ),
        today=TODAY,
    )
    assert isinstance(ok[0], DossierItemSubmitted)
    for details, field in [
        ({}, "sent_on"),
        ({"sent_on": "20/02/2026"}, "sent_on"),
        ({"sent_on": "2026-03-03"}, "sent_on"),
        ({"sent_on": "2026-02-20", "receipt_received_on": "2026-02-19"}, "receipt_received_on"),
        ({"sent_on": "2026-02-20", "colour": "blue"}, "colour"),
    ]:
        with pytest.raises(CommandRefused) as refused:
            domain.submit_item(
                state, Submission(DossierItem.ARCEP_DECLARATION, "u", details=details), today=TODAY
            )
        assert refused.value.field == field


def test_the_invoice_sender_email_is_an_address() -> None:
    state = given(registered())
    ok = domain.submit_item(
        state,
        Submission(DossierItem.INVOICE_SENDER_EMAIL, "u", details={"email": "facturation@exemple.fr"}),
        today=TODAY,
    )
    assert ok == [
        DossierItemSubmitted(
            item=DossierItem.INVOICE_SENDER_EMAIL,
            details={"email": "facturation@exemple.fr"},
            submitted_by="u",
        )
    ]
    with pytest.raises(CommandRefused):
        domain.submit_item(
            state,
            Submission(DossierItem.INVOICE_SENDER_EMAIL, "u", details={"email": "facturation"}),
            today=TODAY,
        )
    with pytest.raises(CommandRefused):
        domain.submit_item(
            state,
            Submission(DossierItem.INVOICE_SENDER_EMAIL, "u", file=file(), details={"email": "a@b.fr"}),
            today=TODAY,
        )


# --- milestones, overdue and go-live ---


def almost_live() -> list[DomainEvent]:
    """Everything but the ISM delivery."""
    events: list[DomainEvent] = [
        *registered(),
        ConfigurationSheetSent(sent_by="ops"),
        submitted(DossierItem.ELECTRICAL_PROFILE_SHEET, file=file()),
        accepted(DossierItem.ELECTRICAL_PROFILE_SHEET),
        ElectricalProfileCreated(profile_reference="EP-1", created_by="ops"),
        milestone(Milestone.SIMS_VALIDATED),
        milestone(Milestone.SIMS_DELIVERED),
    ]
    for item in domain.GO_LIVE_ITEMS:
        events += [submitted(item), accepted(item)]
    return events


def test_the_integrator_goes_live_when_the_last_condition_holds() -> None:
    state = given(almost_live())
    assert domain.missing_for_go_live(state) == ["ism_delivered"]
    source = uuid4()
    events = domain.note_milestone(state, Milestone.ISM_DELIVERED, source_event_id=source)
    assert events == [
        OnboardingMilestoneNoted(milestone="ism_delivered", source_event_id=source),
        IntegratorWentLive(),
    ]
    assert domain.step_of(domain.fold_onto(state, events)) is OnboardingStep.LIVE


def test_going_live_waits_for_the_dossier() -> None:
    events = [
        e for e in almost_live() if not (isinstance(e, DossierItemAccepted) and e.item is DossierItem.LOGO)
    ]
    state = given(events)
    noted = domain.note_milestone(state, Milestone.ISM_DELIVERED, source_event_id=uuid4())
    assert [type(e) for e in noted] == [OnboardingMilestoneNoted]
    state = domain.fold_onto(state, noted)
    assert domain.missing_for_go_live(state) == ["dossier.logo"]
    assert domain.accept_item(state, DossierItem.LOGO, accepted_by="ops")[-1] == IntegratorWentLive()


def test_the_integrator_goes_live_exactly_once() -> None:
    state = given(almost_live(), milestone(Milestone.ISM_DELIVERED), IntegratorWentLive())
    assert domain.note_milestone(state, Milestone.ISM_DELIVERED, source_event_id=uuid4()) == []
    [event] = domain.submit_item(
        state, Submission(DossierItem.TERMINALS_TABLE, "u", file=file(), table=TABLE), today=TODAY
    )
    state = domain.fold_onto(state, [event])
    assert domain.accept_item(state, DossierItem.TERMINALS_TABLE, accepted_by="ops") == [
        DossierItemAccepted(item=DossierItem.TERMINALS_TABLE, file=file(), table=TABLE, accepted_by="ops")
    ]


def test_a_milestone_is_noted_once_but_a_new_deadline_is_noted() -> None:
    due = datetime(2026, 3, 16, 9, tzinfo=UTC)
    state = given(
        registered(),
        OnboardingMilestoneNoted(milestone="test_sims_step_opened", source_event_id=uuid4(), due_at=due),
    )
    assert state.due_at == {"test_sims": due}
    assert (
        domain.note_milestone(state, Milestone.TEST_SIMS_STEP_OPENED, source_event_id=uuid4(), due_at=due)
        == []
    )
    later = datetime(2026, 3, 20, 9, tzinfo=UTC)
    [event] = domain.note_milestone(
        state, Milestone.TEST_SIMS_STEP_OPENED, source_event_id=uuid4(), due_at=later
    )
    assert domain.fold_onto(state, [event]).due_at == {"test_sims": later}


def test_a_step_overdue_is_mirrored_once() -> None:
    state = given(registered())
    source = uuid4()
    events = domain.note_step_overdue(state, "test_sims", source_event_id=source)
    assert events == [OnboardingStepWentOverdue(step="test_sims", source_event_id=source)]
    assert (
        domain.note_step_overdue(domain.fold_onto(state, events), "test_sims", source_event_id=uuid4()) == []
    )


def test_the_step_follows_the_process_whatever_order_the_news_arrive_in() -> None:
    state = given(registered())
    assert domain.step_of(state) is OnboardingStep.REGISTERED
    state = domain.fold_onto(state, [ConfigurationSheetSent(sent_by="ops")])
    assert domain.step_of(state) is OnboardingStep.ELECTRICAL_PROFILE
    state = domain.fold_onto(state, [ElectricalProfileCreated(profile_reference="EP", created_by="ops")])
    assert domain.step_of(state) is OnboardingStep.TEST_SIMS
    state = domain.fold_onto(state, [milestone(Milestone.PRODUCTION_ORDERED)])
    assert domain.step_of(state) is OnboardingStep.PRODUCTION
    # The ISM delivery may be heard of before the SIM delivery (two topics): the step is still "ism".
    state = domain.fold_onto(state, [milestone(Milestone.ISM_DELIVERED)])
    assert domain.step_of(state) is OnboardingStep.ISM
    assert domain.is_overdue(OnboardingStep.PRODUCTION, {"production"})
    assert not domain.is_overdue(OnboardingStep.ISM, {"production"})


# --- regressions: La Poste's head office, one email rule, every problem at once ---


def test_la_poste_head_office_siret_is_accepted() -> None:
    # La Poste's head office keeps Luhn while its other establishments use a digit sum.
    events = domain.register(
        domain.Integrator(),
        registration(siret="35600000000048", vat_number="FR39356000000"),
        registered_by="ops",
        siret_holder=None,
    )
    assert events[0].siret == "35600000000048"  # type: ignore[attr-defined]


def test_an_email_the_events_refuse_is_refused_naming_the_field() -> None:
    # `a..b@example.com` passed a hand-written pattern but not email-validator (the events' EmailStr).
    with pytest.raises(CommandRefused) as refused:
        domain.register(
            domain.Integrator(),
            registration(customer_service_email="a..b@example.com"),
            registered_by="ops",
            siret_holder=None,
        )
    assert refused.value.field == "customer_service_email"


def test_la_poste_style_addresses_are_accepted() -> None:
    # Hyphens, dots, an apostrophe, a tag, accents: email-validator takes them as the events do.
    for address in (
        "jean-marie.dupont@laposte.net",
        "anne-sophie.d'arc@laposte.fr",
        "service.client+pro@laposte.fr",
        "élodie.lefèvre@laposte.net",
    ):
        [event, *_] = domain.register(
            domain.Integrator(),
            registration(customer_service_email=address),
            registered_by="ops",
            siret_holder=None,
        )
        assert event.customer_service_email == address  # type: ignore[attr-defined]


def test_the_footer_shows_a_la_poste_style_customer_service_address() -> None:
    for address in ("anne-sophie.d'arc@laposte.fr", "élodie.lefèvre@laposte.net", "sav+pro@laposte.fr"):
        identity = CompanyIdentity(
            legal_name="Télécom Exemple SAS",
            address="12 rue de la Paix, 75002 Paris",
            siret="73282932000074",
            vat_number="FR44732829320",
            customer_service_email=address,
        )
        for shown in (f"- {address}", f"- <{address}>", f"(mailto:{address}).", f"- {address.upper()}"):
            footer = FOOTER.replace("- support@telecom-exemple.fr", shown)
            assert footer_text_problems(footer, identity) == [], (address, shown)
        wrong = FOOTER.replace("support@telecom-exemple.fr", "arc@laposte.fr")
        assert footer_text_problems(wrong, identity) == [f"the customer-service email shown is not {address}"]
    missing = FOOTER.replace("support@telecom-exemple.fr", "a..b@laposte.fr")
    assert any("email is missing" in p for p in footer_text_problems(missing, identity))


def test_a_bad_vat_number_is_not_hidden_behind_a_duplicate_siret_and_every_problem_is_listed() -> None:
    with pytest.raises(CommandRefused) as refused:
        domain.register(
            domain.Integrator(),
            registration(vat_number="FR45732829320", customer_service_phone="12345"),
            registered_by="ops",
            siret_holder="other-integrator",
        )
    problems = {(p.field, p.code) for p in refused.value.problems}
    assert problems == {
        ("vat_number", None),
        ("customer_service_phone", None),
        ("siret", "duplicate_siret"),
    }
