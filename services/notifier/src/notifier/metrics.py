"""The notifier's metrics (chassis.metrics): emails intended, sent, failed and pending, by template.

Templates are a closed set (`domain.mapping`): every label value is known, and exported at 0 from the
start, so the first failure is an increase Prometheus sees. Pending, retrying, given up and the oldest
pending email's age are read from the emails read model by the chassis's refresh task (`health`: one
grouped query on its indexed status), the figures `/ops/status` shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from weakref import WeakKeyDictionary

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from chassis.runtime import ServiceRuntime
from notifier.domain.mapping import RULES_BY_TEMPLATE
from notifier.health import TemplateFigures, email_figures

#: An SMTP conversation: tens of ms on a LAN, seconds to a slow relay, `smtp_timeout_seconds` at most.
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
        runtime.metrics.add_gauges(email_gauges)

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


async def email_gauges(runtime: ServiceRuntime) -> Iterable[Metric]:
    """Emails intended and not sent yet, by template: every one waiting (for a first attempt or a
    retry), those whose last attempt failed, those given up; and the oldest one's wait."""
    figures = await email_figures(runtime)
    pending = GaugeMetricFamily(
        "notifier_emails_pending",
        "Emails intended and not sent yet (waiting for a first attempt or for a retry), by template.",
        labels=["template"],
    )
    retrying = GaugeMetricFamily(
        "notifier_emails_retrying",
        "Emails intended whose last send attempt failed and that wait for a retry, by template.",
        labels=["template"],
    )
    given_up = GaugeMetricFamily(
        "notifier_emails_given_up",
        "Emails given up after every attempt (EmailFailed) and not resent: ops must resend them.",
        labels=["template"],
    )
    oldest = GaugeMetricFamily(
        "notifier_emails_oldest_pending_age_seconds",
        "How long the oldest email intended and not sent has waited (0 when none waits).",
    )
    for template in sorted({*RULES_BY_TEMPLATE, *figures.by_template}):
        counts = figures.by_template.get(template, TemplateFigures())
        pending.add_metric([template], float(counts.pending))
        retrying.add_metric([template], float(counts.retrying))
        given_up.add_metric([template], float(counts.given_up))
    oldest.add_metric([], figures.oldest_pending_seconds)
    return [pending, retrying, given_up, oldest]
