"""The notifier's settings (env var = field name upper-cased), beyond the chassis's."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from chassis.settings import ServiceSettings


class Settings(ServiceSettings):
    http_port: int = 8005
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=2525, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    #: One SMTP conversation may not hang a sender longer than this (SMTP_TIMEOUT_SECONDS).
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Attempts per round before EmailFailed (SMTP_MAX_ATTEMPTS).
    smtp_max_attempts: int = Field(default=5, ge=1, le=50)
    #: First retry delay; doubled after each failed attempt (SMTP_BACKOFF_SECONDS).
    smtp_backoff_seconds: float = Field(default=1.0, gt=0)
    #: How often the schedule looks for emails due (intended but unsent, or due for a retry)
    #: (EMAIL_RETRY_CHECK_SECONDS).
    email_retry_check_seconds: float = Field(default=1.0, gt=0)
    mail_from: str = "Plateforme intégrateurs <noreply@integrator-platform.example>"
    mail_reply_to: str = "support@integrator-platform.example"
    ops_email: str = "ops@integrator-platform.example"

    @field_validator("mail_from", "mail_reply_to", "ops_email", "smtp_host")
    @classmethod
    def _one_line(cls, value: str) -> str:
        # These go into mail headers and the SMTP envelope: a line break would inject headers.
        if "\r" in value or "\n" in value:
            raise ValueError("must not contain a line break")
        return value
