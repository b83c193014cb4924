"""Email health while it happens (issue 22, finding 13): an SMTP server that accepts the connection and
never answers is seen within seconds, not when the hang ends.

The SMTP server here is a real socket: an asyncio server in the test that accepts every connection and
never says a word (no greeting). The notifier runs in-process on the real PostgreSQL and broker; its
emails come from registrations published as onboarding's relay would. Then the server comes back (the
SMTP sink on the same port) and every email goes out exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta
from email.message import EmailMessage
from uuid import UUID

import pytest
from prometheus_client.parser import text_string_to_metric_families

from chassis.clock import ManualClock
from chassis.devstack import MailSink, free_port
from contracts.events.common import Locale
from notifier import app
from notifier.mailer import Mailer, SmtpUnreachable
from tests.support.waiting import eventually
from tests.test_notifier import NOW, Upstream, emails, registered
from web import i18n
from web.pages.common import templates

#: Ten integrators registering, two contacts each: twenty welcome emails.
INTEGRATORS = [str(UUID(int=0x0199A000_0000_7000_8000_000000001000 + n)) for n in range(10)]
EMAILS = 2 * len(INTEGRATORS)


class SilentSmtpServer:
    """Accepts every connection and never answers: no greeting, no reply, until it is stopped."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._stopped = asyncio.Event()

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        await self._stopped.wait()
        writer.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._hold, "127.0.0.1", self.port)

    async def stop(self) -> None:
        self._stopped.set()
        if self._server is not None:
            self._server.close()  # no new connection; those held are closed here
        for writer in self._writers:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 5)
        self._writers.clear()
        if self._server is not None:
            await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None


async def status_emails(svc) -> dict:
    r = await svc.http.get("/ops/status", headers=svc.auth("ops"))
    assert r.status_code == 200, r.text
    return r.json().get("emails") or {}


async def gauges(svc) -> dict[str, float]:
    """The notifier's email gauges, summed over templates, as Prometheus scrapes them."""
    text = (await svc.http.get("/metrics")).text
    wanted = {
        "notifier_emails_pending",
        "notifier_emails_retrying",
        "notifier_emails_given_up",
        "notifier_emails_oldest_pending_age_seconds",
    }
    figures: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name in wanted:
            figures[family.name] = sum(s.value for s in family.samples)
    return figures


