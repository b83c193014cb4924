"""Settings from environment variables (pydantic-settings). Env var = field name upper-cased."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts import topics

#: The secrets a developer's `make run` and the tests use. Public (they are in the code): a service
#: outside DEV_MODE refuses to start on them.
DEV_AUTH_SECRET = "dev-only-auth-secret-change-me-in-production!"  # noqa: S105 (public on purpose)
DEV_LINK_SIGNING_SECRET = "dev-only-link-secret-change-me-in-production!"  # noqa: S105
#: HS256 keys shorter than the hash (32 bytes) are guessable offline from one token (RFC 7518 §3.2).
MIN_SECRET_BYTES = 32
#: What a built-in event signing key starts with (chassis.signing): refused outside DEV_MODE wherever it
#: appears, whichever service it is for.
_DEV_EVENT_KEY_PREFIX = "dev-only-event-signing-key-of-"


def dev_event_signing_key(service: str) -> str:
    """A service's built-in event signing key: deterministic, so every process of `make run` and of
    the tests agrees on it without configuration, and public, so refused outside DEV_MODE."""
    return f"{_DEV_EVENT_KEY_PREFIX}{service}-change-me-in-production!"


def dev_event_signing_key_id(service: str) -> str:
    return f"{service}-dev"


class WeakSecret(ValueError):
    """A secret a service must not run on outside DEV_MODE; the message names the variable."""


class ServiceSettings(BaseSettings):
    """What every service reads. Defaults are the embedded dev stack of `make run`."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    database_url: str = "postgresql://postgres@127.0.0.1:54329/postgres"
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    #: PLAINTEXT for the embedded dev broker; SASL_SSL (SCRAM credentials over TLS) on Kubernetes, where
    #: each service is a Strimzi KafkaUser whose ACLs let it write only its own topic (deploy/k8s).
    #: chassis.kafka.client_options turns these five into the clients' arguments.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    #: The CA that signed the brokers' certificates (Strimzi's cluster CA, `ca.crt`); unset: the system's.
    kafka_ssl_cafile: Path | None = None
    #: Idempotent producer: on for real Kafka; the embedded Tansu broker does not support it.
    kafka_idempotence: bool = False
    #: Tansu does not wake a fetch on new data: the wait bounds delivery latency (ARCHITECTURE.md).
    kafka_fetch_max_wait_ms: int = Field(default=20, ge=1, le=5000)
    #: The wait once nothing has come for KAFKA_IDLE_AFTER_MS: an idle platform stops polling the broker
    #: 50 times a second per consumer (`make run` at rest, bench/idle.py: 50 % of a core before, 4 % after). The first
    #: message after a lull waits at most this; the next fetch is short again; messages a few seconds
    #: apart keep the short wait (chassis.kafka.AdaptiveFetchWait). Equal to the short wait: no adapting.
    kafka_idle_fetch_max_wait_ms: int = Field(default=1000, ge=1, le=5000)
    kafka_idle_after_ms: int = Field(default=5000, ge=0)
    #: An event held for its integrator's registration (chassis.known_integrators) is dead-lettered
    #: after this long (HELD_EVENTS_MAX_SECONDS): topics are not ordered with one another, but a
    #: registration that has not come in an hour is forged or lost — ops see it and may replay it.
    held_events_max_seconds: float = Field(default=3600.0, gt=0)
    #: How often held events are checked (released when another replica believed the registration,
    #: dead-lettered when too old).
    held_events_check_seconds: float = Field(default=5.0, gt=0)
    #: Namespaces topics and consumer groups (tests run isolated platforms on one broker).
    kafka_topic_prefix: str = ""
    kafka_topic_partitions: int = Field(default=6, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    #: Create missing topics at start (dev). In production topics are KafkaTopic resources.
    kafka_create_topics: bool = True
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    #: A connection must send its request headers within this (HTTP_HEADER_TIMEOUT_SECONDS), from
    #: connecting or from its previous response: idle and slow-header sockets are closed.
    http_header_timeout_seconds: float = Field(default=10.0, gt=0)
    #: The longest pause in a request body (HTTP_BODY_IDLE_TIMEOUT_SECONDS).
    http_body_idle_timeout_seconds: float = Field(default=30.0, gt=0)
    #: An idle keep-alive connection is closed after this (HTTP_KEEP_ALIVE_SECONDS).
    http_keep_alive_seconds: float = Field(default=5.0, ge=1)
    #: Connections or requests at once past which the service answers 503 (HTTP_MAX_CONNECTIONS).
    http_max_connections: int = Field(default=1000, ge=1)
    #: Connections at once from one client address (HTTP_MAX_CONNECTIONS_PER_CLIENT; an IPv6 client
    #: is its /64): past it, that client's new connections get a 503 and are closed, so one client
    #: holding sockets cannot use up HTTP_MAX_CONNECTIONS for everyone. Trusted proxies are exempt
    #: (their own per-client limit applies: the ingress's `limit-connections`).
    http_max_connections_per_client: int = Field(default=100, ge=1)
    #: The proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed (TRUSTED_PROXIES):
    #: comma-separated addresses or CIDR ranges. Empty (the default, and `make run`): no proxy, the
    #: peer of the connection is the client, and a forwarded header changes nothing.
    trusted_proxies: str = ""
    auth_secret: SecretStr = SecretStr(DEV_AUTH_SECRET)
    link_signing_secret: SecretStr = SecretStr(DEV_LINK_SIGNING_SECRET)
    #: The service's current event signing key and its id (EVENT_SIGNING_KEY_ID, EVENT_SIGNING_KEY):
    #: HMAC-SHA256 of every event its relay publishes (chassis.signing). Unset: the built-in key of
    #: the service, DEV_MODE only.
    event_signing_key_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._:-]{1,64}$")
    event_signing_key: SecretStr | None = None
    #: The keys of the producers whose topics the service reads, per service and key id, as JSON
    #: (EVENT_VERIFICATION_KEYS='{"onboarding": {"onboarding-2026-12": "…"}}'); two ids of one service
    #: while its key is rotated. The service's own signing key is added for its own topic. Unset: every
    #: service's built-in key, DEV_MODE only.
    event_verification_keys: dict[str, dict[str, SecretStr]] | None = None
    #: A developer's machine (DEV_MODE): `make run` and the tests set it. Only then may a service
    #: start on the built-in secrets above, or on short ones.
    dev_mode: bool = False
    public_base_url: str = "http://localhost:8000"
    otel_exporter_otlp_endpoint: str | None = None
    #: A span per database query (TRACE_DATABASE, opentelemetry-instrumentation-asyncpg): each round
    #: trip of a command shows in its waterfall. Off by default: a span per query costs more than the
    #: query's own Python work; ops turn it on to see where round trips go.
    trace_database: bool = False
    traces_dir: Path = Path(".data/traces")
    data_dir: Path = Path(".data/files")
    log_level: str = "INFO"
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    db_pool_max_size: int = Field(default=10, ge=2)
    #: What this process runs. All on by default; e.g. an API-only replica sets the last three to false.
    run_relay: bool = True
    run_reactions: bool = True
    run_schedules: bool = True
    #: Dev only: the service's clock runs this far ahead of the system's (`make demo` uses it to hold the
    #: SIM validation call in support hours at any hour). Leave 0 anywhere real.
    dev_clock_offset_seconds: float = 0.0
    #: Rate limits (chassis.ratelimit), "<n>/<second|minute|hour>": each link token's uses (survey,
    #: set-password), the email-sending commands of each integrator (tickets, messages), each staff
    #: member's registrations. RATE_LIMITS_ENABLED=false only to measure throughput (bench).
    rate_limits_enabled: bool = True
    rate_limit_link: str = "20/minute"
    rate_limit_integrator_emails: str = "30/minute"
    rate_limit_registrations: str = "600/minute"
    #: A consumer's batch that failed this many times in a row from the same offset (not an outage:
    #: the database is waited for) is handled one message at a time and the message that fails is
    #: parked as a dead letter, instead of the consumer looping on it (chassis.parking).
    consumer_restarts_before_parking: int = Field(default=5, ge=1)
    #: Prometheus metrics at /metrics (METRICS_ENABLED); off only to measure what they cost (bench).
    metrics_enabled: bool = True
    #: How often the gauges that need a query (lags, dead letters, business figures) are recomputed.
    metrics_refresh_seconds: float = Field(default=10.0, gt=0)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        """Only addresses and ranges: uvicorn would take a misspelt entry as a literal host name that
        never matches, and the proxy's clients would all be one address, silently."""
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as bad:
                raise ValueError(f"TRUSTED_PROXIES: {entry!r} is not an address or a CIDR range") from bad
        return ",".join(entries)

    @property
    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(e, strict=False) for e in self.trusted_proxies.split(",") if e]

    @model_validator(mode="after")
    def _kafka_sasl_is_complete(self) -> ServiceSettings:
        """A SASL protocol without its credentials would fail at the first connection, as an
        authentication error far from the cause: refuse at start, naming the variables."""
        if self.kafka_security_protocol.startswith("SASL_"):
            missing = [
                variable
                for variable, value in (
                    ("KAFKA_SASL_MECHANISM", self.kafka_sasl_mechanism),
                    ("KAFKA_SASL_USERNAME", self.kafka_sasl_username),
                    ("KAFKA_SASL_PASSWORD", self.kafka_sasl_password),
                )
                if not value
            ]
            if missing:
                raise ValueError(
                    f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs {', '.join(missing)}"
                )
        return self

    @model_validator(mode="after")
    def _verification_keys_name_services(self) -> ServiceSettings:
        """A key filed under a service that does not exist (a typo) would leave the real one without
        keys: every event of its topic dead-lettered. Refuse at start, naming it."""
        unknown = sorted(set(self.event_verification_keys or {}) - set(topics.BY_SERVICE))
        if unknown:
            raise ValueError(
                f"EVENT_VERIFICATION_KEYS names unknown services {unknown}; known: {sorted(topics.BY_SERVICE)}"
            )
        return self

    def refuse_weak_secrets(self) -> None:
        """Raise WeakSecret, naming the variables, when a secret is the built-in one or too short —
        unless DEV_MODE. Called when a service starts (reading settings for a CLI is not refused)."""
        if self.dev_mode:
            return
        problems = []
        for variable, secret, builtin in (
            ("AUTH_SECRET", self.auth_secret, DEV_AUTH_SECRET),
            ("LINK_SIGNING_SECRET", self.link_signing_secret, DEV_LINK_SIGNING_SECRET),
        ):
            value = secret.get_secret_value()
            if value == builtin:
                problems.append(f"{variable} is the built-in development secret (public)")
            elif len(value.encode()) < MIN_SECRET_BYTES:
                problems.append(f"{variable} is {len(value.encode())} bytes, under {MIN_SECRET_BYTES}")
        problems += self._weak_event_keys()
        if problems:
            raise WeakSecret(
                "; ".join(problems) + f": set a random secret of {MIN_SECRET_BYTES}+ bytes "
                "(e.g. `openssl rand -base64 48`), or DEV_MODE=true on a developer's machine"
            )

    def _weak_event_keys(self) -> list[str]:
        """The event signing and verification keys' problems outside DEV_MODE (same rule as the
        secrets above: not built-in, not short)."""
        problems = []
        if self.event_signing_key is None or self.event_signing_key_id is None:
            problems.append(
                "EVENT_SIGNING_KEY_ID and EVENT_SIGNING_KEY are unset (the built-in development key)"
            )
        if self.event_verification_keys is None:
            problems.append("EVENT_VERIFICATION_KEYS is unset (the built-in development keys)")
        keys = [("EVENT_SIGNING_KEY", self.event_signing_key)] + [
            (f"EVENT_VERIFICATION_KEYS[{owner}][{kid}]", secret)
            for owner, by_kid in (self.event_verification_keys or {}).items()
            for kid, secret in by_kid.items()
        ]
        for variable, secret in keys:
            if secret is None:
                continue
            value = secret.get_secret_value()
            if value.startswith(_DEV_EVENT_KEY_PREFIX):
                problems.append(f"{variable} is a built-in development key (public)")
            elif len(value.encode()) < MIN_SECRET_BYTES:
                problems.append(f"{variable} is {len(value.encode())} bytes, under {MIN_SECRET_BYTES}")
        return problems

    def topic(self, name: str) -> str:
        """The broker-side name of a contracts topic."""
        return f"{self.kafka_topic_prefix}{name}"
