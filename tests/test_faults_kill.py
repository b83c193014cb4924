"""A service SIGKILLed in the middle of a stream of 1,000 commands, then restarted: every event once
in its consumer, nothing half-applied. The service runs as a real OS process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import httpx

from chassis.devstack import free_port, wait_for_port
from tests.support.load import budget
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[1]


def start_process(stack, database: str, prefix: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=stack.postgres.url_for(database),
        KAFKA_BOOTSTRAP_SERVERS=stack.kafka.bootstrap,
        KAFKA_TOPIC_PREFIX=prefix,
        KAFKA_TOPIC_PARTITIONS="3",
        HTTP_PORT=str(port),
        TRACES_DIR=str(log.parent / "traces"),
        DEV_MODE="true",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.chassis_app", "serve"],
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


async def test_a_service_killed_mid_stream_and_restarted_handles_every_event_once(stack, tmp_path):
    database = stack.unique("killed")
    prefix = stack.unique("kill") + "."
    await stack.postgres.create_database(database)
    port = free_port()
    log = tmp_path / "service.log"
    proc = start_process(stack, database, prefix, port, log)
    accepted: set[str] = set()
    sent = 0
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:

            async def client(worker: int, n: int) -> None:
                nonlocal sent
                for i in range(n):
                    sender = f"w{worker}-{i}"
                    sent += 1
                    try:
                        r = await http.post("/sheets", json={"integrator_id": f"i{i % 10}", "sender": sender})
                    except httpx.HTTPError:
                        await asyncio.sleep(0.2)  # the service is down: the client gives up on this one
                        continue
                    if r.status_code == 201:
                        accepted.add(sender)

            workers = [asyncio.create_task(client(w, 125)) for w in range(8)]  # 1,000 commands
            await eventually(lambda: _ready(len(accepted) >= 300), timeout=60, what="300 accepted")
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            await asyncio.sleep(0.5)
            proc = start_process(stack, database, prefix, port, log)
            await asyncio.gather(*workers)
        assert sent == 1000
        conn = await asyncpg.connect(stack.postgres.url_for(database))
        try:
            senders = [r["s"] for r in await conn.fetch("SELECT payload->>'sent_by' AS s FROM events")]
            # Every accepted command is in the log once; a command cut by the kill is there once or not at all.
            assert accepted <= set(senders)
            assert len(senders) == len(set(senders))

            async def all_consumed() -> bool:
                return await conn.fetchval("SELECT count(*) FROM consumed") == len(senders)

            await eventually(all_consumed, timeout=60, what="every event consumed after the restart")
            duplicates = await conn.fetchval(
                "SELECT count(*) FROM (SELECT event_id FROM consumed GROUP BY event_id HAVING count(*) > 1) d"
            )
            assert duplicates == 0
        finally:
            await conn.close()
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)


async def _ready(value: bool) -> bool:
    return value
