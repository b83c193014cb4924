"""The Kafka clients' connection arguments from the settings (chassis.kafka.client_options): plaintext
for the embedded broker, SCRAM over TLS on Kubernetes (deploy/k8s). No broker needed: the arguments
are what aiokafka is given, and each client is built with them."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import pytest
import structlog
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import ValidationError

from chassis import kafka
from chassis.settings import ServiceSettings

PASSWORD = "scram-password-of-the-support-user-7f3a"  # noqa: S105 (a test value)
#: A self-signed CA (CN=test-cluster-ca), as Strimzi's `<cluster>-cluster-ca-cert` Secret holds one.
CA_PEM = """-----BEGIN CERTIFICATE-----
MIIBizCCATGgAwIBAgIUKobYf2Og7+OWswA2Y3l9I+TxYa8wCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPdGVzdC1jbHVzdGVyLWNhMCAXDTI2MTEyOTA5NDcyNFoYDzIx
MjYxMTA1MDk0NzI0WjAaMRgwFgYDVQQDDA90ZXN0LWNsdXN0ZXItY2EwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAASjrLlEJNLCVbtAfaB4PoyKSjBIKIwp5c1DQyH/
d49CQMC8eBYUdSXvkJwiZswx+PHpPWR+dQtmvArlzrTHw2jmo1MwUTAdBgNVHQ4E
FgQUCgdRPrIr0eu5QSdpTwEqCatUsFgwHwYDVR0jBBgwFoAUCgdRPrIr0eu5QSdp
TwEqCatUsFgwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEAkAAX
npXanbl6C4GlpYwR8VW7flkhVUyCFqUt06fyL2kCICR/6nADCMfttUO8//Q3N+XK
Ix1LwjhCLYiCcEu84pAg
-----END CERTIFICATE-----
"""


def scram(tmp_path: Path, **overrides: object) -> ServiceSettings:
    cafile = tmp_path / "ca.crt"
    cafile.write_text(CA_PEM)
    values: dict[str, object] = {
        "kafka_bootstrap_servers": "platform-kafka-bootstrap:9093",
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": "support",
        "kafka_sasl_password": PASSWORD,
        "kafka_ssl_cafile": cafile,
    }
    values.update(overrides)
    return ServiceSettings.model_validate(values)


def ca_subjects(context: ssl.SSLContext) -> list[str]:
    return [dict(item[0] for item in cert["subject"])["commonName"] for cert in context.get_ca_certs()]


def test_plaintext_is_the_embedded_brokers_and_carries_no_tls_nor_credentials():
    options = kafka.client_options(ServiceSettings(kafka_bootstrap_servers="127.0.0.1:19092"))
    assert options == {"bootstrap_servers": "127.0.0.1:19092", "security_protocol": "PLAINTEXT"}


def test_sasl_ssl_with_scram_gives_the_credentials_and_a_context_trusting_the_cluster_ca(tmp_path):
    options = kafka.client_options(scram(tmp_path))
    context = options.pop("ssl_context")
    assert options == {
        "bootstrap_servers": "platform-kafka-bootstrap:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "support",
        "sasl_plain_password": PASSWORD,
    }
    assert isinstance(context, ssl.SSLContext)
    # The brokers' certificates are checked, host name included, against the cluster CA alone.
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert ca_subjects(context) == ["test-cluster-ca"]


def test_ssl_with_a_ca_file_has_a_context_and_no_sasl(tmp_path):
    options = kafka.client_options(
        scram(tmp_path, kafka_security_protocol="SSL", kafka_sasl_mechanism=None, kafka_sasl_password=None)
    )
    assert options["security_protocol"] == "SSL"
    assert ca_subjects(options["ssl_context"]) == ["test-cluster-ca"]
    assert not any(key.startswith("sasl") for key in options)


async def test_every_client_is_built_with_them(tmp_path):
    settings = scram(tmp_path)
    producer = kafka.producer(settings)
    consumer = kafka.consumer(settings, "support.events.v1", group_id="support.x")
    admin = AIOKafkaAdminClient(**kafka.client_options(settings))
    try:
        # What each client connects with: its inner AIOKafkaClient (aiokafka has no public view of it).
        for connection in (producer.client, consumer._client, admin._client):
            assert connection._security_protocol == "SASL_SSL"
            assert connection._sasl_mechanism == "SCRAM-SHA-512"
            assert connection._sasl_plain_username == "support"
            assert connection._sasl_plain_password == PASSWORD
            assert ca_subjects(connection._ssl_context) == ["test-cluster-ca"]
    finally:
        await producer.stop()
        await consumer.stop()
        await admin.close()


@pytest.mark.parametrize(
    ("missing", "variable"),
    [
        ("kafka_sasl_mechanism", "KAFKA_SASL_MECHANISM"),
        ("kafka_sasl_username", "KAFKA_SASL_USERNAME"),
        ("kafka_sasl_password", "KAFKA_SASL_PASSWORD"),
    ],
)
def test_sasl_without_a_credential_is_refused_naming_it(tmp_path, missing, variable):
    with pytest.raises(ValidationError, match=variable) as refused:
        scram(tmp_path, **{missing: None})
    assert PASSWORD not in str(refused.value)


def test_an_unknown_mechanism_or_protocol_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="kafka_sasl_mechanism"):
        scram(tmp_path, kafka_sasl_mechanism="SCRAM-SHA-1")
    with pytest.raises(ValidationError, match="kafka_security_protocol"):
        scram(tmp_path, kafka_security_protocol="SASL_TLS")


def test_a_missing_ca_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="KAFKA_SSL_CAFILE"):
        kafka.client_options(scram(tmp_path, kafka_ssl_cafile=tmp_path / "absent.crt"))


async def test_the_password_never_shows_in_the_settings_nor_the_logs(tmp_path, caplog):
    settings = scram(tmp_path)
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings)
    assert PASSWORD not in settings.model_dump_json()
    with caplog.at_level(logging.DEBUG), structlog.testing.capture_logs() as logs:
        structlog.get_logger().info("settings", settings=settings)
        producer = kafka.producer(settings)
        await producer.stop()
    assert PASSWORD not in caplog.text
    assert PASSWORD not in repr(logs)
