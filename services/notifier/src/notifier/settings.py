"""The notifier's settings (env var = field name upper-cased), beyond the chassis's."""

from __future__ import annotations

from email.utils import parseaddr

from email_validator import EmailNotValidError, validate_email
from pydantic import Field, SecretStr, field_validator

from chassis.settings import ServiceSettings


class Settings(ServiceSettings):
    http_port: int = 8005
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=2525, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    #: Opening a connection: TCP connect and the server's greeting (SMTP_CONNECT_TIMEOUT_SECONDS). A
    #: server that accepts and says nothing is a failed attempt after this, not after minutes.
    smtp_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    #: Each command's answer: EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA (SMTP_TIMEOUT_SECONDS).
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    #: One email's whole conversation, connecting included: no sender waits longer on one email
    #: (SMTP_SEND_TIMEOUT_SECONDS).
    smtp_send_timeout_seconds: float = Field(default=30.0, gt=0)
    #: Attempts per round before EmailFailed (SMTP_MAX_ATTEMPTS).
    smtp_max_attempts: int = Field(default=5, ge=1, le=50)
    #: First retry delay; doubled after each failed attempt (SMTP_BACKOFF_SECONDS).
    smtp_backoff_seconds: float = Field(default=1.0, gt=0)
    #: How often the schedule looks for emails due (intended but unsent, or due for a retry)
    #: (EMAIL_RETRY_CHECK_SECONDS).
    email_retry_check_seconds: float = Field(default=1.0, gt=0)
    #: The platform's own sending address (MAIL_FROM): the SMTP envelope sender and the From
    #: address. The From display name says on whose behalf it writes (`vendor_name`).
    mail_from: str = "Plateforme intégrateurs <noreply@integrator-platform.example>"
    #: The vendor the platform writes for (VENDOR_NAME): "<vendor> via la plateforme intégrateurs".
    vendor_name: str = "Caisse Libre Éditions"
    #: The named contact of seed 000 (SALES_ADMIN_*): signs every email and receives the replies
    #: to onboarding emails (Reply-To); organises the validation call.
    sales_admin_name: str = "Claire Dubois"
    sales_admin_role: str = "Administratrice des ventes"
    sales_admin_phone: str = "+33 1 84 80 12 34"
    sales_admin_email: str = "adv@caisse-libre.example"
    #: The support line of seed 004 (SUPPORT_*): in every signature, and the Reply-To of ticket emails.
    support_phone: str = "+33 1 84 80 12 00"
    support_email: str = "support@caisse-libre.example"
    support_hours: str = "lundi–vendredi 9 h–12 h, 14 h–18 h"
    support_hours_en: str = "Monday–Friday 9:00–12:00, 14:00–18:00 (Paris time)"
    ops_email: str = "ops@integrator-platform.example"
    #: The longest a link the notifier signs may live (MAX_LINK_TTL_HOURS), whatever expiry the event
    #: carries: a forged event cannot get a long-lived set-password link signed. The default is the
    #: longest legitimate one (support's 14-day survey); raise it with SURVEY_TTL_DAYS.
    max_link_ttl_hours: int = Field(default=14 * 24, ge=1, le=365 * 24)

    @field_validator(
        "mail_from",
        "vendor_name",
        "sales_admin_name",
        "sales_admin_role",
        "sales_admin_phone",
        "sales_admin_email",
        "support_phone",
        "support_email",
        "ops_email",
        "smtp_host",
    )
    @classmethod
    def _one_line(cls, value: str) -> str:
        # These go into mail headers and the SMTP envelope: a line break would inject headers.
        if "\r" in value or "\n" in value:
            raise ValueError("must not contain a line break")
        return value

    @field_validator("mail_from", "sales_admin_email", "support_email", "ops_email")
    @classmethod
    def _an_address(cls, value: str) -> str:
        # Checked at start-up, by email-validator as every address of the platform, rather than by
        # the first email that carries it.
        try:
            validate_email(parseaddr(value)[1], check_deliverability=False)
        except EmailNotValidError as bad:
            raise ValueError(f"not an email address: {bad}") from None
        return value
