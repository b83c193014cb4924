"""The notifier's metrics (chassis.metrics): emails intended, sent, failed and pending, by template.

Templates are a closed set (`domain.mapping`): every label value is known, and exported at 0 from the
start, so the first failure is an increase Prometheus sees. Pending, retrying, given up and the oldest
pending email's age are read from the emails read model by the chassis's refresh task (`health`: one
grouped query on its indexed status), the figures `/ops/status` shows, with the last send's age.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from prometheus_client import Counter, Histogram

from chassis.runtime import ServiceRuntime
from notifier.domain.mapping import RULES_BY_TEMPLATE

#: An SMTP conversation: tens of ms on a LAN, seconds to a slow relay, `smtp_send_timeout_seconds` at most.
SEND_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class EmailMetrics:
    def __init__(self, runtime: ServiceRuntime) -> None:
        registry = runtime.metrics.registry
        self.enabled = runtime.metrics.enabled
        self.intended = Counter(
            "notifier_emails_intended_total",
            "Emails recorded as intended (one per event and recipient rule), by template.",
            ["template"],
            registry=registry,
        )
        self.sent = Counter(
            "notifier_emails_sent_total",
            "Emails the SMTP server accepted, by template.",
            ["template"],
            registry=registry,
        )
        self.attempts_failed = Counter(
            "notifier_email_send_failures_total",
            "Send attempts that failed (refused, unreachable, timed out); each is retried with backoff.",
            ["template"],
            registry=registry,
        )
        self.failed = Counter(
            "notifier_emails_failed_total",
            "Emails given up on after their attempts (EmailFailed): ops must resend them.",
            ["template"],
            registry=registry,
        )
        self.send_duration = Histogram(
            "notifier_email_send_duration_seconds",
            "Time to hand one email to the SMTP server (successful sends), by template.",
            ["template"],
            buckets=SEND_BUCKETS,
            registry=registry,
        )
        for template in RULES_BY_TEMPLATE:
            for metric in (self.intended, self.sent, self.attempts_failed, self.failed, self.send_duration):
                metric.labels(template)

    def email_intended(self, template: str) -> None:
        if self.enabled:
            self.intended.labels(template).inc()

    def email_sent(self, template: str, seconds: float) -> None:
        if self.enabled:
            self.sent.labels(template).inc()
            self.send_duration.labels(template).observe(seconds)

    def attempt_failed(self, template: str, *, given_up: bool) -> None:
        if self.enabled:
            self.attempts_failed.labels(template).inc()
            if given_up:
                self.failed.labels(template).inc()


_BY_RUNTIME: WeakKeyDictionary[ServiceRuntime, EmailMetrics] = WeakKeyDictionary()


def email_metrics(runtime: ServiceRuntime) -> EmailMetrics:
    """The runtime's email metrics, registered on first use (`build_runtime` does it at once)."""
    metrics = _BY_RUNTIME.get(runtime)
    if metrics is None:
        metrics = _BY_RUNTIME[runtime] = EmailMetrics(runtime)
    return metrics