async def test_an_smtp_server_that_answers_nothing_is_seen_in_seconds_and_every_email_goes_out_once_after(
    service, tmp_path
):
    mail_port = free_port()
    silent = SilentSmtpServer(mail_port)
    sink = MailSink(tmp_path / "mail", mail_port)
    await silent.start()
    clock = ManualClock(NOW)
    try:
        async with (
            service(
                app,
                clock=clock,
                smtp_port=mail_port,
                # The test's own bounds, short; the defaults are in the README (seconds, not minutes).
                smtp_connect_timeout_seconds=1.0,
                smtp_max_attempts=50,  # retried, never given up during the test
                smtp_backoff_seconds=1.0,
                email_retry_check_seconds=0.05,
                metrics_refresh_seconds=0.2,
            ) as svc,
            Upstream(svc.runtime.settings) as upstream,
        ):
            for integrator_id in INTEGRATORS:
                await upstream.publish(registered(Locale.EN), integrator_id=integrator_id)

            async def all_intended():
                return len(await emails(svc)) == EMAILS

            # The consumer's start (its group joining) is not what is measured: from the emails intended.
            await eventually(all_intended, what="every email intended", timeout=30)

            async def every_email_failed_once():
                rows = await emails(svc)
                return (
                    len(rows) == EMAILS and all(r["attempts"] >= 1 and r["last_error"] for r in rows) and rows
                )

            # Every email's failed attempt is recorded within seconds of the server's silence (before:
            # only when the last conversation of the batch timed out, 10 s apiece, 4 at a time).
            rows = await eventually(
                every_email_failed_once, what="every attempt recorded as failed", timeout=6
            )
            assert silent.connections >= 1
            assert all(r["status"] == "intended" for r in rows)

            # Ops see the waiting emails: in /ops/status and in the metrics, all of them (not 1).
            async def status_shows_them():
                figures = await status_emails(svc)
                return figures.get("pending") == EMAILS and figures.get("retrying") == EMAILS and figures

            figures = await eventually(
                status_shows_them, what="/ops/status counting every waiting email", timeout=5
            )
            assert figures["given_up"] == 0
            assert figures["smtp"]["reachable"] is False and figures["smtp"]["last_error"]

            async def metrics_show_them():
                g = await gauges(svc)
                return (
                    g.get("notifier_emails_pending") == EMAILS
                    and g.get("notifier_emails_retrying") == EMAILS
                    and g
                )

            g = await eventually(metrics_show_them, what="the gauges counting every waiting email", timeout=5)
            assert g["notifier_emails_given_up"] == 0

            # The oldest email's wait, by the notifier's clock: what the alert fires on.
            clock.advance(timedelta(seconds=90))
            figures = await status_emails(svc)
            assert 90 <= figures["oldest_pending_seconds"] < 100
            await eventually(
                lambda: _ge(gauges(svc), "notifier_emails_oldest_pending_age_seconds", 90),
                what="the oldest pending age gauge",
                timeout=5,
            )

            # The server comes back: every email goes out, exactly once.
            await silent.stop()
            sink.start()

            async def all_sent():
                clock.advance(timedelta(minutes=10))  # whatever retry each waits for is due
                rows = await emails(svc, status="sent")
                return len(rows) == EMAILS and rows

            await eventually(
                all_sent, what="every email sent once the server answers", timeout=30, interval=0.2
            )
            await asyncio.sleep(0.5)  # a second send of any email would show up by now
            assert sink.received == EMAILS
            assert len(list(sink.directory.glob("*.eml"))) == EMAILS
            sent_events = await svc.runtime.pool.fetchval(
                "SELECT count(*) FROM events WHERE event_type = 'EmailSent'"
            )
            assert sent_events == EMAILS
            figures = await status_emails(svc)
            assert (
                figures["pending"] == 0
                and figures["retrying"] == 0
                and figures["oldest_pending_seconds"] == 0
            )
            assert figures["smtp"]["reachable"] is True
    finally:
        await silent.stop()
        sink.stop()


async def _ge(figures_coro, name: str, floor: float) -> bool:
    return (await figures_coro).get(name, 0) >= floor


def test_the_console_operations_page_shows_the_waiting_emails_and_a_silent_smtp_server():
    """The notifier's /ops/status `emails` part, as the console's operations page reads it (fr, en)."""
    status = {
        "events": 12,
        "emails": {
            "pending": 181,
            "retrying": 181,
            "given_up": 0,
            "oldest_pending_seconds": 74.6,
            "by_template": {},
            "smtp": {
                "reachable": False,
                "last_error": "SMTPConnectTimeoutError: Timed out waiting for server ready message",
                "unreachable_for_seconds": 70.0,
            },
        },
    }
    services = [{"service": "notifier", "down": False, "status": status, "lag": {}, "dead_letters": []}]
    page = templates.get_template("console/operations_live.html")
    shown = {}
    for locale in ("fr", "en"):
        token = i18n.current_locale.set(locale)
        try:
            shown[locale] = page.render(
                alerts=[], prometheus_url=None, services=services, failed_emails=[], refreshed_at=None
            )
        finally:
            i18n.current_locale.reset(token)
    assert (
        "E-mails en attente : 181, dont 181 après une tentative en échec ; le plus ancien depuis 75 s."
        in shown["fr"]
    )
    assert "Serveur SMTP injoignable ou muet : SMTPConnectTimeoutError" in shown["fr"]
    assert "Emails waiting: 181, of which 181 after a failed attempt; the oldest for 75 s." in shown["en"]
    # A notifier that answers its SMTP server says nothing of it; one that is down shows no figures.
    status["emails"]["smtp"] = {"reachable": True, "last_error": None, "unreachable_for_seconds": 0}
    healthy = page.render(
        alerts=[], prometheus_url=None, services=services, failed_emails=[], refreshed_at=None
    )
    assert "SMTP" not in healthy and "181" in healthy
    down = [{"service": "notifier", "down": True}]
    assert "181" not in page.render(
        alerts=[], prometheus_url=None, services=down, failed_emails=[], refreshed_at=None
    )


