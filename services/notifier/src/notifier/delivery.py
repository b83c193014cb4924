"""Sending intended emails, after the transaction that intended them has committed (P5).

One sender at a time per email (a PostgreSQL advisory lock held while talking to the SMTP server):
the reactions' sends and the retry schedule never send the same email concurrently. The courier
attempts the emails of the reactions' batches together: one round trip takes their locks, the next
reads their view rows, whose version says whether each email moved since it was intended — when it
did not, the state decided in the reaction is sent as it is, without reading the stream again; one
statement then records every EmailSent, guarded by those versions, so an email already sent is never
recorded twice. The rows are read after the locks are held, never in the statement that takes them:
that statement would read them as of its start, and another sender could record EmailSent and let go
of the lock in between (seen under load: the courier sent again an email the schedule had just sent).
A crash after the SMTP server accepted a message but before EmailSent is recorded sends it once
more — with the same Message-ID, so it is recognisably the same email (the sink keeps one file).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

import structlog

from chassis.db import needs_reset
from chassis.eventstore import ConcurrencyConflict
from chassis.runtime import ServiceRuntime
from chassis.unit_of_work import Loaded, UnitOfWork
from contracts.events import DomainEvent
from contracts.events.notifier import EmailAttemptFailed, EmailFailed, EmailSent
from notifier.aggregates import EMAIL
from notifier.domain import emails
from notifier.mailer import Mailer, compose
from notifier.metrics import email_metrics

log = structlog.get_logger()

#: Emails one schedule run looks at; the next run takes the rest.
BATCH = 100
#: Emails the courier attempts together at most.
COURIER_BATCH = 50
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


@dataclass(frozen=True)
class Parcel:
    """One email to attempt, with what the reaction knew of it and the context (trace, correlation)
    it was intended in: its send span and EmailSent stay in that trace (P7)."""

    email_id: str
    known: Known | None
    context: contextvars.Context


@dataclass
class _Job:
    parcel: Parcel
    loaded: Loaded[emails.Email]
    intended_at: datetime
    integrator_id: str
    #: What to record: the events decided after the attempt.
    outcome: list[DomainEvent] = field(default_factory=list)
    sent_in: float | None = None
    #: When its batch began (monotonic): if the SMTP server is seen away after it, it is not tried.
    came_at: float = field(default_factory=time.monotonic)
    #: Its outcome is written already (a failed attempt is, as soon as it fails).
    recorded: bool = False


class Courier:
    """Takes the emails intended by the reactions' batches and attempts them together: one round trip
    claims every send lock, one reads the emails' view rows, the SMTP conversations run a few at once (one
    integrator's in order), one statement records every EmailSent, one round trip releases the locks."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self._queue: asyncio.Queue[Parcel] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    def post(self, email_id: str, known: Known | None = None) -> None:
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work(), name="notifier:courier")
        self._queue.put_nowait(Parcel(email_id, known, contextvars.copy_context()))

    async def _work(self) -> None:
        while True:
            parcels = [await self._queue.get()]
            while not self._queue.empty() and len(parcels) < COURIER_BATCH:
                parcels.append(self._queue.get_nowait())
            try:
                await deliver_many(self.runtime, parcels)
            except Exception as error:  # the intents are recorded: the retry schedule finds them (P5)
                log.warning("courier_failed", emails=len(parcels), error=repr(error)[:300])

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(BaseException):
                await self._worker


_COURIERS: WeakKeyDictionary[ServiceRuntime, Courier] = WeakKeyDictionary()


def courier_of(runtime: ServiceRuntime) -> Courier:
    courier = _COURIERS.get(runtime)
    if courier is None:
        courier = _COURIERS[runtime] = Courier(runtime)
        runtime.on_stop.append(courier.close)
    return courier


async def send_after_commit(runtime: ServiceRuntime, email_id: str, known: Known) -> None:
    """The reaction's after-commit action: hand the email to the courier (it sends it at once)."""
    courier_of(runtime).post(email_id, known)


async def deliver(runtime: ServiceRuntime, email_id: str, known: Known | None = None) -> None:
    """Attempt one email if it is due; record EmailSent, or EmailAttemptFailed (and EmailFailed)."""
    await deliver_many(runtime, [Parcel(email_id, known, contextvars.copy_context())])


