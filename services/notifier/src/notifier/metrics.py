"""The notifier's metrics (chassis.metrics): emails intended, sent, failed and pending, by template.

Templates are a closed set (`domain.mapping`): every label value is known, and exported at 0 from the
start, so the first failure is an increase Prometheus sees. Pending and retrying are read from the
emails read model by the chassis's refresh task (one grouped query on its indexed status).
"""

from __future__ import annotations

from collections.abc import Iterable
from weakref import WeakKeyDictionary

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from chassis.runtime import ServiceRuntime
from notifier.domain.mapping import RULES_BY_TEMPLATE

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
    """Emails intended and not sent yet, by template: waiting a first attempt, or retrying after a
    failed one (an SMTP problem while this stays above 0)."""
    rows = await runtime.pool.fetch(
        "SELECT data->>'template' AS template, coalesce((data->>'attempts')::int, 0) > 0 AS retrying, "
        "count(*) AS emails FROM notifier_emails WHERE data->>'status' = 'intended' GROUP BY 1, 2"
    )
    pending = GaugeMetricFamily(
        "notifier_emails_pending",
        "Emails intended and not sent yet (waiting or retrying), by template.",
        labels=["template"],
    )
    retrying = GaugeMetricFamily(
        "notifier_emails_retrying",
        "Emails intended whose last send attempt failed and that wait for a retry, by template.",
        labels=["template"],
    )
    counts = {t: [0, 0] for t in RULES_BY_TEMPLATE}
    for row in rows:
        bucket = counts.setdefault(row["template"], [0, 0])
        bucket[0] += row["emails"]
        if row["retrying"]:
            bucket[1] += row["emails"]
    for template, (all_pending, failing) in sorted(counts.items()):
        pending.add_metric([template], float(all_pending))
        retrying.add_metric([template], float(failing))
    return [pending, retrying]
