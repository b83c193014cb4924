"""P5 under load: the courier and the retry schedule never both send one email.

Seen in a full-suite run at load ~20: the SMTP sink of
test_each_event_yields_exactly_its_emails_once_even_when_delivered_twice received 69 emails for 68,
every one recorded as sent on its first attempt. The courier claimed its batch's send locks and read
the emails' view rows in one statement: the rows as of the statement's start (its snapshot), the locks
when each was evaluated, later. The schedule could send an email, record EmailSent and release its
lock in between: the courier then held the lock, read the row as it was before EmailSent, saw the
version its reaction decided on, and sent the email again (its EmailSent then conflicted, and was
dropped silently: one record, two emails).

The window is microseconds on an idle machine; here it is held open: the courier's claim runs in a
REPEATABLE READ transaction whose snapshot is taken before the schedule sends (what a statement's own
snapshot is when the backend is descheduled between its start and the lock), on the real database.

The one way left to send an email twice is SMTP's own: an answer that never came (and a crash between
the server's answer and EmailSent); the second test shows that copy is the same message.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import asyncpg.pool
import pytest

from chassis.clock import ManualClock
from chassis.devstack import MailSink, free_port, message_id_of
from contracts.events.common import Locale
from notifier import app, delivery
from tests.support.load import budget
from tests.support.waiting import eventually
from tests.test_notifier import NOW, Upstream, emails, registered


@pytest.fixture
def sink(tmp_path):
    s = MailSink(tmp_path / "mail", free_port())
    s.start()
    yield s
    s.stop()


async def test_an_email_the_schedule_sent_while_the_courier_claimed_it_is_not_sent_again(
    service, sink, monkeypatch
):
    claim_began = asyncio.Event()
    schedule_done = asyncio.Event()
    claimed: list[Any] = []
    courier_done = asyncio.Event()
    original_fetch = asyncpg.pool.PoolConnectionProxy.fetch
    original_deliver_many = delivery.deliver_many

    def by_courier() -> bool:
        task = asyncio.current_task()
        return task is not None and task.get_name() == "notifier:courier"

    async def fetch(conn: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if not (by_courier() and "pg_try_advisory_lock" in query and not claim_began.is_set()):
            return await original_fetch(conn, query, *args, **kwargs)
        async with conn.transaction(isolation="repeatable_read"):
            # The snapshot the claim reads with, taken now: before the schedule sends.
            await conn.fetchval("SELECT count(*) FROM notifier_emails")
            claim_began.set()
            await schedule_done.wait()
            rows = await original_fetch(conn, query, *args, **kwargs)
        claimed.extend(rows)
        return rows

    async def deliver_many(runtime: Any, parcels: list[Any]) -> None:
        try:
            await original_deliver_many(runtime, parcels)
        finally:
            if by_courier() and claim_began.is_set():
                courier_done.set()

    monkeypatch.setattr(asyncpg.pool.PoolConnectionProxy, "fetch", fetch)
    monkeypatch.setattr(delivery, "deliver_many", deliver_many)

    # The schedule runs once at the start (nothing due), then only when this test runs it.
    async with (
        service(app, clock=ManualClock(NOW), smtp_port=sink.port, email_retry_check_seconds=3600) as svc,
        Upstream(svc.runtime.settings) as upstream,
    ):
        await upstream.publish(registered(Locale.EN))
        async with asyncio.timeout(budget(30)):
            await claim_began.wait()
        intended = await emails(svc)
        assert intended and all(e["status"] == "intended" for e in intended)

        # The schedule finds them intended and unsent: it sends and records them, and lets go.
        await delivery.deliver_due_emails(svc.runtime)
        assert [e["status"] for e in await emails(svc)] == ["sent"] * len(intended)
        assert sink.received == len(intended)
        schedule_done.set()

        async with asyncio.timeout(budget(30)):
            await courier_done.wait()
        # The courier did get the locks the schedule let go: it chose not to send.
        assert claimed and all(r["locked"] for r in claimed)
        # A send by the courier ends after the sink counted it (its answer to DATA).
        assert sink.received == len(intended), f"{sink.received} emails received for {len(intended)}"
        assert all(e["attempts"] == 1 for e in await emails(svc))


class LateSink(MailSink):
    """Keeps every copy it receives, and answers the first DATA of each email `late` seconds after
    storing it: after the notifier stopped waiting for the answer."""

    def __init__(self, directory: Any, port: int, late: float) -> None:
        super().__init__(directory, port)
        self.late = late
        self.copies: dict[str, list[bytes]] = {}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        copies = self.copies.setdefault(message_id_of(content) or "none", [])
        copies.append(content)
        answer = await super().handle_DATA(server, session, envelope)
        if len(copies) == 1:
            await asyncio.sleep(self.late)
        return answer


async def test_an_email_accepted_after_the_notifier_stopped_waiting_goes_again_as_the_same_message(
    service, tmp_path
):
    """SMTP cannot say whether a message whose answer never came was delivered: it is a failed attempt,
    retried, and the retry is the same message (Message-ID, Date, body, boundaries), so the receiver
    can tell it is a copy. This is the one way P5 sends an email twice (with a crash between the
    server's answer and EmailSent), and it is documented (services/notifier/README.md)."""
    clock = ManualClock(NOW)
    late = LateSink(tmp_path / "mail", free_port(), late=1.5)
    late.start()
    try:
        async with (
            service(
                app,
                clock=clock,
                smtp_port=late.port,
                smtp_timeout_seconds=0.5,  # the answer to the end of DATA is waited for 0.5 s
                smtp_max_attempts=50,
                smtp_backoff_seconds=1.0,
                email_retry_check_seconds=0.05,
            ) as svc,
            Upstream(svc.runtime.settings) as upstream,
        ):
            await upstream.publish(registered(Locale.EN))

            async def all_sent():
                rows = await emails(svc)
                if rows and all(r["status"] == "sent" for r in rows):
                    return rows
                clock.advance(timedelta(minutes=1))  # the next retry is due
                return None

            rows = await eventually(all_sent, what="every email sent in the end", timeout=60, interval=0.3)
        assert sorted(late.copies) == sorted(r["message_id"] for r in rows)
        for row in rows:
            copies = late.copies[row["message_id"]]
            # Stored, answered late (a failed attempt), sent again: the same bytes both times.
            assert len(copies) == 2 and copies[0] == copies[1], row["message_id"]
            assert row["attempts"] >= 2  # the late answer was a failed attempt
    finally:
        late.stop()
