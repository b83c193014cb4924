"""Sending an intended email, after the transaction that intended it has committed (P5).

One sender at a time per email (a PostgreSQL advisory lock held while talking to the SMTP server):
the reaction's after-commit send and the retry schedule never send the same email concurrently.
The lock is taken in the same round trip as the email's view row, whose version says whether the
email moved since it was intended: when it did not, the state decided in the reaction is sent as it
is, without reading the stream again; EmailSent is then written guarded by that version, so an email
already sent is never recorded twice. A crash after the SMTP server accepted the message but before
EmailSent is recorded sends it once more — with the same Message-ID, so it is recognisably the same
email (the sink keeps one file).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

import structlog

from chassis.db import needs_reset
from chassis.runtime import ServiceRuntime
from chassis.unit_of_work import Loaded, UnitOfWork
from contracts.events.notifier import EmailFailed
from notifier.aggregates import EMAIL
from notifier.domain import emails
from notifier.mailer import Mailer, compose
from notifier.metrics import email_metrics

log = structlog.get_logger()

#: Emails one schedule run looks at; the next run takes the rest.
BATCH = 100
#: The view of every email's life (notifier.projections).
EMAILS_VIEW = "notifier_emails"

#: Each runtime's mailer: its SMTP connections are kept open from one email to the next.
_MAILERS: WeakKeyDictionary[ServiceRuntime, Mailer] = WeakKeyDictionary()


@dataclass(frozen=True)
class Known:
    """An email as the transaction that intended it left it: its state, version and when."""

    email: emails.Email
    version: int
    intended_at: datetime


def mailer_of(runtime: ServiceRuntime) -> Mailer:
    mailer = _MAILERS.get(runtime)
    if mailer is None:
        mailer = _MAILERS[runtime] = Mailer(runtime.settings)
    return mailer


async def deliver(runtime: ServiceRuntime, email_id: str, known: Known | None = None) -> None:
    """Attempt one email if it is due; record EmailSent, or EmailAttemptFailed (and EmailFailed)."""
    lock_key = f"notifier-email:{email_id}"
    async with runtime.pool.acquire() as conn:
        claimed = await conn.fetchrow(
            "SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked, "
            f"(SELECT data::text FROM {EMAILS_VIEW} WHERE key = $2) AS data, "
            f"(SELECT position FROM {EMAILS_VIEW} WHERE key = $2) AS position",
            lock_key,
            email_id,
        )
        if claimed is None or not claimed["locked"]:
            return  # another sender has it
        try:
            uow = UnitOfWork(runtime, conn)
            row = json.loads(claimed["data"]) if claimed["data"] is not None else None
            uow.seen(EMAILS_VIEW, email_id, row, claimed["position"])
            await _attempt(uow, email_id, row, known)
        finally:
            try:
                await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", lock_key)
            except BaseException:
                needs_reset(conn)  # the pool's reset releases it
                raise


async def _attempt(uow: UnitOfWork, email_id: str, row: dict[str, Any] | None, known: Known | None) -> None:
    runtime = uow.runtime
    settings: Any = runtime.settings
    loaded: Loaded[emails.Email]
    if known is not None and row is not None and row.get("version") == known.version:
        loaded, intended_at = uow.known(EMAIL, email_id, known.email, known.version), known.intended_at
    else:  # a retry, a resend, or an email that moved since: its stream tells
        loaded = await uow.load(EMAIL, email_id)
        if not loaded.history:
            return
        intended_at = loaded.history[0].envelope.occurred_at
    email = loaded.state
    if email.intended is None or not emails.due(email, runtime.clock.now()):
        return
    integrator_id = row["integrator_id"] if row is not None else loaded.history[0].envelope.integrator_id
    with runtime.tracer.start_as_current_span(
        "send email",
        # The attributes ops filter traces by (chassis.telemetry.span_attributes), for the event
        # that caused the email: a retry in a later trace is still found by them.
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
            message = compose(email.intended, intended_at=intended_at, settings=settings)
            started = time.perf_counter()
            await mailer_of(runtime).send(message, email.intended.recipients)
            sent_in = time.perf_counter() - started
        except Exception as error:  # SMTP refusal, connection, rendering: all recorded, retried
            reason = f"{type(error).__name__}: {error}"
            span.set_attribute("email.error", reason[:200])
            log.warning("email_attempt_failed", email_id=email_id, error=reason[:300])
            failed = emails.record_failed_attempt(
                email,
                reason,
                now=runtime.clock.now(),
                max_attempts=settings.smtp_max_attempts,
                backoff_seconds=settings.smtp_backoff_seconds,
            )
            uow.append(loaded, failed, integrator_id=integrator_id)
            await uow.flush()
            email_metrics(runtime).attempt_failed(
                template, given_up=any(isinstance(e, EmailFailed) for e in failed)
            )
            return
        uow.append(loaded, emails.record_sent(email), integrator_id=integrator_id)
        await uow.flush()
        email_metrics(runtime).email_sent(template, sent_in)
        log.info("email_sent", email_id=email_id)


async def deliver_due_emails(runtime: ServiceRuntime) -> None:
    """The schedule: emails intended but never sent (a crash, a restart) and retries now due."""
    due = await runtime.projections.list(
        EMAILS_VIEW,
        where="data->>'status' = 'intended' AND (data->>'retry_at' IS NULL OR (data->>'retry_at')::timestamptz <= $1)",
        args=[runtime.clock.now()],
        order_by="position",
        limit=BATCH,
    )
    for row in due:
        await deliver(runtime, row["email_id"])