async def deliver_many(runtime: ServiceRuntime, parcels: list[Parcel]) -> None:
    """Attempt these emails (those due, whose lock no other sender holds) and record the outcomes."""
    by_id = {p.email_id: p for p in parcels}  # the same email twice: once
    async with runtime.pool.acquire() as conn:
        claimed = await conn.fetch(_CLAIM, list(by_id))
        locked = [r["key"] for r in claimed if r["locked"]]
        if not locked:
            return  # other senders have them
        try:
            # Read now that the locks are held: what any sender that held one before recorded is seen.
            rows = {r["key"]: r for r in await conn.fetch(_ROWS, locked)}
            uow = UnitOfWork(runtime, conn)
            jobs = await _jobs(uow, locked, rows, by_id)
            per_integrator: dict[str, list[_Job]] = {}
            for job in jobs:
                per_integrator.setdefault(job.integrator_id, []).append(job)
            # The batch's connection is shared by the attempts that record their failure at once.
            writing = asyncio.Lock()
            await asyncio.gather(*(_attempt_in_order(uow, one, writing) for one in per_integrator.values()))
            await _record(uow, jobs)
        finally:
            try:
                await conn.execute(_RELEASE, locked)
            except BaseException:
                needs_reset(conn)  # the pool's reset releases them
                raise


#: Every send lock, in one round trip. Not with the view rows: a statement reads them as of its start,
#: before it takes the locks, and so may miss the EmailSent of a sender that let go meanwhile (P5).
_CLAIM = """
SELECT k.key, pg_try_advisory_lock(hashtextextended('notifier-email:' || k.key, 0)) AS locked
FROM unnest($1::text[]) WITH ORDINALITY AS k(key, n)
ORDER BY k.n
"""
#: The view rows of the emails whose locks are held, read once they are.
_ROWS = f"SELECT key, data::text AS data, position FROM {EMAILS_VIEW} WHERE key = ANY($1::text[])"
_RELEASE = (
    "SELECT pg_advisory_unlock(hashtextextended('notifier-email:' || k, 0)) FROM unnest($1::text[]) AS k"
)


async def _jobs(
    uow: UnitOfWork, locked: list[str], rows: dict[str, Any], by_id: dict[str, Parcel]
) -> list[_Job]:
    """The due emails among those locked: the state the reaction decided when the email has not
    moved since (its row's version, read after the lock), else the stream (a retry, a resend)."""
    known: dict[str, tuple[Known, dict[str, Any]]] = {}
    unknown: list[str] = []
    for key in locked:
        r = rows.get(key)
        row = json.loads(r["data"]) if r is not None and r["data"] is not None else None
        uow.seen(EMAILS_VIEW, key, row, r["position"] if r is not None else None)
        parcel = by_id[key]
        if parcel.known is not None and row is not None and row.get("version") == parcel.known.version:
            known[key] = (parcel.known, row)
        else:
            unknown.append(key)
    loaded_now = {lo.stream_id: lo for lo in await uow.load_all(EMAIL, unknown)} if unknown else {}
    jobs = []
    now = uow.clock.now()
    for email_id, parcel in by_id.items():
        if email_id in known:
            k, row = known[email_id]
            loaded = uow.known(EMAIL, email_id, k.email, k.version)
            job = _Job(parcel, loaded, k.intended_at, row["integrator_id"])
        elif email_id in unknown:
            loaded = loaded_now[EMAIL.stream(email_id)]
            if not loaded.history:
                continue
            first = loaded.history[0].envelope
            job = _Job(parcel, loaded, first.occurred_at, first.integrator_id)
        else:
            continue  # another sender holds it
        if loaded.state.intended is not None and emails.due(loaded.state, now):
            jobs.append(job)
    return jobs


async def _attempt_in_order(uow: UnitOfWork, jobs: list[_Job], writing: asyncio.Lock) -> None:
    """One integrator's emails, one after the other, each in the context it was intended in."""
    for job in jobs:
        await asyncio.create_task(_attempt(uow, job, writing), context=job.parcel.context)


async def _attempt(uow: UnitOfWork, job: _Job, writing: asyncio.Lock) -> None:
    runtime = uow.runtime
    settings: Any = runtime.settings
    email = job.loaded.state
    assert email.intended is not None
    with runtime.tracer.start_as_current_span(
        "send email",
        # The attributes ops filter traces by (chassis.telemetry.span_attributes), for the event
        # that caused the email: a retry in a later trace is still found by them.
        attributes={
            "email.id": job.parcel.email_id,
            "email.template": email.intended.template,
            "integrator.id": job.integrator_id,
            "event.type": email.intended.source_event_type,
            "event.id": str(email.intended.source_event_id),
        },
    ) as span:
        try:
            message = compose(email.intended, intended_at=job.intended_at, settings=settings)
            started = time.perf_counter()
            await mailer_of(runtime).send(message, email.intended.recipients, came_at=job.came_at)
            job.sent_in = time.perf_counter() - started
            job.outcome = emails.record_sent(email)
        except Exception as error:  # SMTP refusal, connection, rendering: all recorded, retried
            reason = f"{type(error).__name__}: {error}"
            span.set_attribute("email.error", reason[:200])
            log.warning("email_attempt_failed", email_id=job.parcel.email_id, error=reason[:300])
            job.outcome = emails.record_failed_attempt(
                email,
                reason,
                now=runtime.clock.now(),
                max_attempts=settings.smtp_max_attempts,
                backoff_seconds=settings.smtp_backoff_seconds,
            )
            # Written now, not when the batch's last conversation ends: ops, the metrics and the
            # retry schedule see a failing server within its timeouts (issue 22).
            async with writing:
                try:
                    await _record_failure(uow, job)
                    return
                except Exception as failure:  # not fatal to the batch's other attempts in flight
                    log.warning(
                        "email_attempt_not_recorded", email_id=job.parcel.email_id, error=repr(failure)[:300]
                    )
            # Then written with the batch's outcomes, as before (or found again by the schedule).
        # Appended here, in the email's own context: EmailSent carries its trace (P7). The sent
        # emails of the batch are written together (`_record`).
        uow.append(job.loaded, job.outcome, integrator_id=job.integrator_id)


