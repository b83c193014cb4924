"""CPU per email of composing (compose + serialise to bytes, what the SMTP client sends): the mailer's
own header encoding against the stdlib's header registry (plain `policy.SMTP` headers:
`message["Subject"] = value`, Address objects), every mapped email in turn, French and English.

Usage: uv run python services/notifier/bench/compose_cpu.py [N]
  N emails per round (2,000); rounds alternate between the two ways, five each; medians are printed.
Issue 18's figures (2-core shared machine): 1.9 ms (own encoding) against 3.8-4.1 ms (registry).
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import Any

from contracts.events.common import Locale
from notifier import mailer
from notifier.domain.emails import intend_emails
from notifier.domain.mapping import MAPPING
from notifier.domain.recipients import IntegratorContacts, TicketRequester
from notifier.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from samples import NOW, envelope, mapped_events, registered

ROUNDS = 5


def intended_emails(settings: Settings, n: int) -> list[Any]:
    requester = TicketRequester("Chloé Requester", "chloe@acme.example", "Caisse bloquée <après mise à jour>")
    every: list[Any] = []
    for locale in (Locale.FR, Locale.EN):
        reg = registered(locale)
        contacts = IntegratorContacts(reg.legal_name, tuple(reg.contacts), locale)
        for event_type in sorted(MAPPING):
            source = envelope(mapped_events()[event_type])
            every += intend_emails(
                source, integrator=contacts, ticket=requester, ops_email=settings.ops_email
            )
    return [every[i % len(every)] for i in range(n)]


@contextlib.contextmanager
def registry_headers() -> Iterator[None]:
    """`mailer.compose` with every header value handed to the header registry as it is."""
    saved = {
        name: getattr(mailer, name) for name in ("SMTP_POLICY", "_Encoded", "_text_header", "_address_header")
    }
    mailer.SMTP_POLICY = policy.SMTP
    mailer._Encoded = str  # type: ignore[misc,assignment]
    mailer._text_header = lambda name, value: mailer.one_line(value)  # type: ignore[assignment]
    mailer._address_header = lambda addresses: addresses  # type: ignore[assignment]
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(mailer, name, value)


def cpu_per_email(emails: list[Any], settings: Settings) -> float:
    started = time.process_time()
    for email in emails:
        mailer.compose(email, intended_at=NOW, settings=settings).as_bytes()
    return (time.process_time() - started) / len(emails)


def main(n: int) -> None:
    settings = Settings()
    emails = intended_emails(settings, n)
    cpu_per_email(emails[:50], settings)  # warm-up: templates compiled, imports done
    own: list[float] = []
    registry: list[float] = []
    for _ in range(ROUNDS):
        own.append(cpu_per_email(emails, settings))
        with registry_headers():
            registry.append(cpu_per_email(emails, settings))
    a, b = statistics.median(own) * 1000, statistics.median(registry) * 1000
    print(f"N={n} x {ROUNDS} rounds, compose + as_bytes, median CPU per email:")
    print(f"  own header encoding: {a:.3f} ms  (rounds {', '.join(f'{x * 1000:.3f}' for x in own)})")
    print(f"  header registry:     {b:.3f} ms  (rounds {', '.join(f'{x * 1000:.3f}' for x in registry)})")
    print(f"  registry costs {b - a:+.3f} ms per email")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
