"""Email health, as it happens: how many emails wait to go out, how many after a failed attempt, how
many were given up, and how long the oldest has waited — read from the emails view in one grouped
query (on its indexed status), for `/ops/status` and the metrics alike (issue 22: a silent SMTP server
was seen a minute late, and the retrying figure counted 1 of 181 waiting emails).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chassis.runtime import ServiceRuntime
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


async def email_status(runtime: ServiceRuntime, smtp: dict[str, Any]) -> dict[str, Any]:
    """The `emails` part of the notifier's /ops/status; `smtp`: the mailer's health (`Mailer.health`)."""
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
        "smtp": smtp,
    }