# --- the mailer's bounds, on real sockets (no stack) -----------------------------------------------------


class SlowSmtpServer:
    """Greets at once, then answers each command after `delay` seconds (or never, when None)."""

    def __init__(self, port: int, delay: float | None) -> None:
        self.port = port
        self.delay = delay
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._stopped = asyncio.Event()

    async def _talk(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        writer.write(b"220 slow.example ESMTP\r\n")
        in_data = False
        with contextlib.suppress(ConnectionError):
            while line := await reader.readline():
                if in_data:
                    if line != b".\r\n":
                        continue
                    in_data = False
                if self.delay is None:
                    await self._stopped.wait()  # never answers
                    break
                await asyncio.sleep(self.delay)
                command = line[:4].upper()
                if command == b"DATA":
                    in_data = True
                    writer.write(b"354 go on\r\n")
                elif command == b"QUIT":
                    writer.write(b"221 bye\r\n")
                else:
                    writer.write(b"250 ok\r\n")
                await writer.drain()
        writer.close()

    async def __aenter__(self) -> SlowSmtpServer:
        self._server = await asyncio.start_server(self._talk, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._stopped.set()
        self._server.close()
        for writer in self._writers:
            writer.close()
        await asyncio.wait_for(self._server.wait_closed(), 5)


def a_message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "noreply@integrator-platform.example"
    message["To"] = "alice@acme.example"
    message["Subject"] = "test"
    message.set_content("test")
    return message


async def test_each_command_and_the_whole_conversation_are_bounded():
    port = free_port()
    settings = app.Settings(
        smtp_port=port,
        smtp_connect_timeout_seconds=1.0,
        smtp_timeout_seconds=0.5,
        smtp_send_timeout_seconds=1.0,
    )
    # Each answer in time (0.3 s < 0.5 s), but the conversation (EHLO, MAIL, RCPT, DATA, end of
    # data: 1.5 s) longer than its bound: a failed attempt after 1 s.
    async with SlowSmtpServer(port, delay=0.3):
        mailer = Mailer(settings)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await mailer.send(a_message(), ["alice@acme.example"])
        assert 0.9 <= time.monotonic() - started < 1.4
        assert mailer.health()["reachable"] is False
        await mailer.close()
    # A command never answered: failed after the command's bound.
    async with SlowSmtpServer(port, delay=None):
        mailer = Mailer(settings)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await mailer.send(a_message(), ["alice@acme.example"])
        assert time.monotonic() - started < 0.9
        await mailer.close()
    # In time: sent, and the server is reachable again.
    async with SlowSmtpServer(port, delay=0.01):
        mailer = Mailer(settings)
        await mailer.send(a_message(), ["alice@acme.example"])
        assert mailer.health() == {"reachable": True, "last_error": None, "unreachable_for_seconds": 0}
        await mailer.close()


async def test_a_silent_server_fails_every_waiting_email_in_one_connect_timeout():
    """Twelve emails at once, four connections: those waiting for a connection fail with the first
    timeouts, not one connect timeout each (3 s); the next email tries the server again."""
    port = free_port()
    silent = SilentSmtpServer(port)
    await silent.start()
    settings = app.Settings(smtp_port=port, smtp_connect_timeout_seconds=1.0, smtp_timeout_seconds=1.0)
    mailer = Mailer(settings)
    try:
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(mailer.send(a_message(), ["alice@acme.example"]) for _ in range(12)), return_exceptions=True
        )
        took = time.monotonic() - started
        assert all(isinstance(o, TimeoutError | ConnectionError) for o in outcomes), outcomes
        assert took < 1.8, f"{took:.1f}s"
        assert silent.connections == 4  # the others were not tried
        assert sum(isinstance(o, SmtpUnreachable) for o in outcomes) == 8
        # The next email is tried (a probe): it waits its own connect timeout.
        with pytest.raises(TimeoutError):
            await mailer.send(a_message(), ["alice@acme.example"])
        assert silent.connections == 5
    finally:
        await mailer.close()
        await silent.stop()