async def _record_failure(uow: UnitOfWork, job: _Job) -> None:
    """A failed attempt written on its own, on the batch's connection (the send locks are its own)."""
    alone = UnitOfWork(uow.runtime, uow.conn)
    loaded = alone.known(EMAIL, job.parcel.email_id, job.loaded.state, job.loaded.version)
    alone.append(loaded, job.outcome, integrator_id=job.integrator_id)
    try:
        await alone.flush()
    except ConcurrencyConflict:  # it moved meanwhile (a resend requested): decided again on its stream
        await _record_alone(uow.runtime, uow.conn, job)
    job.recorded = True
    _count(uow.runtime, job)


async def _record(uow: UnitOfWork, jobs: list[_Job]) -> None:
    """Every outcome in one statement; if one email moved meanwhile (a resend requested), each is
    recorded on its own so the others are not lost."""
    try:
        await uow.flush()
    except ConcurrencyConflict:
        for job in jobs:
            if not job.recorded:
                await asyncio.create_task(
                    _record_alone(uow.runtime, uow.conn, job), context=job.parcel.context
                )
    for job in jobs:
        if not job.recorded:
            _count(uow.runtime, job)


async def _record_alone(runtime: ServiceRuntime, conn: Any, job: _Job) -> None:
    alone = UnitOfWork(runtime, conn)
    loaded = await alone.load(EMAIL, job.parcel.email_id)
    sent = any(isinstance(e, EmailSent) for e in job.outcome)
    if sent:
        events = emails.record_sent(loaded.state)
        if not events and loaded.state.status is emails.Status.SENT:
            # Sent here and recorded sent by another sender: the one-sender rule was broken (P5).
            log.warning("email_sent_twice", email_id=job.parcel.email_id)
    else:
        failed = next((e for e in job.outcome if isinstance(e, EmailAttemptFailed)), None)
        events = (
            emails.record_failed_attempt(
                loaded.state,
                failed.error if failed else "unknown error",
                now=runtime.clock.now(),
                max_attempts=runtime.settings.smtp_max_attempts,  # type: ignore[attr-defined]
                backoff_seconds=runtime.settings.smtp_backoff_seconds,  # type: ignore[attr-defined]
            )
            if failed
            else []
        )
    alone.append(loaded, events, integrator_id=job.integrator_id)
    try:
        await alone.flush()
    except ConcurrencyConflict:
        log.info("email_outcome_raced", email_id=job.parcel.email_id)


def _count(runtime: ServiceRuntime, job: _Job) -> None:
    intended = job.loaded.state.intended
    template = intended.template if intended is not None else "unknown"
    if job.sent_in is not None:
        email_metrics(runtime).email_sent(template, job.sent_in)
        log.info("email_sent", email_id=job.parcel.email_id)
    else:
        email_metrics(runtime).attempt_failed(
            template, given_up=any(isinstance(e, EmailFailed) for e in job.outcome)
        )


async def deliver_due_emails(runtime: ServiceRuntime) -> None:
    """The schedule: emails intended but never sent (a crash, a restart) and retries now due."""
    due = await runtime.projections.list(
        EMAILS_VIEW,
        where="data->>'status' = 'intended' AND (data->>'retry_at' IS NULL OR (data->>'retry_at')::timestamptz <= $1)",
        args=[runtime.clock.now()],
        order_by="position",
        limit=BATCH,
    )
    # Attempted together as the courier's batches are (a few conversations at once, each integrator's
    # in order): after an outage, the emails waiting for their retry go out at the courier's pace.
    ids = [row["email_id"] for row in due]
    for start in range(0, len(ids), COURIER_BATCH):
        chunk = ids[start : start + COURIER_BATCH]
        await deliver_many(runtime, [Parcel(i, None, contextvars.copy_context()) for i in chunk])
