"""Email health, as it happens: how many emails wait to go out, how many after a failed attempt, how
many were given up, and how long the oldest has waited — read from the emails view in one grouped
query (on its indexed status), for `/ops/status` and the metrics alike (issue 22: a silent SMTP server
was seen a minute late, and the retrying figure counted 1 of 181 waiting emails).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

from chassis.runtime import ServiceRuntime
from notifier.delivery import mailer_of
from notifier.domain.mapping import RULES_BY_TEMPLATE
from notifier.projections import emails as emails_view

#: Per template and status: the emails, those with a failed attempt in this round, the oldest wait.
_FIGURES = f"""
SELECT data->>'template' AS template, data->>'status' AS status,
       count(*) FILTER (
         WHERE coalesce((data->>'round_attempts')::int, (data->>'attempts')::int, 0) > 0
       ) AS retrying,
       count(*) AS emails,
       min(coalesce(data->>'waiting_since', data->>'intended_at')::timestamptz) AS waiting_since
FROM {emails_view.name} WHERE data->>'status' IN ('intended', 'failed')
GROUP BY 1, 2
"""


@dataclass
class TemplateFigures:
    #: Intended and not sent yet: waiting for a first attempt or for a retry.
    pending: int = 0
    #: Among the pending, those whose last attempt (in this round) failed.
    retrying: int = 0
    #: Given up after every attempt (EmailFailed), not resent: ops must resend them.
    given_up: int = 0


@dataclass
class EmailFigures:
    by_template: dict[str, TemplateFigures] = field(default_factory=dict)
    #: How long the oldest pending email has waited (0 when none waits), by the service's clock.
    oldest_pending_seconds: float = 0.0

    def total(self, name: str) -> int:
        return sum(getattr(t, name) for t in self.by_template.values())


async def email_figures(runtime: ServiceRuntime) -> EmailFigures:
    figures = EmailFigures()
    oldest = None
    for row in await runtime.pool.fetch(_FIGURES):
        counts = figures.by_template.setdefault(row["template"], TemplateFigures())
        if row["status"] == "intended":
            counts.pending += row["emails"]
            counts.retrying += row["retrying"]
            if oldest is None or row["waiting_since"] < oldest:
                oldest = row["waiting_since"]
        else:
            counts.given_up += row["emails"]
    if oldest is not None:
        figures.oldest_pending_seconds = max(0.0, (runtime.clock.now() - oldest).total_seconds())
    return figures


async def email_status(runtime: ServiceRuntime) -> dict[str, Any]:
    """The `emails` part of the notifier's /ops/status."""
    figures = await email_figures(runtime)
    return {
        "pending": figures.total("pending"),
        "retrying": figures.total("retrying"),
        "given_up": figures.total("given_up"),
        "oldest_pending_seconds": round(figures.oldest_pending_seconds, 1),
        "by_template": {
            template: vars(counts)
            for template, counts in sorted(figures.by_template.items())
            if counts.pending or counts.given_up
        },
        # As this process saw it: the last conversation's outcome (other replicas may see otherwise).
        "smtp": mailer_of(runtime).health(),
    }


async def email_gauges(runtime: ServiceRuntime) -> Iterable[Metric]:
    """Emails intended and not sent yet, by template: every one waiting (for a first attempt or a
    retry), those whose last attempt failed, those given up; the oldest one's wait; and how long ago
    this process last sent one (no email going out while some wait: EmailsNotGoingOut)."""
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
    last_sent = GaugeMetricFamily(
        "notifier_email_last_sent_age_seconds",
        "Seconds since this process last handed an email to the SMTP server (since it started, if none).",
    )
    last_sent.add_metric([], mailer_of(runtime).seconds_since_sent())
    return [pending, retrying, given_up, oldest, last_sent]
