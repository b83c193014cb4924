"""CPU per email of the notifier's mailer: compose + send N emails to a local MailSink.

The sink runs in a child process so only the notifier's side is measured (process CPU time, all
threads, e.g. aiosmtplib's getfqdn executor). Usage: uv run python services/notifier/bench/mailer_cpu.py [N]
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chassis.devstack import free_port, wait_for_port
from contracts.events.common import Locale
from notifier import mailer
from notifier.domain.emails import intend_emails
from notifier.domain.recipients import IntegratorContacts
from notifier.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from samples import NOW, envelope, mapped_events, registered

SINK = """
import sys, time
from pathlib import Path
from chassis.devstack import MailSink
sink = MailSink(Path(sys.argv[1]), int(sys.argv[2]))
sink.start()
while True:
    time.sleep(3600)
"""


async def measure(port: int, n: int) -> None:
    settings = Settings(smtp_port=port)
    reg = registered(Locale.FR)
    contacts = IntegratorContacts(reg.legal_name, tuple(reg.contacts), Locale.FR)
    intended = []
    while len(intended) < n:
        source = envelope(mapped_events()["IntegratorRegistered"])
        intended += intend_emails(source, integrator=contacts, ticket=None, ops_email=settings.ops_email)
    intended = intended[:n]
    out = mailer.Mailer(settings) if hasattr(mailer, "Mailer") else None

    async def one(email) -> None:
        message = mailer.compose(email, intended_at=NOW, settings=settings)
        if out is not None:
            await out.send(message, email.recipients)
        else:
            await mailer.send(message, email.recipients, settings)

    await one(intended[0])  # warm-up (template compilation, imports)
    cpu, wall = time.process_time(), time.perf_counter()
    for email in intended:
        await one(email)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    c0 = time.process_time()
    for email in intended:
        mailer.compose(email, intended_at=NOW, settings=settings)
    compose_cpu = time.process_time() - c0
    if out is not None:
        await out.close()
    print(
        f"N={n}: {cpu / n * 1000:.2f} ms CPU/email (compose+send), wall {wall / n * 1000:.2f} ms/email;"
        f" compose alone {compose_cpu / n * 1000:.2f} ms CPU/email"
    )


def main(n: int) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        sink = subprocess.Popen([sys.executable, "-c", SINK, tmp, str(port)])
        try:
            wait_for_port(port, 20, sink)
            asyncio.run(measure(port, n))
        finally:
            sink.terminate()
            sink.wait(10)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
