"""Settings from environment variables (pydantic-settings). Env var = field name upper-cased."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What every service reads. Defaults are the embedded dev stack of `make run`."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    database_url: str = "postgresql://postgres@127.0.0.1:54329/postgres"
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    kafka_security_protocol: str = "PLAINTEXT"
    #: Idempotent producer: on for real Kafka; the embedded Tansu broker does not support it.
    kafka_idempotence: bool = False
    #: Tansu does not wake a fetch on new data: the wait bounds delivery latency (ARCHITECTURE.md).
    kafka_fetch_max_wait_ms: int = Field(default=20, ge=1, le=5000)
    #: Namespaces topics and consumer groups (tests run isolated platforms on one broker).
    kafka_topic_prefix: str = ""
    kafka_topic_partitions: int = Field(default=6, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    #: Create missing topics at start (dev). In production topics are KafkaTopic resources.
    kafka_create_topics: bool = True
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    auth_secret: SecretStr = SecretStr("dev-only-auth-secret-change-me-in-production!")
    link_signing_secret: SecretStr = SecretStr("dev-only-link-secret-change-me-in-production!")
    public_base_url: str = "http://localhost:8000"
    otel_exporter_otlp_endpoint: str | None = None
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
    #: Prometheus metrics at /metrics (METRICS_ENABLED); off only to measure what they cost (bench).
    metrics_enabled: bool = True
    #: How often the gauges that need a query (lags, dead letters, business figures) are recomputed.
    metrics_refresh_seconds: float = Field(default=10.0, gt=0)

    def topic(self, name: str) -> str:
        """The broker-side name of a contracts topic."""
        return f"{self.kafka_topic_prefix}{name}"
