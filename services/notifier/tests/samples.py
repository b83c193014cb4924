"""One example of every event the notifier mails about, as it would arrive (in an envelope)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

from contracts.envelope import Envelope
from contracts.events import DomainEvent
from contracts.events.common import Contact, DossierItem, FileRef, Locale
from contracts.events.ism_provisioning import (
    IsmConfigurationRejected,
    ISMDelivered,
    IsmDeliveryWentOverdue,
    TableError,
)
from contracts.events.onboarding import (
    ConfigurationSheetSent,
    DossierItemAccepted,
    DossierItemRejected,
    DossierItemSubmitted,
    DossierWentOverdue,
    ElectricalProfileCreated,
    IntegratorRegistered,
    IntegratorWentLive,
    ProfileReceived,
)
from contracts.events.sim_logistics import (
    DeliveryNoteSent,
    ProductionOrdered,
    ProductionStarted,
    SimsDelivered,
    SimsRejected,
    SimsValidated,
    StepWentOverdue,
    TestSimsShipped,
    ValidationCallBooked,
)
from contracts.events.support import (
    Channel,
    IntegratorApprovalRevoked,
    IntegratorApprovalSuspended,
    IntegratorApproved,
    IntegratorToldOfRelease,
    IntegratorWarnedOfWithdrawal,
    Requester,
    TicketClosed,
    TicketMessagePosted,
    TicketOpened,
    TicketReopened,
    TicketResolved,
    TicketStillWaitingOnTracker,
    TicketTaken,
    TrackerDeclarationMade,
    TrackerDeclarationSettled,
)
from contracts.events.web import PasswordResetRequested, PortalRole, PortalUserInvited

ACME = "0199a000-0000-7000-8000-0000000000ac"
NOW = datetime(2026, 1, 12, 9, 30, tzinfo=UTC)
TICKET = UUID("0199a000-0000-7000-8000-0000000000aa")


def registered(locale: Locale = Locale.FR, contacts: list[Contact] | None = None) -> IntegratorRegistered:
    return IntegratorRegistered(
        legal_name="Acme Télécom <SAS>",
        address="1 rue de la Paix, 75002 Paris",
        siret="73282932000074",
        vat_number="FR44732829320",
        contacts=contacts
        or [
            Contact(name="Alice Martin", email="alice@acme.example", phone="+33102030405"),
            Contact(name="Bob & Co", email="bob@acme.example", phone="+33102030406"),
        ],
        locale=locale,
        customer_service_phone="3900",
        customer_service_cost_per_minute=Decimal("0.35"),
        customer_service_email="service@acme.example",
        registered_by="ops-user",
    )


def opened() -> TicketOpened:
    return TicketOpened(
        ticket_id=TICKET,
        channel=Channel.EMAIL,
        requester=Requester(name="Chloé Requester", email="chloe@acme.example"),
        subject="Caisse bloquée <après mise à jour>",
        description="La caisse ne démarre plus.",
        opened_by="tech-1",
        ticket_number="T-2026-000123",
    )


def mapped_events() -> dict[str, DomainEvent]:
    """One event of each type in the mapping."""
    return {
        "IntegratorRegistered": registered(),
        "DossierItemRejected": DossierItemRejected(
            item=DossierItem.LOGO,
            reason="Le logo fait 100 × 100 px, 95 × 95 attendus.",
            rejected_by="ops-user",
        ),
        "ConfigurationSheetSent": ConfigurationSheetSent(sent_by="ops-user"),
        "ProfileReceived": ProfileReceived(
            file=FileRef(
                sha256="a" * 64, size=1200, filename="profil.xlsx", media_type="application/vnd.ms-excel"
            )
        ),
        "ElectricalProfileCreated": ElectricalProfileCreated(
            profile_reference="EP-ACME-01", created_by="ops-user"
        ),
        "IntegratorWentLive": IntegratorWentLive(),
        "TestSimsShipped": TestSimsShipped(
            iccids=["8933150000000000001", "8933150000000000002"],
            carrier="Colissimo",
            tracking_number="6A12345678901",
            profile_reference="EP-ACME-01",
            shipped_by="ops-user",
        ),
        "ValidationCallBooked": ValidationCallBooked(
            starts_at=NOW + timedelta(days=2, hours=1),
            duration_minutes=30,
            phone="+33102030405",
            booked_by="ops-user",
        ),
        "SimsValidated": SimsValidated(validated_by="ops-user"),
        "SimsRejected": SimsRejected(reason="Pas de réseau data sur la carte 2.", rejected_by="ops-user"),
        "ProductionOrdered": ProductionOrdered(
            quantity=5000,
            delivery_address="2 avenue du Port, 13002 Marseille",
            artwork_reference="d" * 64,
            artwork_filename="carte-acme.pdf",
            due_at=NOW + timedelta(weeks=4),
            ordered_by="alice",
        ),
        "SimsDelivered": SimsDelivered(
            quantity=5000,
            iccid_first="8933150000000001000",
            iccid_last="8933150000000005999",
            delivery_note_number="BL-2026-0042",
            delivered_by="ops-user",
        ),
        "DeliveryNoteSent": DeliveryNoteSent(
            delivery_note_number="BL-2026-0042", tariff_grid_reference="GRILLE-2026-01", sent_by="ops-user"
        ),
        "StepWentOverdue": StepWentOverdue(
            step="test_sims", due_at=NOW - timedelta(hours=1), detected_at=NOW
        ),
        "ISMDelivered": ISMDelivered(
            platform_url="https://ism.example.invalid/acme",
            account_id="acme-admin",
            logo_reference="b" * 64,
            configuration_version=1,
            set_password_token_id=uuid4(),
            set_password_expires_at=NOW + timedelta(hours=72),
            delivered_by="ops-user",
        ),
        "TicketOpened": opened(),
        "TicketTaken": TicketTaken(ticket_id=TICKET, technician="Tom Technicien"),
        "TrackerDeclarationMade": TrackerDeclarationMade(ticket_id=TICKET, tracker_reference="TRK-881"),
        "TicketStillWaitingOnTracker": TicketStillWaitingOnTracker(
            ticket_id=TICKET, tracker_reference="TRK-881"
        ),
        "TicketResolved": TicketResolved(
            ticket_id=TICKET,
            resolution_procedure="Mise à jour 3.2.1 appliquée,\npuis redémarrage.",
            resolved_by="tech",
        ),
        "TicketClosed": TicketClosed(
            ticket_id=TICKET,
            survey_token_id=uuid4(),
            survey_expires_at=NOW + timedelta(days=14),
            closed_by="tech",
        ),
        "IntegratorWarnedOfWithdrawal": IntegratorWarnedOfWithdrawal(
            version="3.2.0",
            reason="Anomalie majeure sur la clôture",
            warning_message="Ne plus installer la 3.2.0.",
        ),
        "DossierItemSubmitted": DossierItemSubmitted(
            item=DossierItem.OFFERS_TABLE,
            file=FileRef(sha256="c" * 64, size=900, filename="offres <2026>.csv", media_type="text/csv"),
            submitted_by="alice@acme.example",
        ),
        "DossierItemAccepted": DossierItemAccepted(item=DossierItem.LOGO, accepted_by="ops-user"),
        "DossierWentOverdue": DossierWentOverdue(
            due_at=NOW - timedelta(hours=1),
            detected_at=NOW,
            missing_items=[DossierItem.LOGO, DossierItem.ARCEP_DECLARATION],
        ),
        "ProductionStarted": ProductionStarted(started_by="ops-user"),
        "IsmConfigurationRejected": IsmConfigurationRejected(
            errors=[
                TableError(
                    table=DossierItem.OFFERS_TABLE, row=3, column="zones", reason="zone « Z9 » inconnue"
                ),
                TableError(table=DossierItem.TERMINALS_TABLE, reason="la table est vide"),
            ]
        ),
        "IsmDeliveryWentOverdue": IsmDeliveryWentOverdue(due_at=NOW - timedelta(days=1), detected_at=NOW),
        "TicketMessagePosted": TicketMessagePosted(
            ticket_id=TICKET,
            author="Chloé Requester",
            body="Toujours bloquée, voir https://evil.example/login",
            internal=False,
            by_integrator=True,
        ),
        "TicketReopened": TicketReopened(
            ticket_id=TICKET, reason="Le problème revient.", reopened_by="chloe"
        ),
        "TrackerDeclarationSettled": TrackerDeclarationSettled(
            ticket_id=TICKET, tracker_reference="TRK-881", outcome="Corrigé en 3.2.1.", settled_by="tech"
        ),
        "IntegratorToldOfRelease": IntegratorToldOfRelease(
            version="3.2.1", release_notes="Correction de la clôture.", certified=True
        ),
        "IntegratorApproved": IntegratorApproved(approved_by="tech"),
        "IntegratorApprovalSuspended": IntegratorApprovalSuspended(
            employee_name="Eve Nouvelle", reason="représentante déclarée, formation et charte à faire"
        ),
        "IntegratorApprovalRevoked": IntegratorApprovalRevoked(
            reason="Non-conformité NF525", revoked_by="tech"
        ),
        "PortalUserInvited": PortalUserInvited(
            user_id=uuid4(),
            email="new.person@acme.example",
            name="Nora Nouvelle",
            role=PortalRole.INTEGRATOR,
            integrator_id=ACME,
            locale=Locale.EN,
            invitation_token_id=uuid4(),
            invitation_expires_at=NOW + timedelta(days=7),
            invited_by="onboarding",
        ),
        "PasswordResetRequested": PasswordResetRequested(
            user_id=uuid4(),
            email="new.person@acme.example",
            name="Nora Nouvelle",
            locale=Locale.EN,
            reset_token_id=uuid4(),
            reset_expires_at=NOW + timedelta(hours=2),
        ),
    }


def envelope(event: DomainEvent, integrator_id: str = ACME, at: datetime = NOW) -> Envelope:
    return Envelope(
        event_id=uuid4(),
        event_type=event.event_type,
        schema_version=event.schema_version,
        occurred_at=at,
        producer=event.producer,
        stream_id=f"s-{integrator_id}",
        stream_version=1,
        integrator_id=integrator_id,
        correlation_id=uuid4(),
        payload=event.model_dump(mode="json"),
    )
