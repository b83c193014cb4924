"""Sending an intended email, after the transaction that intended it has committed (P5).

One sender at a time per email (a PostgreSQL advisory lock held while talking to the SMTP server):
the reaction's after-commit send and the retry schedule never send the same email concurrently.
Inside the lock the email's stream is read again, so an email already sent is not sent again.
A crash after the SMTP server accepted the message but before EmailSent is recorded sends it once
more — with the same Message-ID, so it is recognisably the same email (the sink keeps one file).
"""

from __future__ import annotations

import time
from typing import Any
from weakref import WeakKeyDictionary

import structlog

from chassis.db import needs_reset
from chassis.runtime import ServiceRuntime
from contracts.events.notifier import EmailFailed
from notifier.domain import emails
from notifier.mailer import Mailer, compose
from notifier.metrics import email_metrics

log = structlog.get_logger()

#: Emails one schedule run looks at; the next run takes the rest.
BATCH = 100

#: Each runtime's mailer: its SMTP connections are kept open from one email to the next.
_MAILERS: WeakKeyDictionary[ServiceRuntime, Mailer] = WeakKeyDictionary()


def mailer_of(runtime: ServiceRuntime) -> Mailer:
    mailer = _MAILERS.get(runtime)
    if mailer is None:
        mailer = _MAILERS[runtime] = Mailer(runtime.settings)
    return mailer


async def deliver(runtime: ServiceRuntime, email_id: str) -> None:
    """Attempt one email if it is due; record EmailSent, or EmailAttemptFailed (and EmailFailed)."""
    settings: Any = runtime.settings
    stream_id = emails.email_stream(email_id)
    lock_key = f"notifier-email:{email_id}"
    async with runtime.pool.acquire() as lock:
        needs_reset(lock)  # a session lock: released even if the unlock below never runs
        if not await lock.fetchval("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", lock_key):
            return  # another sender has it
        try:
            history = await runtime.read_stream(stream_id)
            email = emails.fold(r.event for r in history)
            if email.intended is None or not emails.due(email, runtime.clock.now()):
                return
            integrator_id = history[0].envelope.integrator_id
            with runtime.tracer.start_as_current_span(
                "send email",
                # The attributes ops filter traces by (chassis.telemetry.span_attributes), for the
                # event that caused the email: a retry in a later trace is still found by them.
                attributes={
                    "email.id": email_id,
                    "email.template": email.intended.template,
                    "integrator.id": integrator_id,
                    "event.type": email.intended.source_event_type,
                    "event.id": str(email.intended.source_event_id),
                },
            ) as span:
                template = email.intended.template
                try:
                    message = compose(
                        email.intended, intended_at=history[0].envelope.occurred_at, settings=settings
                    )
                    started = time.perf_counter()
                    await mailer_of(runtime).send(message, email.intended.recipients)
                    sent_in = time.perf_counter() - started
                except Exception as error:  # SMTP refusal, connection, rendering: all recorded, retried
                    reason = f"{type(error).__name__}: {error}"
                    span.set_attribute("email.error", reason[:200])
                    log.warning("email_attempt_failed", email_id=email_id, error=reason[:300])
                    recorded = await runtime.execute(
                        stream_id=stream_id,
                        integrator_id=integrator_id,
                        decide=lambda h: emails.record_failed_attempt(
                            emails.fold(r.event for r in h),
                            reason,
                            now=runtime.clock.now(),
                            max_attempts=settings.smtp_max_attempts,
                            backoff_seconds=settings.smtp_backoff_seconds,
                        ),
                    )
                    email_metrics(runtime).attempt_failed(
                        template, given_up=any(isinstance(r.event, EmailFailed) for r in recorded)
                    )
                    return
                await runtime.execute(
                    stream_id=stream_id,
                    integrator_id=integrator_id,
                    decide=lambda h: emails.record_sent(emails.fold(r.event for r in h)),
                )
                email_metrics(runtime).email_sent(template, sent_in)
                log.info("email_sent", email_id=email_id)
        finally:
            await lock.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", lock_key)


async def deliver_due_emails(runtime: ServiceRuntime) -> None:
    """The schedule: emails intended but never sent (a crash, a restart) and retries now due."""
    due = await runtime.projections.list(
        "notifier_emails",
        where="data->>'status' = 'intended' AND (data->>'retry_at' IS NULL OR (data->>'retry_at')::timestamptz <= $1)",
        args=[runtime.clock.now()],
        order_by="position",
        limit=BATCH,
    )
    for row in due:
        await deliver(runtime, row["email_id"])
