"""P5 across a crash: the notifier SIGKILLed after recording an email as intended and while sending it,
then restarted: the email goes out once. The notifier runs as a real OS process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg

from chassis.devstack import MailSink, free_port, wait_for_port
from contracts.events.common import Locale
from notifier import app
from tests.support.load import budget
from tests.support.waiting import eventually
from tests.test_notifier import Upstream, registered

ROOT = Path(__file__).resolve().parents[1]


def start_notifier(stack, database: str, prefix: str, mail_port: int, log: Path) -> subprocess.Popen[bytes]:
    port = free_port()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=stack.postgres.url_for(database),
        KAFKA_BOOTSTRAP_SERVERS=stack.kafka.bootstrap,
        KAFKA_TOPIC_PREFIX=prefix,
        KAFKA_TOPIC_PARTITIONS="3",
        HTTP_PORT=str(port),
        SMTP_PORT=str(mail_port),
        # The send hangs until the kill: no timeout ends it first.
        SMTP_CONNECT_TIMEOUT_SECONDS="60",
        SMTP_TIMEOUT_SECONDS="60",
        SMTP_SEND_TIMEOUT_SECONDS="60",
        EMAIL_RETRY_CHECK_SECONDS="0.2",
        TRACES_DIR=str(log.parent / "traces"),
        DEV_MODE="true",
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", "from notifier.app import cli; cli()", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, budget(30), proc)
    except BaseException:
        proc.kill()  # not left running when it never became ready (the test's `finally` never sees it)
        proc.wait()
        raise
    return proc


async def test_killed_between_intent_and_send_then_restarted_sends_once(stack, tmp_path):
    database = stack.unique("notifier_kill")
    prefix = stack.unique("nkill") + "."
    await stack.postgres.create_database(database)
    mail_port = free_port()
    log = tmp_path / "notifier.log"

    # An SMTP server that accepts the connection and never answers: the notifier is caught mid-send.
    connections = 0

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await asyncio.sleep(3600)

    hanging = await asyncio.start_server(hang, "127.0.0.1", mail_port)
    proc = start_notifier(stack, database, prefix, mail_port, log)
    db = await asyncpg.connect(stack.postgres.url_for(database))
    sink = MailSink(tmp_path / "mail", mail_port)
    try:
        settings = app.Settings(
            kafka_bootstrap_servers=stack.kafka.bootstrap, kafka_topic_prefix=prefix, kafka_topic_partitions=3
        )
        async with Upstream(settings) as upstream:
            await upstream.publish(registered(Locale.FR))

        async def count(event_type: str) -> int:
            return await db.fetchval("SELECT count(*) FROM events WHERE event_type = $1", event_type)

        await eventually(lambda: _ready(count("EmailIntended"), 2), what="2 emails intended", timeout=30)
        await eventually(lambda: _true(connections >= 1), what="a send under way", timeout=20)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert await count("EmailSent") == 0 and await count("EmailAttemptFailed") == 0

        hanging.close()
        for writer_task in asyncio.all_tasks():
            if writer_task.get_coro().__name__ == "hang":  # type: ignore[union-attr]
                writer_task.cancel()
        await hanging.wait_closed()
        sink.start()
        proc = start_notifier(stack, database, prefix, mail_port, log)
        await eventually(lambda: _ready(count("EmailSent"), 2), what="sent after the restart", timeout=30)
        await asyncio.sleep(1.0)  # a second send would show up by now
        assert await count("EmailSent") == 2
        assert sink.received == 2
        assert len(list(sink.directory.glob("*.eml"))) == 2
    finally:
        await db.close()
        sink.stop()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


async def _ready(value, n: int) -> bool:
    return (await value) >= n


async def _true(value: bool) -> bool:
    return value
